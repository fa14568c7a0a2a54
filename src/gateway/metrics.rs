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
        let now = Live {
            counts: self,
            manifest,
            active,
            in_flight,
            waiting,
        };
        let mut text = String::new();
        for family in &FAMILIES {
            let name = family.name;
            let _ = writeln!(
                text,
                "# HELP {name} {}\n# TYPE {name} {}",
                family.help, family.kind
            );
            for row in (family.rows)(&now) {
                let _ = writeln!(text, "{name}{row}");
            }
        }
        text
    }
}

/// What `/metrics` shows: the counts, and the gauges read under the scheduler's lock.
struct Live<'a> {
    counts: &'a Metrics,
    manifest: &'a Manifest,
    active: Option<&'a str>,
    in_flight: &'a HashMap<String, usize>,
    waiting: &'a HashMap<&'a str, usize>,
}

impl Live<'_> {
    /// One row per agent of the stack, `count` of it.
    fn per_agent(&self, count: impl Fn(&str) -> usize) -> Vec<String> {
        self.manifest
            .agents
            .iter()
            .map(|a| format!("{{agent=\"{}\"}} {}", a.name, count(&a.name)))
            .collect()
    }
}

/// One metric family: its name, type, help and rows (labels and value, after the name).
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    rows: fn(&Live) -> Vec<String>,
}

const fn counter(name: &'static str, help: &'static str, rows: fn(&Live) -> Vec<String>) -> Family {
    Family {
        name,
        kind: "counter",
        help,
        rows,
    }
}

const fn gauge(name: &'static str, help: &'static str, rows: fn(&Live) -> Vec<String>) -> Family {
    Family {
        name,
        kind: "gauge",
        help,
        rows,
    }
}

/// One row per entry of `counts`, `row` giving its labels and value.
fn rows<K, V>(counts: &BTreeMap<K, V>, row: impl Fn(&K, &V) -> String) -> Vec<String> {
    counts.iter().map(|(k, v)| row(k, v)).collect()
}

/// Every family, in the order `/metrics` prints them.
const FAMILIES: [Family; 9] = [
    counter(
        "strixc_gateway_requests_total",
        "Requests answered, by agent and HTTP status.",
        |m| {
            rows(&m.counts.requests, |(a, s), c| {
                format!("{{agent=\"{a}\",status=\"{s}\"}} {c}")
            })
        },
    ),
    counter(
        "strixc_gateway_queue_wait_seconds_sum",
        "Seconds requests waited for their agent (a profile switch), by agent.",
        |m| {
            rows(&m.counts.waits, |a, (s, _)| {
                format!("{{agent=\"{a}\"}} {s}")
            })
        },
    ),
    counter(
        "strixc_gateway_queue_wait_seconds_count",
        "Requests that waited for their agent, by agent.",
        |m| {
            rows(&m.counts.waits, |a, (_, c)| {
                format!("{{agent=\"{a}\"}} {c}")
            })
        },
    ),
    counter(
        "strixc_gateway_switches_total",
        "Profile switches, by profile and result.",
        |m| {
            rows(&m.counts.switches, |(p, r), (c, _)| {
                format!("{{profile=\"{p}\",result=\"{r}\"}} {c}")
            })
        },
    ),
    counter(
        "strixc_gateway_switch_seconds_sum",
        "Seconds spent switching, by profile and result.",
        |m| {
            rows(&m.counts.switches, |(p, r), (_, s)| {
                format!("{{profile=\"{p}\",result=\"{r}\"}} {s}")
            })
        },
    ),
    counter(
        "strixc_gateway_errors_total",
        "Requests refused, by agent and reason.",
        |m| {
            rows(&m.counts.errors, |(a, r), c| {
                format!("{{agent=\"{a}\",reason=\"{r}\"}} {c}")
            })
        },
    ),
    gauge(
        "strixc_gateway_in_flight",
        "Requests being served, by agent.",
        |m| m.per_agent(|a| m.in_flight.get(a).copied().unwrap_or(0)),
    ),
    gauge(
        "strixc_gateway_waiting",
        "Requests waiting for a profile switch, by agent.",
        |m| m.per_agent(|a| m.waiting.get(a).copied().unwrap_or(0)),
    ),
    gauge(
        "strixc_gateway_active_profile",
        "1 for the profile running now.",
        |m| {
            let profiles = m.manifest.profiles.iter();
            profiles
                .map(|p| {
                    let on = u8::from(m.active == Some(p.name.as_str()));
                    format!("{{profile=\"{}\"}} {on}", p.name)
                })
                .collect()
        },
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::manifest::{ManifestAgent, ManifestProfile};

    #[test]
    fn renders_every_family_in_order() {
        let agent = |name: &str| ManifestAgent {
            name: name.into(),
            ..Default::default()
        };
        let profile = |name: &str| ManifestProfile {
            name: name.into(),
            target: format!("s-{name}.target"),
            agents: Vec::new(),
        };
        let manifest = Manifest {
            generator: "test".into(),
            stack: "s".into(),
            default_profile: "standard".into(),
            profiles: vec![profile("standard"), profile("odin")],
            agents: vec![agent("thor"), agent("odin")],
            files: Default::default(),
            swap: None,
            gateway: None,
        };
        let mut m = Metrics::default();
        m.request("thor", 200);
        m.request("thor", 200);
        m.waited("thor", Duration::from_millis(1500));
        m.switch("odin", "ok", Duration::from_secs(2));
        m.error("odin", "queue_full");
        let in_flight = HashMap::from([("thor".to_owned(), 1)]);
        let waiting = HashMap::from([("odin", 2)]);
        let text = m.render(&manifest, Some("odin"), &in_flight, &waiting);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "strixc_gateway_requests_total{agent=\"thor\",status=\"200\"} 2",
                "strixc_gateway_queue_wait_seconds_sum{agent=\"thor\"} 1.5",
                "strixc_gateway_queue_wait_seconds_count{agent=\"thor\"} 1",
                "strixc_gateway_switches_total{profile=\"odin\",result=\"ok\"} 1",
                "strixc_gateway_switch_seconds_sum{profile=\"odin\",result=\"ok\"} 2",
                "strixc_gateway_errors_total{agent=\"odin\",reason=\"queue_full\"} 1",
                "strixc_gateway_in_flight{agent=\"thor\"} 1",
                "strixc_gateway_in_flight{agent=\"odin\"} 0",
                "strixc_gateway_waiting{agent=\"thor\"} 0",
                "strixc_gateway_waiting{agent=\"odin\"} 2",
                "strixc_gateway_active_profile{profile=\"standard\"} 0",
                "strixc_gateway_active_profile{profile=\"odin\"} 1",
            ]
        );
        assert!(text.starts_with(
            "# HELP strixc_gateway_requests_total Requests answered, by agent and HTTP status.\n\
             # TYPE strixc_gateway_requests_total counter\n"
        ));
        assert!(text.ends_with(
            "# HELP strixc_gateway_active_profile 1 for the profile running now.\n\
             # TYPE strixc_gateway_active_profile gauge\n\
             strixc_gateway_active_profile{profile=\"standard\"} 0\n\
             strixc_gateway_active_profile{profile=\"odin\"} 1\n"
        ));
    }
}
