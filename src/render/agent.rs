//! An agent's unit: a quadlet `.container` (container runtimes, the Strix Halo
//! recipe) or a plain `.service` (native `command` runtimes).

use std::net::IpAddr;

use serde::Serialize;

use super::{RenderError, render};
use crate::plan::{AgentPlan, Plan};
use crate::stack::quantity::systemd_timespan;
use crate::stack::{Engine, Launch, QuadletEntry, Quant};

/// How often podman probes a loading container (its minimum): until this probe passes,
/// the regular check, which kills, does not run. Readiness itself is the `ExecStartPost=`
/// wait, which polls every quarter second.
const STARTUP_PROBE_INTERVAL_MS: u64 = 1_000;

/// Pause between automatic restarts, and the start limit: no failing agent restarts in a
/// tight loop (an absent device fails a container within a quarter of a second).
const RESTART_SEC_MS: u64 = 5_000;
const START_LIMIT_INTERVAL_MS: u64 = 10 * 60_000;
const START_LIMIT_BURST: u32 = 5;

/// Podman learned `GroupAdd=` in 5.1; before, the same flag goes through `PodmanArgs=`.
const GROUP_ADD_SINCE: (u32, u32) = (5, 1);

/// vLLM's flags per weight format: AWQ on gfx1151 needs float16 and eager mode.
fn quant_flags(quant: Option<Quant>) -> &'static [&'static str] {
    match quant {
        Some(Quant::Awq) => &[
            "--quantization",
            "awq",
            "--dtype",
            "float16",
            "--enforce-eager",
        ],
        Some(Quant::Gptq) => &["--quantization", "gptq", "--dtype", "float16"],
        Some(Quant::Marlin) => &["--quantization", "marlin", "--dtype", "float16"],
        Some(Quant::Fp8) => &["--quantization", "fp8"],
        Some(Quant::Bf16) => &["--dtype", "bfloat16"],
        Some(Quant::Fp16) => &["--dtype", "float16"],
        Some(Quant::Fp32) => &["--dtype", "float32"],
        Some(Quant::Gguf) | None => &[],
    }
}

/// A rendered agent unit and where it goes in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFile {
    pub path: String,
    pub text: String,
}

#[derive(Serialize)]
struct Health {
    cmd: String,
    interval: String,
    startup_interval: String,
    wait: Vec<String>,
}

/// The escape hatch's lines, ready to print: `Key=value\n` per entry of each fixed
/// section, and whole `\n[Section]\n...` blocks for the others.
#[derive(Serialize, Default)]
struct Extra {
    unit: String,
    container: String,
    service: String,
    sections: String,
}

#[derive(Serialize)]
struct Context<'a> {
    header: &'a str,
    unit: String,
    description: String,
    after_agents: String,
    slice: &'a str,
    start_limit_interval: String,
    start_limit_burst: u32,
    restart_sec: String,
    image: &'a str,
    container_name: &'a str,
    devices: Vec<&'a str>,
    group_access: &'static str,
    env: Vec<String>,
    secrets: Vec<String>,
    credentials: Vec<&'a str>,
    volumes: Vec<String>,
    exec: Vec<String>,
    health: Option<Health>,
    timeout_start: String,
    cpu_weight: Option<u64>,
    extra: Extra,
}

/// The address to reach a server on: loopback when it binds every address.
pub fn reach_host(bind: IpAddr) -> String {
    match bind {
        IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".into(),
        IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".into(),
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// `http://127.0.0.1:8001/health`, when the runtime declares a health check.
pub fn health_url(agent: &AgentPlan) -> Option<String> {
    let health = agent.runtime.health.as_ref()?;
    Some(format!(
        "http://{}:{}{}",
        reach_host(agent.bind),
        agent.port,
        health.path.value
    ))
}

/// The tree path of agent `agent`'s unit.
pub fn agent_path(agent: &AgentPlan) -> String {
    match agent.runtime.launch {
        Some(Launch::Native { .. }) => format!("systemd/{}.service", agent.unit_stem),
        _ => format!("containers/systemd/{}.container", agent.unit_stem),
    }
}

pub fn agent_unit(plan: &Plan, index: usize, header: &str) -> Result<AgentFile, RenderError> {
    let agent = &plan.agents[index];
    let runtime = agent.runtime;
    let stack = &plan.stack.name.value;
    let native = matches!(runtime.launch, Some(Launch::Native { .. }));
    let template = if native { "service" } else { "container" };
    let bug = |message: &str| RenderError {
        template,
        message: format!("agent {}: {message}", agent.name()),
    };

    let description = match &agent.agent.role {
        Some(role) => format!("{stack} agent {}: {}", agent.name(), role.value),
        None => format!("{stack} agent {}", agent.name()),
    };
    let after_agents = join_units(agent.after.iter().map(|&i| plan.agents[i].unit()));

    let host = agent.bind.to_string();
    let port = agent.port.to_string();
    let context = agent.context.to_string();
    let exec: Vec<String> = match (&runtime.launch, agent.engine()) {
        (Some(Launch::Native { command }), _) => command
            .iter()
            .map(|arg| {
                substitute(&arg.value, |name| match name {
                    "port" => Some(port.as_str()),
                    "host" => Some(host.as_str()),
                    "model" => Some(agent.model_source()),
                    "context" => Some(context.as_str()),
                    _ => None,
                })
            })
            .collect(),
        (_, Engine::Vllm) => {
            let utilization = agent
                .utilization()
                .ok_or_else(|| bug("no GPU utilization planned"))?;
            let mut exec: Vec<String> = [
                "vllm",
                "serve",
                agent.model_source(),
                "--host",
                &host,
                "--port",
                &port,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            exec.extend(
                quant_flags(agent.model.quant())
                    .iter()
                    .map(|s| s.to_string()),
            );
            exec.extend([
                "--gpu-memory-utilization".into(),
                utilization.to_string(),
                "--max-model-len".into(),
                context.clone(),
                "--max-num-seqs".into(),
                agent.max_seqs.to_string(),
                "--kv-cache-dtype".into(),
                agent.kv_dtype.as_str().into(),
                "--enable-prefix-caching".into(),
            ]);
            if let Some(parser) = &agent.agent.tool_parser {
                exec.extend([
                    "--enable-auto-tool-choice".into(),
                    "--tool-call-parser".into(),
                    parser.value.clone(),
                ]);
            }
            exec
        }
        // llama.cpp's server images have `llama-server` as their entry point.
        (_, Engine::LlamaCpp) => vec![
            "--model".into(),
            agent.model_source().into(),
            "--ctx-size".into(),
            context.clone(),
            "--host".into(),
            host.clone(),
            "--port".into(),
            port.clone(),
            "--n-gpu-layers".into(),
            "999".into(),
        ],
    };

    let start_period = runtime
        .health
        .as_ref()
        .and_then(|h| h.start_period_ms.as_ref().map(|s| s.value))
        .unwrap_or(crate::stack::defaults::HEALTH_START_PERIOD_MS);
    let health = match (&runtime.health, health_url(agent)) {
        (Some(h), Some(url)) => Some(Health {
            cmd: format!("curl -fsS {url}"),
            interval: crate::stack::quantity::go_duration(
                h.interval_ms
                    .as_ref()
                    .map_or(crate::stack::defaults::HEALTH_INTERVAL_MS, |i| i.value),
            ),
            startup_interval: crate::stack::quantity::go_duration(STARTUP_PROBE_INTERVAL_MS),
            wait: vec![
                "/bin/sh".into(),
                "-c".into(),
                // Poll until healthy; give up at once when the server is gone (systemd
                // sets $MAINPID for ExecStartPost=; `$$` keeps systemd from expanding it,
                // so sh reads it from the environment), instead of polling a dead port
                // until TimeoutStartSec.
                format!(
                    "until curl -fsS -o /dev/null {url}; do kill -0 $MAINPID 2>/dev/null || exit 1; sleep 0.25; done"
                ),
            ],
        }),
        _ => None,
    };

    let image = match &runtime.launch {
        Some(Launch::Container { image }) => image.value.as_str(),
        _ => "",
    };
    let podman = (plan.podman.major, plan.podman.minor);
    let group_access = if podman >= GROUP_ADD_SINCE {
        "GroupAdd=keep-groups"
    } else {
        "PodmanArgs=--group-add keep-groups"
    };
    let secret_var = |s: &crate::stack::Secret| {
        s.env.as_ref().map_or_else(
            || s.name.value.to_uppercase().replace('-', "_"),
            |e| e.value.clone(),
        )
    };

    let extra = extra_entries(runtime.quadlet.iter().chain(&agent.agent.quadlet), native);
    let text = render(
        template,
        &Context {
            header,
            unit: agent.unit(),
            description: super::escape::escape_specifiers(&description),
            after_agents,
            slice: &plan.slice,
            start_limit_interval: systemd_timespan(START_LIMIT_INTERVAL_MS),
            start_limit_burst: START_LIMIT_BURST,
            restart_sec: systemd_timespan(RESTART_SEC_MS),
            image,
            container_name: &agent.unit_stem,
            devices: runtime.devices.iter().map(|d| d.value.as_str()).collect(),
            group_access,
            env: runtime
                .env
                .iter()
                .map(|(k, v)| format!("{}={}", k.value, v.value))
                .collect(),
            secrets: runtime
                .secrets
                .iter()
                .map(|s| format!("{},type=env,target={}", s.name.value, secret_var(s)))
                .collect(),
            credentials: runtime
                .secrets
                .iter()
                .map(|s| s.name.value.as_str())
                .collect(),
            volumes: runtime
                .volumes
                .iter()
                .map(|(h, c)| format!("{}:{}", h.value, c.value))
                .collect(),
            exec,
            health,
            // The stack's bound on a load: past it systemd kills the start.
            timeout_start: systemd_timespan(start_period),
            cpu_weight: agent.agent.cpu_weight.as_ref().map(|w| w.value),
            extra,
        },
    )?;
    Ok(AgentFile {
        path: agent_path(agent),
        text,
    })
}

/// The `quadlet "Section" "Key" "value"` escape hatch, runtime's entries first: written
/// verbatim (the stack author writes systemd syntax there) into the section they name.
fn extra_entries<'a>(entries: impl Iterator<Item = &'a QuadletEntry>, native: bool) -> Extra {
    let mut extra = Extra::default();
    let mut others: Vec<(&str, String)> = Vec::new();
    for entry in entries {
        let line = format!("{}={}\n", entry.key.value, entry.value.value);
        match entry.section.value.as_str() {
            "Unit" => extra.unit.push_str(&line),
            "Service" => extra.service.push_str(&line),
            "Container" if !native => extra.container.push_str(&line),
            name => match others.iter_mut().find(|(n, _)| *n == name) {
                Some((_, lines)) => lines.push_str(&line),
                None => others.push((name, line)),
            },
        }
    }
    for (name, lines) in others {
        extra.sections.push_str(&format!("\n[{name}]\n{lines}"));
    }
    extra
}

pub(super) fn join_units<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
    let mut joined = String::new();
    for item in items {
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(item.as_ref());
    }
    joined
}

/// Fills `{name}` placeholders in one pass (a value that itself holds `{port}` stays as
/// it is); unknown names are left untouched (the checks reject them).
pub fn substitute<'v>(text: &str, value: impl Fn(&str) -> Option<&'v str>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after
            .find('}')
            .and_then(|close| Some((close, value(&after[..close])?)))
        {
            Some((close, filled)) => {
                out.push_str(filled);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_once() {
        let value = |name: &str| match name {
            "model" => Some("/m/{port}.gguf"),
            "port" => Some("8001"),
            _ => None,
        };
        assert_eq!(substitute("{model}", value), "/m/{port}.gguf");
        assert_eq!(substitute("--port={port}", value), "--port=8001");
        assert_eq!(substitute("{x} {port", value), "{x} {port");
        assert_eq!(substitute("a{port}b{port}", value), "a8001b8001");
    }
}
