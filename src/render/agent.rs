//! An agent's unit: a quadlet `.container` (container runtimes, the Strix Halo
//! recipe) or a plain `.service` (native `command` runtimes).

use std::net::IpAddr;

use serde::Serialize;

use super::{RenderError, render};
use crate::plan::{AgentPlan, Plan};
use crate::stack::placeholder::{Placeholder, substitute};
use crate::stack::quantity::systemd_timespan;
use crate::stack::{Engine, Launch, PodmanVersion, QuadletEntry, Quant, Secret, Text};

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
const GROUP_ADD_SINCE: PodmanVersion = PodmanVersion::new(5, 1);

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

/// Podman's health check (`HealthCmd=`) and the `ExecStartPost=` readiness wait.
#[derive(Serialize)]
struct HealthProbe {
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

/// What the `container` and `service` templates fill in.
#[derive(Serialize)]
struct AgentUnitVars<'a> {
    header: &'a str,
    unit: &'a str,
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
    health: Option<HealthProbe>,
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
        Some(Launch::Native { .. }) => format!("systemd/{}", agent.unit_file),
        _ => format!("containers/systemd/{}", agent.unit_file),
    }
}

pub fn agent_unit(plan: &Plan, index: usize, header: &str) -> Result<AgentFile, RenderError> {
    let agent = &plan.agents[index];
    let runtime = agent.runtime;
    let native = matches!(runtime.launch, Some(Launch::Native { .. }));
    let template = if native { "service" } else { "container" };
    let exec = exec(agent).map_err(|message| RenderError {
        template,
        message: format!("agent {}: {message}", agent.name()),
    })?;
    let image = match &runtime.launch {
        Some(Launch::Container { image }) => image.value.as_str(),
        _ => "",
    };
    let text = render(
        template,
        &AgentUnitVars {
            header,
            unit: &agent.unit,
            description: super::escape::escape_specifiers(&description(plan, agent)),
            after_agents: join_units(plan.started_before(index).iter().map(|a| &a.unit)),
            slice: &plan.slice,
            start_limit_interval: systemd_timespan(START_LIMIT_INTERVAL_MS),
            start_limit_burst: START_LIMIT_BURST,
            restart_sec: systemd_timespan(RESTART_SEC_MS),
            image,
            container_name: &agent.unit_stem,
            devices: runtime.devices.iter().map(|d| d.value.as_str()).collect(),
            group_access: if plan.podman >= GROUP_ADD_SINCE {
                "GroupAdd=keep-groups"
            } else {
                "PodmanArgs=--group-add keep-groups"
            },
            env: runtime
                .env
                .iter()
                .map(|(k, v)| format!("{}={}", k.value, v.value))
                .collect(),
            secrets: runtime.secrets.iter().map(podman_secret).collect(),
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
            health: health_probe(agent),
            // The stack's bound on a load: past it systemd kills the start.
            timeout_start: systemd_timespan(agent.start_period_ms()),
            cpu_weight: agent.agent.cpu_weight.as_ref().map(|w| w.value),
            extra: extra_entries(runtime.quadlet.iter().chain(&agent.agent.quadlet), native),
        },
    )?;
    Ok(AgentFile {
        path: agent_path(agent),
        text,
    })
}

/// `norse agent thor: Coding`: the stack, the agent and its role.
fn description(plan: &Plan, agent: &AgentPlan) -> String {
    let stack = &plan.stack.name.value;
    match &agent.agent.role {
        Some(role) => format!("{stack} agent {}: {}", agent.name(), role.value),
        None => format!("{stack} agent {}", agent.name()),
    }
}

/// `Secret=NAME,type=env,target=VAR`: the secret as the variable it is exposed as.
fn podman_secret(secret: &Secret) -> String {
    let var = secret.env.as_ref().map_or_else(
        || secret.name.value.to_uppercase().replace('-', "_"),
        |e| e.value.clone(),
    );
    format!("{},type=env,target={var}", secret.name.value)
}

/// The command line: a native runtime's own command with its placeholders filled, or the
/// engine's server with the plan's numbers. `Err` is a bug (the plan lacks a number).
fn exec(agent: &AgentPlan) -> Result<Vec<String>, &'static str> {
    match (&agent.runtime.launch, agent.engine()) {
        (Some(Launch::Native { command }), _) => Ok(native_command(agent, command)),
        (_, Engine::Vllm) => vllm_command(agent),
        (_, Engine::LlamaCpp) => Ok(llama_cpp_command(agent)),
    }
}

/// `--host BIND --port PORT`: both engines' servers are told where to listen alike.
fn listen_flags(agent: &AgentPlan) -> [String; 4] {
    [
        "--host".into(),
        agent.bind.to_string(),
        "--port".into(),
        agent.port.to_string(),
    ]
}

fn native_command(agent: &AgentPlan, command: &[Text]) -> Vec<String> {
    let host = agent.bind.to_string();
    let port = agent.port.to_string();
    let context = agent.context.to_string();
    let value = |name: &str| {
        Some(match Placeholder::parse(name)? {
            Placeholder::Port => port.as_str(),
            Placeholder::Host => host.as_str(),
            Placeholder::Model => agent.model_source(),
            Placeholder::Context => context.as_str(),
        })
    };
    command
        .iter()
        .map(|arg| substitute(&arg.value, value))
        .collect()
}

fn vllm_command(agent: &AgentPlan) -> Result<Vec<String>, &'static str> {
    let utilization = agent.utilization().ok_or("no GPU utilization planned")?;
    let mut exec: Vec<String> = vec!["vllm".into(), "serve".into(), agent.model_source().into()];
    exec.extend(listen_flags(agent));
    exec.extend(
        quant_flags(agent.model.quant())
            .iter()
            .map(|s| s.to_string()),
    );
    exec.extend([
        "--gpu-memory-utilization".into(),
        utilization.to_string(),
        "--max-model-len".into(),
        agent.context.to_string(),
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
    Ok(exec)
}

/// llama.cpp's server images have `llama-server` as their entry point: its flags alone.
fn llama_cpp_command(agent: &AgentPlan) -> Vec<String> {
    let mut exec: Vec<String> = vec![
        "--model".into(),
        agent.model_source().into(),
        "--ctx-size".into(),
        agent.context.to_string(),
    ];
    exec.extend(listen_flags(agent));
    exec.extend(["--n-gpu-layers".into(), "999".into()]);
    exec
}

/// Podman's health check and the readiness wait, when the runtime declares a check.
fn health_probe(agent: &AgentPlan) -> Option<HealthProbe> {
    let check = agent.runtime.health.as_ref()?;
    let url = health_url(agent)?;
    Some(HealthProbe {
        cmd: format!("curl -fsS {url}"),
        interval: crate::stack::quantity::go_duration(
            check
                .interval_ms
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
