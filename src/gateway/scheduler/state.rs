//! The scheduler's state under its lock, and what the manifest says about profiles: which
//! profile runs an agent, which one a request switches to.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::super::metrics::Metrics;
use crate::tree::manifest::{Manifest, ManifestAgent, ManifestGateway};

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
    pub(super) fn of(manifest: &Manifest) -> Config {
        let g = manifest.gateway.as_ref();
        let ms = |f: fn(&ManifestGateway) -> u64, default: u64| {
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

/// A request waiting in the queue for its agent to run.
pub(super) struct Waiter {
    pub agent: String,
    pub since: Instant,
    pub reply: oneshot::Sender<Result<(), Refusal>>,
}

pub(super) struct State {
    pub manifest: Arc<Manifest>,
    pub generation: u64,
    pub config: Config,
    /// The profile whose target is active (`None`: none is, or it is unknown).
    pub active: Option<String>,
    /// A decided switch: requests for agents it would stop wait from now on.
    pub target: Option<String>,
    /// When `active` became active.
    pub since: Instant,
    /// The last request for an agent the default profile lacks (the idle clock).
    pub last_summoned: Instant,
    pub in_flight: HashMap<String, usize>,
    pub queue: VecDeque<Waiter>,
    pub metrics: Metrics,
    pub reloaded: Instant,
}

impl State {
    pub fn new(manifest: Manifest, generation: u64, active: Option<String>) -> State {
        let now = Instant::now();
        let config = Config::of(&manifest);
        State {
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
        }
    }

    fn agent(&self, name: &str) -> Option<&ManifestAgent> {
        self.manifest.agent(name)
    }

    pub fn profile_agents(&self, profile: &str) -> Vec<String> {
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

    pub fn in_default(&self, agent: &str) -> bool {
        self.runs(Some(&self.manifest.default_profile), agent)
    }

    /// Running now, and not about to be stopped.
    pub fn can_run(&self, agent: &str) -> bool {
        self.runs(self.active.as_deref(), agent)
            && (self.target.is_none() || self.runs(self.target.as_deref(), agent))
    }

    /// Whether a profile other than the default runs now.
    pub fn summoned(&self) -> bool {
        self.active
            .as_deref()
            .is_some_and(|a| a != self.manifest.default_profile)
    }

    /// The profile a request for `agent` switches to: its `summon`, else the default
    /// profile if it runs it, else the profile that runs it and keeps the most of the
    /// agents running now (the first such, in the stack's order).
    pub fn pick(&self, agent: &str) -> Option<String> {
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

    /// The agents of the running profile that a switch to `profile` stops.
    pub fn stopped_by(&self, profile: &str) -> Vec<String> {
        let keep = self.profile_agents(profile);
        self.active
            .as_deref()
            .map(|a| self.profile_agents(a))
            .unwrap_or_default()
            .into_iter()
            .filter(|a| !keep.contains(a))
            .collect()
    }

    /// Requests being answered now by any of `agents`.
    pub fn busy(&self, agents: &[String]) -> usize {
        agents
            .iter()
            .map(|a| self.in_flight.get(a).copied().unwrap_or(0))
            .sum()
    }

    /// Requests waiting in the queue, by agent (for `/metrics`).
    pub fn waiting(&self) -> HashMap<&str, usize> {
        let mut waiting: HashMap<&str, usize> = HashMap::new();
        for w in &self.queue {
            *waiting.entry(w.agent.as_str()).or_default() += 1;
        }
        waiting
    }

    /// Counts one more request in flight on `agent`.
    pub fn enter(&mut self, agent: &str) {
        *self.in_flight.entry(agent.to_owned()).or_default() += 1;
    }

    /// Counts one request less in flight on `agent`; whether it was its last.
    pub fn leave(&mut self, agent: &str) -> bool {
        match self.in_flight.get_mut(agent) {
            Some(n) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
            None => false,
        }
    }
}

/// A start time whose `hold` has passed already.
pub(super) fn not_held(hold: Duration) -> Instant {
    let now = Instant::now();
    now.checked_sub(hold).unwrap_or(now)
}
