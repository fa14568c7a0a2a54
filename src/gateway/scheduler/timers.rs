//! What the scheduler's loop does next: switch for the queue's head once `hold` has passed,
//! go back to the default profile after `idle`, or sleep until one of those is due.

use std::time::{Duration, Instant};

use super::state::{Refusal, State};

pub(super) enum Action {
    Sleep(Option<Duration>),
    Switch(String),
}

impl State {
    pub(super) fn decide(&mut self, now: Instant) -> Action {
        self.release(now);
        let held_until = self.since + self.config.hold;
        if let Some(profile) = self.next_profile() {
            if self.summoned() && now < held_until {
                return Action::Sleep(Some(held_until - now));
            }
            return Action::Switch(profile);
        }
        if self.summoned() {
            return self.idle(now, held_until);
        }
        Action::Sleep(None)
    }

    /// The profile the queue's head asks for; a head whose agent is in no profile is
    /// refused and the next one looked at.
    fn next_profile(&mut self) -> Option<String> {
        while let Some(head) = self.queue.front() {
            if let Some(profile) = self.pick(&head.agent) {
                return Some(profile);
            }
            let waiter = self.queue.pop_front()?;
            let refusal = Refusal {
                agent: waiter.agent.clone(),
                code: "no_profile",
                message: format!("agent {} is in no profile", waiter.agent),
            };
            let _ = waiter.reply.send(Err(refusal));
        }
        None
    }

    /// A summoned profile with nobody waiting: back to the default after `idle` without a
    /// request for its own agents (and not before `hold` ends).
    fn idle(&mut self, now: Instant, held_until: Instant) -> Action {
        // A summoned agent still answering (a long stream) is not idle.
        let busy = self
            .in_flight
            .iter()
            .any(|(agent, n)| *n > 0 && !self.in_default(agent));
        if busy {
            self.last_summoned = now;
        }
        let idle_at = (self.last_summoned + self.config.idle).max(held_until);
        if now >= idle_at {
            return Action::Switch(self.manifest.default_profile.clone());
        }
        Action::Sleep(Some(idle_at - now))
    }
}
