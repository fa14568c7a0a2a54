//! What each agent is doing, for `strixc status`: requests in flight and waiting at the
//! gateway (its `/metrics`), and vLLM's own KV-cache use and queue (the agent's `/metrics`).

use std::time::Duration;

use serde::Serialize;

use super::health::get;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgentLoad {
    /// Requests the gateway is forwarding to the agent right now.
    pub gateway_in_flight: Option<u64>,
    /// Requests waiting at the gateway for a switch that brings the agent.
    pub gateway_waiting: Option<u64>,
    /// vLLM's KV-cache use, 0..=1 (`vllm:kv_cache_usage_perc`, or the older
    /// `vllm:gpu_cache_usage_perc`).
    pub kv_cache_usage: Option<f64>,
    /// `vllm:num_requests_running`.
    pub running: Option<f64>,
    /// `vllm:num_requests_waiting`.
    pub waiting: Option<f64>,
}

impl AgentLoad {
    pub fn is_empty(&self) -> bool {
        *self == AgentLoad::default()
    }

    /// `1 in flight, 0 waiting at the gateway; KV cache 12%, 1 running, 0 waiting`.
    pub fn render(&self) -> String {
        let mut parts = Vec::new();
        if let (Some(f), Some(w)) = (self.gateway_in_flight, self.gateway_waiting) {
            parts.push(format!("gateway: {f} in flight, {w} waiting"));
        }
        let mut engine = Vec::new();
        if let Some(kv) = self.kv_cache_usage {
            engine.push(format!("KV cache {:.0}%", kv * 100.0));
        }
        if let Some(r) = self.running {
            engine.push(format!("{r} running"));
        }
        if let Some(w) = self.waiting {
            engine.push(format!("{w} queued"));
        }
        if !engine.is_empty() {
            parts.push(engine.join(", "));
        }
        parts.join("; ")
    }

    /// Fills the engine's numbers from its Prometheus text.
    pub fn read_engine(&mut self, text: &str) {
        self.kv_cache_usage = sample(text, "vllm:kv_cache_usage_perc")
            .or_else(|| sample(text, "vllm:gpu_cache_usage_perc"));
        self.running = sample(text, "vllm:num_requests_running");
        self.waiting = sample(text, "vllm:num_requests_waiting");
    }

    /// Fills the gateway's numbers for `agent` from the gateway's Prometheus text.
    pub fn read_gateway(&mut self, text: &str, agent: &str) {
        let labelled = |name: &str| {
            let prefix = format!("{name}{{agent=\"{agent}\"}}");
            text.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        self.gateway_in_flight = labelled("strixc_gateway_in_flight");
        self.gateway_waiting = labelled("strixc_gateway_waiting");
    }
}

/// The sum of a metric's samples over all its label sets (one per served model), `None`
/// when the text has none.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    let mut total = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let value = match rest.strip_prefix('{') {
            Some(labelled) => labelled.rsplit_once('}').map(|(_, v)| v),
            None if rest.starts_with(' ') => Some(rest),
            None => None,
        };
        if let Some(v) = value.and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok()) {
            *total.get_or_insert(0.0) += v;
        }
    }
    total
}

const TIMEOUT: Duration = Duration::from_millis(500);

/// Each agent's load, in the manifest's order: the gateway's counts when its service runs
/// (status never starts it through its socket), the engine's own metrics when it answers.
pub fn loads(
    sd: &dyn crate::activate::systemd::Systemd,
    manifest: &crate::tree::manifest::Manifest,
) -> Vec<Option<AgentLoad>> {
    let gateway = manifest.gateway.as_ref().filter(|g| {
        sd.units(&[g.service.as_str()])
            .is_ok_and(|s| s.first().is_some_and(|s| s.is_active()))
    });
    let gateway_text = gateway.and_then(|g| get(&format!("http://{}/metrics", g.listen), TIMEOUT));
    std::thread::scope(|scope| {
        let probes: Vec<_> = manifest
            .agents
            .iter()
            .map(|agent| {
                let gateway_text = gateway_text.as_deref();
                scope.spawn(move || {
                    let mut load = AgentLoad::default();
                    if let Some(text) = gateway_text {
                        load.read_gateway(text, &agent.name);
                    }
                    let engine = agent
                        .health_url
                        .as_deref()
                        .and_then(metrics_url)
                        .and_then(|url| get(&url, TIMEOUT));
                    if let Some(text) = engine {
                        load.read_engine(&text);
                    }
                    (!load.is_empty()).then_some(load)
                })
            })
            .collect();
        probes
            .into_iter()
            .map(|p| p.join().ok().flatten())
            .collect()
    })
}

/// `http://127.0.0.1:8001/health` → `http://127.0.0.1:8001/metrics`.
pub fn metrics_url(health_url: &str) -> Option<String> {
    let rest = health_url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    Some(format!("http://{authority}/metrics"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vllm_metrics_with_the_old_name_as_fallback() {
        let new = "# HELP vllm:kv_cache_usage_perc KV-cache usage.\n\
                   vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.25\n\
                   vllm:num_requests_running{model_name=\"m\"} 2.0\n\
                   vllm:num_requests_waiting{model_name=\"m\"} 1.0\n";
        let mut load = AgentLoad::default();
        load.read_engine(new);
        assert_eq!(load.kv_cache_usage, Some(0.25));
        assert_eq!(load.running, Some(2.0));
        assert_eq!(load.waiting, Some(1.0));
        let old = "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.5\n";
        load.read_engine(old);
        assert_eq!(load.kv_cache_usage, Some(0.5));
        assert_eq!(load.running, None);
        assert_eq!(
            load.render(),
            "KV cache 50%",
            "only what the engine reports"
        );
        // A longer name that starts with the same letters is another metric.
        assert_eq!(
            sample(
                "vllm:num_requests_running_total 9\n",
                "vllm:num_requests_running"
            ),
            None
        );
    }

    #[test]
    fn gateway_counts_by_agent() {
        let text = "strixc_gateway_in_flight{agent=\"thor\"} 3\n\
                    strixc_gateway_in_flight{agent=\"odin\"} 1\n\
                    strixc_gateway_waiting{agent=\"thor\"} 0\n";
        let mut load = AgentLoad::default();
        load.read_gateway(text, "thor");
        assert_eq!(load.gateway_in_flight, Some(3));
        assert_eq!(load.gateway_waiting, Some(0));
        assert_eq!(load.render(), "gateway: 3 in flight, 0 waiting");
    }
}
