//! Who may run now, and when to switch.
//!
//! llama-swap's rules, with strixc's profiles choosing what runs together:
//! - a request for an agent of the running profile goes straight through, unless a switch
//!   that would stop its agent has been decided (then it waits, so the switch is not
//!   starved by a stream of requests for the agents it stops);
//! - otherwise it waits in one bounded FIFO queue; the queue's head decides the next
//!   profile, and one switch serves every waiting request that profile runs (a batch);
//! - a switch first lets requests in flight on the agents it stops finish (up to `grace`);
//! - a summoned profile (any but the default) stays at least `hold`, and after `idle`
//!   without a request for one of its own agents the default profile comes back.

mod queue;
mod state;
mod switching;
mod timers;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::activate::{self, ApplyContext, ApplyOptions, ProgressMode};
use crate::error::Error;
use crate::tree::manifest::Manifest;
pub use queue::Admission;
pub use state::{Config, Refusal};
use state::{State, not_held};
use timers::Action;

/// How often the scheduler looks for a newer generation.
const RELOAD_EVERY: Duration = Duration::from_secs(2);

pub struct Scheduler {
    ctx: ApplyContext,
    state: Mutex<State>,
    /// Something for the scheduler's loop to look at: a new waiter, a finished request.
    wake: Notify,
}

impl Scheduler {
    /// Reads the installed manifest and the running profile, and starts the loop.
    pub async fn start(ctx: ApplyContext) -> Result<Arc<Scheduler>, Error> {
        let probe = ctx.clone();
        let (generation, manifest, active) = blocking(move || {
            let (generation, manifest) = activate::installed_manifest(&probe)?;
            let active = activate::active_profile(&probe, &manifest)?;
            Ok((generation, manifest, active))
        })
        .await?;
        let scheduler = Arc::new(Scheduler {
            ctx,
            state: Mutex::new(State::new(manifest, generation, active)),
            wake: Notify::new(),
        });
        tokio::spawn(scheduler.clone().run());
        Ok(scheduler)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn manifest(&self) -> Arc<Manifest> {
        self.lock().manifest.clone()
    }

    /// Records a finished request for `/metrics`.
    pub fn record(&self, agent: &str, status: u16) {
        self.lock().metrics.request(agent, status);
    }

    pub fn metrics_text(&self) -> String {
        let state = self.lock();
        state.metrics.render(
            &state.manifest,
            state.active.as_deref(),
            &state.in_flight,
            &state.waiting(),
        )
    }

    /// Asks systemd which profile runs (someone may have switched with `strixc apply`, or
    /// an agent stopped), unless a switch of ours is under way.
    pub async fn refresh_active(&self) {
        let (ctx, manifest) = (self.ctx.clone(), self.manifest());
        let Ok(active) = blocking(move || activate::active_profile(&ctx, &manifest)).await else {
            return;
        };
        let mut state = self.lock();
        if state.target.is_none() && state.active != active {
            state.active = active;
            // `hold` protects what the gateway summoned, not a switch made by someone else.
            state.since = not_held(state.config.hold);
        }
    }

    async fn run(self: Arc<Self>) {
        loop {
            self.reload_if_new().await;
            let action = self.lock().decide(Instant::now());
            match action {
                Action::Sleep(Some(d)) => {
                    let _ = tokio::time::timeout(d, self.wake.notified()).await;
                }
                Action::Sleep(None) => self.wake.notified().await,
                Action::Switch(profile) => self.switch(profile).await,
            }
        }
    }

    /// A new `strixc apply` may have installed another generation: read its manifest (at
    /// most every few seconds, not on every request).
    async fn reload_if_new(&self) {
        {
            let mut state = self.lock();
            if state.reloaded.elapsed() < RELOAD_EVERY {
                return;
            }
            state.reloaded = Instant::now();
        }
        let probe = self.ctx.clone();
        let Ok(Ok((generation, manifest))) =
            tokio::task::spawn_blocking(move || activate::installed_manifest(&probe)).await
        else {
            return;
        };
        let mut state = self.lock();
        if generation != state.generation || *state.manifest != manifest {
            state.config = Config::of(&manifest);
            state.manifest = Arc::new(manifest);
            state.generation = generation;
        }
    }
}

fn quiet() -> ApplyOptions {
    ApplyOptions {
        progress: ProgressMode::Quiet,
        ..ApplyOptions::default()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::Generation(format!("the switch task failed: {e}"))))
}

#[cfg(test)]
mod tests;
