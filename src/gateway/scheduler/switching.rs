//! A profile switch: drain the agents it stops (up to `grace`), activate the profile as
//! `strixc apply --profile` does, and on failure put back what ran and tell the waiters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::state::Refusal;
use super::{Scheduler, blocking, quiet};
use crate::activate;
use crate::error::Error;

impl Scheduler {
    pub(super) async fn switch(self: &Arc<Self>, profile: String) {
        let (stopping, grace, previous) = {
            let mut state = self.lock();
            state.target = Some(profile.clone());
            let stopping = state.stopped_by(&profile);
            (stopping, state.config.grace, state.active.clone())
        };
        self.drain(&stopping, grace).await;
        let ctx = self.ctx.clone();
        let name = profile.clone();
        let started = Instant::now();
        let outcome =
            blocking(move || activate::switch_profile(&ctx, &name, &quiet()).map(|_| ())).await;
        let elapsed = started.elapsed();
        match outcome {
            Ok(()) => {
                let mut state = self.lock();
                let now = Instant::now();
                state.active = Some(profile.clone());
                state.target = None;
                state.since = now;
                state.last_summoned = now;
                state.metrics.switch(&profile, "ok", elapsed);
            }
            Err(error) => {
                let agent = failing_agent(&error);
                let reason = format!("switching to profile {profile} failed: {error}");
                self.failed(&profile, agent, reason, previous, elapsed)
                    .await;
            }
        }
    }

    /// Lets requests in flight on the agents that stop finish, for up to `grace`.
    async fn drain(&self, stopping: &[String], grace: Duration) {
        let deadline = Instant::now() + grace;
        loop {
            let busy = self.lock().busy(stopping);
            let now = Instant::now();
            if busy == 0 || now >= deadline {
                break;
            }
            let _ = tokio::time::timeout(
                (deadline - now).min(Duration::from_millis(100)),
                self.wake.notified(),
            )
            .await;
        }
    }

    /// After a failed switch to `profile`: what runs now, and `reason` for the waiters.
    async fn failed(
        &self,
        profile: &str,
        agent: Option<String>,
        reason: String,
        previous: Option<String>,
        elapsed: Duration,
    ) {
        let restored = self.restore(previous).await;
        let mut state = self.lock();
        state.metrics.switch(profile, "failed", elapsed);
        state.active = restored.unwrap_or(None);
        state.target = None;
        state.since = Instant::now();
        // Everyone waiting for an agent that is still not running gets the reason.
        state.refuse_waiting(|waiter| Refusal {
            agent: agent.clone().unwrap_or_else(|| waiter.agent.clone()),
            code: "switch_failed",
            message: reason.clone(),
        });
    }

    /// The switch rolled back to the generation's own profile; put back the one that ran
    /// before when that was another (a summoned one). The profile running after.
    async fn restore(&self, previous: Option<String>) -> Result<Option<String>, Error> {
        let ctx = self.ctx.clone();
        blocking(move || {
            let (_, manifest) = activate::installed_manifest(&ctx)?;
            let now = activate::active_profile(&ctx, &manifest)?;
            match previous {
                Some(p) if now.as_deref() != Some(p.as_str()) => {
                    activate::switch_profile(&ctx, &p, &quiet())?;
                    Ok(Some(p))
                }
                _ => Ok(now),
            }
        })
        .await
    }
}

/// The first agent an activation failure names.
fn failing_agent(error: &Error) -> Option<String> {
    match error {
        Error::UnitsFailed(failure) => failure.failures.iter().find_map(|f| f.agent.clone()),
        _ => None,
    }
}
