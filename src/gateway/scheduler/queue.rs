//! Admission: a request runs at once when its agent does, else it waits in the bounded FIFO
//! queue until a switch runs its agent (released as a batch) or its wait runs out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Scheduler;
use super::state::{Refusal, State, Waiter};

/// One admitted request: counted in flight on its agent until dropped (after the last
/// byte of the response went out).
pub struct Admission {
    scheduler: Arc<Scheduler>,
    agent: String,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut state = self.scheduler.lock();
        // Only a switch waiting for this agent to drain needs to know.
        if state.leave(&self.agent) && state.target.is_some() {
            drop(state);
            self.scheduler.wake.notify_one();
        }
    }
}

type Reply = oneshot::Receiver<Result<(), Refusal>>;

impl Scheduler {
    /// Waits until `agent` may be sent a request (switching profiles if need be).
    pub async fn admit(self: &Arc<Self>, agent: &str) -> Result<Admission, Refusal> {
        let admission = || Admission {
            scheduler: self.clone(),
            agent: agent.to_owned(),
        };
        let (receive, wait) = match self.lock().enqueue(agent) {
            Enqueued::Running => return Ok(admission()),
            Enqueued::Refused(refusal) => return Err(refusal),
            Enqueued::Waiting(receive, wait) => (receive, wait),
        };
        self.wake.notify_one();
        let result = match tokio::time::timeout(wait, receive).await {
            Ok(Ok(Ok(()))) => Ok(admission()),
            Ok(Ok(Err(refusal))) => Err(refusal),
            // Timed out (the waiter's sender is dropped by the next look at the queue),
            // or the scheduler is gone.
            _ => Err(timed_out(agent, wait)),
        };
        if let Err(refusal) = &result {
            self.lock().metrics.error(agent, refusal.code);
        }
        result
    }
}

/// What became of a new request.
enum Enqueued {
    /// Its agent runs: counted in flight already.
    Running,
    Refused(Refusal),
    /// In the queue: the answer comes on the channel, within the wait.
    Waiting(Reply, Duration),
}

impl State {
    fn enqueue(&mut self, agent: &str) -> Enqueued {
        let now = Instant::now();
        if !self.in_default(agent) {
            self.last_summoned = now;
        }
        if self.can_run(agent) {
            self.enter(agent);
            return Enqueued::Running;
        }
        if self.queue.len() >= self.config.queue {
            let refusal = Refusal {
                agent: agent.to_owned(),
                code: "queue_full",
                message: format!(
                    "{} requests already wait for a profile switch (the gateway's queue)",
                    self.queue.len()
                ),
            };
            self.metrics.error(agent, refusal.code);
            return Enqueued::Refused(refusal);
        }
        let (reply, receive) = oneshot::channel();
        self.queue.push_back(Waiter {
            agent: agent.to_owned(),
            since: now,
            reply,
        });
        Enqueued::Waiting(receive, self.config.wait)
    }

    /// Releases everyone the running profile serves (a batch), in order; drops waiters
    /// that gave up.
    pub(super) fn release(&mut self, now: Instant) {
        let waiting = std::mem::take(&mut self.queue);
        for waiter in waiting {
            if waiter.reply.is_closed() {
                continue;
            }
            if !self.can_run(&waiter.agent) {
                self.queue.push_back(waiter);
                continue;
            }
            self.enter(&waiter.agent);
            self.metrics.waited(&waiter.agent, now - waiter.since);
            if waiter.reply.send(Ok(())).is_err() {
                self.leave(&waiter.agent);
            }
        }
    }

    /// Answers `refusal(waiter)` to every waiter whose agent still does not run.
    pub(super) fn refuse_waiting(&mut self, refusal: impl Fn(&Waiter) -> Refusal) {
        let waiting = std::mem::take(&mut self.queue);
        for waiter in waiting {
            if self.can_run(&waiter.agent) {
                self.queue.push_back(waiter);
                continue;
            }
            let refused = refusal(&waiter);
            let _ = waiter.reply.send(Err(refused));
        }
    }
}

fn timed_out(agent: &str, wait: Duration) -> Refusal {
    Refusal {
        agent: agent.to_owned(),
        code: "wait_timeout",
        message: format!(
            "agent {agent} was not running within the gateway's wait ({}s)",
            wait.as_secs()
        ),
    }
}
