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

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};

use super::metrics::Metrics;
use crate::activate::{self, ApplyContext, ApplyOptions, ProgressMode};
use crate::error::Error;
use crate::tree::manifest::{Manifest, ManifestAgent};

/// The gateway's settings, from the installed manifest.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub idle: Duration,
    pub hold: Duration,
    pub queue: usize,
    pub wait: Duration,
    pub grace: Duration,
}

impl Config {
    fn of(manifest: &Manifest) -> Config {
        let g = manifest.gateway.as_ref();
        let ms = |f: fn(&crate::tree::manifest::ManifestGateway) -> u64, default: u64| {
            Duration::from_millis(g.map_or(default, f))
        };
        use crate::stack::defaults as d;
        Config {
            idle: ms(|g| g.idle_ms, d::GATEWAY_IDLE_MS),
            hold: ms(|g| g.hold_ms, d::GATEWAY_HOLD_MS),
            queue: usize::try_from(g.map_or(d::GATEWAY_QUEUE, |g| g.queue)).unwrap_or(usize::MAX),
            wait: ms(|g| g.wait_ms, d::GATEWAY_WAIT_MS),
            grace: ms(|g| g.grace_ms, d::GATEWAY_GRACE_MS),
        }
    }
}

/// Why a request could not be served: the HTTP layer turns it into a 503.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub agent: String,
    /// `queue_full`, `wait_timeout`, `switch_failed`, `no_profile`.
    pub code: &'static str,
    pub message: String,
}

struct Waiter {
    agent: String,
    since: Instant,
    reply: oneshot::Sender<Result<(), Refusal>>,
}

struct State {
    manifest: Arc<Manifest>,
    generation: u64,
    config: Config,
    /// The profile whose target is active (`None`: none is, or it is unknown).
    active: Option<String>,
    /// A decided switch: requests for agents it would stop wait from now on.
    target: Option<String>,
    /// When `active` became active.
    since: Instant,
    /// The last request for an agent the default profile lacks (the idle clock).
    last_summoned: Instant,
    in_flight: HashMap<String, usize>,
    queue: VecDeque<Waiter>,
    metrics: Metrics,
    reloaded: Instant,
}

/// How often the scheduler looks for a newer generation.
const RELOAD_EVERY: Duration = Duration::from_secs(2);

pub struct Scheduler {
    ctx: ApplyContext,
    state: Mutex<State>,
    /// Something for the scheduler's loop to look at: a new waiter, a finished request.
    wake: Notify,
}

/// One admitted request: counted in flight on its agent until dropped (after the last
/// byte of the response went out).
pub struct Admission {
    scheduler: Arc<Scheduler>,
    agent: String,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut state = self.scheduler.lock();
        if let Some(n) = state.in_flight.get_mut(&self.agent) {
            *n = n.saturating_sub(1);
            // Only a switch waiting for this agent to drain needs to know.
            if *n == 0 && state.target.is_some() {
                drop(state);
                self.scheduler.wake.notify_one();
            }
        }
    }
}

enum Action {
    Sleep(Option<Duration>),
    Switch(String),
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
        let now = Instant::now();
        let config = Config::of(&manifest);
        let scheduler = Arc::new(Scheduler {
            ctx,
            state: Mutex::new(State {
                config,
                manifest: Arc::new(manifest),
                generation,
                active,
                target: None,
                since: not_held(config.hold),
                last_summoned: now,
                in_flight: HashMap::new(),
                queue: VecDeque::new(),
                metrics: Metrics::default(),
                reloaded: now,
            }),
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
        let mut waiting: HashMap<&str, usize> = HashMap::new();
        for w in &state.queue {
            *waiting.entry(w.agent.as_str()).or_default() += 1;
        }
        state.metrics.render(
            &state.manifest,
            state.active.as_deref(),
            &state.in_flight,
            &waiting,
        )
    }

    /// Waits until `agent` may be sent a request (switching profiles if need be).
    pub async fn admit(self: &Arc<Self>, agent: &str) -> Result<Admission, Refusal> {
        let admission = || Admission {
            scheduler: self.clone(),
            agent: agent.to_owned(),
        };
        let reply = {
            let mut state = self.lock();
            let now = Instant::now();
            if !state.in_default(agent) {
                state.last_summoned = now;
            }
            if state.can_run(agent) {
                *state.in_flight.entry(agent.to_owned()).or_default() += 1;
                return Ok(admission());
            }
            if state.queue.len() >= state.config.queue {
                let refusal = Refusal {
                    agent: agent.to_owned(),
                    code: "queue_full",
                    message: format!(
                        "{} requests already wait for a profile switch (the gateway's queue)",
                        state.queue.len()
                    ),
                };
                state.metrics.error(agent, refusal.code);
                return Err(refusal);
            }
            let (reply, receive) = oneshot::channel();
            state.queue.push_back(Waiter {
                agent: agent.to_owned(),
                since: now,
                reply,
            });
            (receive, state.config.wait)
        };
        self.wake.notify_one();
        let (receive, wait) = reply;
        let result = match tokio::time::timeout(wait, receive).await {
            Ok(Ok(Ok(()))) => Ok(admission()),
            Ok(Ok(Err(refusal))) => Err(refusal),
            // Timed out (the waiter's sender is dropped by the next look at the queue),
            // or the scheduler is gone.
            _ => Err(Refusal {
                agent: agent.to_owned(),
                code: "wait_timeout",
                message: format!(
                    "agent {agent} was not running within the gateway's wait ({}s)",
                    wait.as_secs()
                ),
            }),
        };
        if let Err(refusal) = &result {
            self.lock().metrics.error(agent, refusal.code);
        }
        result
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

    async fn switch(self: &Arc<Self>, profile: String) {
        let (stopping, grace, previous) = {
            let mut state = self.lock();
            state.target = Some(profile.clone());
            let keep = state.profile_agents(&profile);
            let stopping: Vec<String> = state
                .active
                .as_deref()
                .map(|a| state.profile_agents(a))
                .unwrap_or_default()
                .into_iter()
                .filter(|a| !keep.contains(a))
                .collect();
            (stopping, state.config.grace, state.active.clone())
        };
        // Let requests in flight on the agents that stop finish, for up to `grace`.
        let deadline = Instant::now() + grace;
        loop {
            let busy: usize = {
                let state = self.lock();
                stopping
                    .iter()
                    .map(|a| state.in_flight.get(a).copied().unwrap_or(0))
                    .sum()
            };
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
                // The switch rolled back to the generation's own profile; put back the one
                // that ran before when that was another (a summoned one).
                let ctx = self.ctx.clone();
                let restored = blocking(move || {
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
                .await;
                let mut state = self.lock();
                state.metrics.switch(&profile, "failed", elapsed);
                state.active = restored.unwrap_or(None);
                state.target = None;
                state.since = Instant::now();
                // Everyone waiting for an agent that is still not running gets the reason.
                let waiting = std::mem::take(&mut state.queue);
                for waiter in waiting {
                    if state.can_run(&waiter.agent) {
                        state.queue.push_back(waiter);
                        continue;
                    }
                    let refusal = Refusal {
                        agent: agent.clone().unwrap_or_else(|| waiter.agent.clone()),
                        code: "switch_failed",
                        message: reason.clone(),
                    };
                    let _ = waiter.reply.send(Err(refusal));
                }
            }
        }
    }
}

impl State {
    fn agent(&self, name: &str) -> Option<&ManifestAgent> {
        self.manifest.agent(name)
    }

    fn profile_agents(&self, profile: &str) -> Vec<String> {
        self.manifest
            .profile(profile)
            .map(|p| p.agents.clone())
            .unwrap_or_default()
    }

    fn runs(&self, profile: Option<&str>, agent: &str) -> bool {
        profile
            .and_then(|p| self.manifest.profile(p))
            .is_some_and(|p| p.agents.iter().any(|a| a == agent))
    }

    fn in_default(&self, agent: &str) -> bool {
        self.runs(Some(&self.manifest.default_profile), agent)
    }

    /// Running now, and not about to be stopped.
    fn can_run(&self, agent: &str) -> bool {
        self.runs(self.active.as_deref(), agent)
            && (self.target.is_none() || self.runs(self.target.as_deref(), agent))
    }

    /// The profile a request for `agent` switches to: its `summon`, else the default
    /// profile if it runs it, else the profile that runs it and keeps the most of the
    /// agents running now (the first such, in the stack's order).
    fn pick(&self, agent: &str) -> Option<String> {
        let summon = self.agent(agent).and_then(|a| a.summon.clone());
        if let Some(p) = summon.filter(|p| self.runs(Some(p), agent)) {
            return Some(p);
        }
        if self.in_default(agent) {
            return Some(self.manifest.default_profile.clone());
        }
        let running = self
            .active
            .as_deref()
            .map(|a| self.profile_agents(a))
            .unwrap_or_default();
        let mut best: Option<(usize, &str)> = None;
        for profile in &self.manifest.profiles {
            if !profile.agents.iter().any(|a| a == agent) {
                continue;
            }
            let kept = profile
                .agents
                .iter()
                .filter(|a| running.contains(a))
                .count();
            if best.is_none_or(|(k, _)| kept > k) {
                best = Some((kept, &profile.name));
            }
        }
        best.map(|(_, p)| p.to_owned())
    }

    fn decide(&mut self, now: Instant) -> Action {
        // Release everyone the running profile serves (a batch), in order.
        let waiting = std::mem::take(&mut self.queue);
        for waiter in waiting {
            if waiter.reply.is_closed() {
                continue;
            }
            if self.can_run(&waiter.agent) {
                *self.in_flight.entry(waiter.agent.clone()).or_default() += 1;
                self.metrics.waited(&waiter.agent, now - waiter.since);
                let agent = waiter.agent.clone();
                if waiter.reply.send(Ok(())).is_err() {
                    if let Some(n) = self.in_flight.get_mut(&agent) {
                        *n = n.saturating_sub(1);
                    }
                }
            } else {
                self.queue.push_back(waiter);
            }
        }
        let summoned = self
            .active
            .as_deref()
            .is_some_and(|a| a != self.manifest.default_profile);
        let held_until = self.since + self.config.hold;
        while let Some(head) = self.queue.front() {
            let Some(profile) = self.pick(&head.agent) else {
                let Some(waiter) = self.queue.pop_front() else {
                    break;
                };
                let refusal = Refusal {
                    agent: waiter.agent.clone(),
                    code: "no_profile",
                    message: format!("agent {} is in no profile", waiter.agent),
                };
                let _ = waiter.reply.send(Err(refusal));
                continue;
            };
            if summoned && now < held_until {
                return Action::Sleep(Some(held_until - now));
            }
            return Action::Switch(profile);
        }
        if summoned {
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
            return Action::Sleep(Some(idle_at - now));
        }
        Action::Sleep(None)
    }
}

/// A start time whose `hold` has passed already.
fn not_held(hold: Duration) -> Instant {
    let now = Instant::now();
    now.checked_sub(hold).unwrap_or(now)
}

fn quiet() -> ApplyOptions {
    ApplyOptions {
        progress: ProgressMode::Quiet,
        ..ApplyOptions::default()
    }
}

/// The first agent an activation failure names.
fn failing_agent(error: &Error) -> Option<String> {
    match error {
        Error::UnitsFailed(failure) => failure.failures.iter().find_map(|f| f.agent.clone()),
        _ => None,
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
mod tests {
    use super::*;
    use crate::tree::manifest::ManifestProfile;

    fn state(active: Option<&str>) -> State {
        let agent = |name: &str, summon: Option<&str>| ManifestAgent {
            name: name.into(),
            unit: format!("s-{name}.service"),
            port: 1,
            summon: summon.map(str::to_owned),
            ..Default::default()
        };
        let profile = |name: &str, agents: &[&str]| ManifestProfile {
            name: name.into(),
            target: format!("s-{name}.target"),
            agents: agents.iter().map(|a| (*a).to_owned()).collect(),
        };
        let manifest = Manifest {
            generator: "test".into(),
            stack: "s".into(),
            default_profile: "standard".into(),
            profiles: vec![
                profile("standard", &["thor", "valkyrie"]),
                profile("big", &["odin"]),
                profile("odin", &["thor", "odin"]),
                profile("night", &["loki", "odin"]),
            ],
            agents: vec![
                agent("thor", None),
                agent("valkyrie", None),
                agent("odin", None),
                agent("loki", Some("night")),
            ],
            files: Default::default(),
            swap: None,
            gateway: None,
        };
        let now = Instant::now();
        State {
            config: Config::of(&manifest),
            manifest: Arc::new(manifest),
            generation: 1,
            active: active.map(str::to_owned),
            target: None,
            since: now,
            last_summoned: now,
            in_flight: HashMap::new(),
            queue: VecDeque::new(),
            metrics: Metrics::default(),
            reloaded: now,
        }
    }

    #[test]
    fn the_profile_a_request_picks() {
        let s = state(Some("standard"));
        assert_eq!(
            s.pick("valkyrie").as_deref(),
            Some("standard"),
            "the default has it"
        );
        assert_eq!(s.pick("loki").as_deref(), Some("night"), "its summon");
        // odin runs in big, odin and night: odin keeps thor running.
        assert_eq!(
            s.pick("odin").as_deref(),
            Some("odin"),
            "keeps the most running"
        );
        let s = state(Some("night"));
        assert_eq!(s.pick("odin").as_deref(), Some("night"));
        let s = state(None);
        assert_eq!(
            s.pick("odin").as_deref(),
            Some("big"),
            "nothing runs: the first"
        );
        assert_eq!(s.pick("nobody"), None);
    }

    #[test]
    fn a_decided_switch_stops_new_requests_for_what_it_stops() {
        let mut s = state(Some("standard"));
        assert!(s.can_run("thor") && s.can_run("valkyrie") && !s.can_run("odin"));
        s.target = Some("odin".into());
        assert!(s.can_run("thor"), "in both profiles: keeps flowing");
        assert!(!s.can_run("valkyrie"), "stopped by the switch: waits");
    }

    #[test]
    fn hold_then_idle() {
        let mut s = state(Some("odin"));
        s.config.hold = Duration::from_secs(60);
        s.config.idle = Duration::from_secs(120);
        let now = Instant::now();
        s.since = now;
        s.last_summoned = now;
        let (reply, _receive) = oneshot::channel();
        s.queue.push_back(Waiter {
            agent: "valkyrie".into(),
            since: now,
            reply,
        });
        // Held: the waiter for standard sleeps until hold ends.
        assert!(matches!(s.decide(now), Action::Sleep(Some(d)) if d == Duration::from_secs(60)));
        assert!(
            matches!(s.decide(now + Duration::from_secs(60)), Action::Switch(p) if p == "standard")
        );
        s.queue.clear();
        // No waiter: idle counts from the last request for odin.
        assert!(
            matches!(s.decide(now + Duration::from_secs(60)), Action::Sleep(Some(d)) if d == Duration::from_secs(60))
        );
        assert!(
            matches!(s.decide(now + Duration::from_secs(120)), Action::Switch(p) if p == "standard")
        );
    }
}
