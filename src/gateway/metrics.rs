//! The gateway's Prometheus metrics (text format 0.0.4), counted under the scheduler's lock.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use crate::tree::manifest::Manifest;

#[derive(Debug, Default)]
pub struct Metrics {
    /// (agent, HTTP status) → requests answered.
    requests: BTreeMap<(String, u16), u64>,
    /// agent → (seconds waited in the queue, requests that waited).
    waits: BTreeMap<String, (f64, u64)>,
    /// (profile, `ok` | `failed`) → (switches, seconds they took).
    switches: BTreeMap<(String, &'static str), (u64, f64)>,
    /// (agent, reason) → requests refused.
    errors: BTreeMap<(String, &'static str), u64>,
}

impl Metrics {
    pub fn request(&mut self, agent: &str, status: u16) {
        *self.requests.entry((agent.to_owned(), status)).or_default() += 1;
    }

    pub fn waited(&mut self, agent: &str, wait: Duration) {
        let entry = self.waits.entry(agent.to_owned()).or_default();
        entry.0 += wait.as_secs_f64();
        entry.1 += 1;
    }

    pub fn switch(&mut self, profile: &str, result: &'static str, took: Duration) {
        let entry = self
            .switches
            .entry((profile.to_owned(), result))
            .or_default();
        entry.0 += 1;
        entry.1 += took.as_secs_f64();
    }

    pub fn error(&mut self, agent: &str, reason: &'static str) {
        *self.errors.entry((agent.to_owned(), reason)).or_default() += 1;
    }

    pub fn render(
        &self,
        manifest: &Manifest,
        active: Option<&str>,
        in_flight: &HashMap<String, usize>,
        waiting: &HashMap<&str, usize>,
    ) -> String {
        let mut text = String::new();
        let mut section = |name: &str, kind: &str, help: &str, rows: Vec<String>| {
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for row in rows {
                let _ = writeln!(text, "{name}{row}");
            }
        };
        section(
            "strixc_gateway_requests_total",
            "counter",
            "Requests answered, by agent and HTTP status.",
            self.requests
                .iter()
                .map(|((a, s), c)| format!("{{agent=\"{a}\",status=\"{s}\"}} {c}"))
                .collect(),
        );
        section(
            "strixc_gateway_queue_wait_seconds_sum",
            "counter",
            "Seconds requests waited for their agent (a profile switch), by agent.",
            self.waits
                .iter()
                .map(|(a, (s, _))| format!("{{agent=\"{a}\"}} {s}"))
                .collect(),
        );
        section(
            "strixc_gateway_queue_wait_seconds_count",
            "counter",
            "Requests that waited for their agent, by agent.",
            self.waits
                .iter()
                .map(|(a, (_, c))| format!("{{agent=\"{a}\"}} {c}"))
                .collect(),
        );
        section(
            "strixc_gateway_switches_total",
            "counter",
            "Profile switches, by profile and result.",
            self.switches
                .iter()
                .map(|((p, r), (c, _))| format!("{{profile=\"{p}\",result=\"{r}\"}} {c}"))
                .collect(),
        );
        section(
            "strixc_gateway_switch_seconds_sum",
            "counter",
            "Seconds spent switching, by profile and result.",
            self.switches
                .iter()
                .map(|((p, r), (_, s))| format!("{{profile=\"{p}\",result=\"{r}\"}} {s}"))
                .collect(),
        );
        section(
            "strixc_gateway_errors_total",
            "counter",
            "Requests refused, by agent and reason.",
            self.errors
                .iter()
                .map(|((a, r), c)| format!("{{agent=\"{a}\",reason=\"{r}\"}} {c}"))
                .collect(),
        );
        let per_agent = |counts: &dyn Fn(&str) -> usize| {
            manifest
                .agents
                .iter()
                .map(|a| format!("{{agent=\"{}\"}} {}", a.name, counts(&a.name)))
                .collect::<Vec<_>>()
        };
        section(
            "strixc_gateway_in_flight",
            "gauge",
            "Requests being served, by agent.",
            per_agent(&|a| in_flight.get(a).copied().unwrap_or(0)),
        );
        section(
            "strixc_gateway_waiting",
            "gauge",
            "Requests waiting for a profile switch, by agent.",
            per_agent(&|a| waiting.get(a).copied().unwrap_or(0)),
        );
        section(
            "strixc_gateway_active_profile",
            "gauge",
            "1 for the profile running now.",
            manifest
                .profiles
                .iter()
                .map(|p| {
                    let on = u8::from(active == Some(p.name.as_str()));
                    format!("{{profile=\"{}\"}} {on}", p.name)
                })
                .collect(),
        );
        text
    }
}
