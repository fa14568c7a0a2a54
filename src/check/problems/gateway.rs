//! The gateway: its port, its address, its timers, its unit name, what agents summon.

use crate::diagnostic::problem;

problem! {
    GatewayPortTaken { port: u16, agent: String },
    code: "strixc::gateway::port_conflict",
    message: |Self { port, agent }| {
        format!("the gateway and agent `{agent}` both listen on port {port}")
    },
    label: |_| "port taken",
    help: |_| "give the gateway or the agent another `port`",
}

problem! {
    GatewayExposedBind { address: String },
    code: "strixc::security::exposed_gateway",
    severity: Warning,
    message: |Self { address }| {
        format!("the gateway listens on {address}, reachable from other machines")
    },
    label: |_| "not loopback",
    help: |_| "the gateway switches profiles for whoever asks: use \"127.0.0.1\" unless other machines must reach it",
}

problem! {
    GatewayIdleBelowHold { idle: String, hold: String },
    code: "strixc::gateway::idle_below_hold",
    message: |Self { idle, hold }| {
        format!("the gateway's idle ({idle}) is shorter than its hold ({hold})")
    },
    label: |_| "shorter than hold",
    help: |_| "a summoned profile stays at least `hold`: make `idle` at least as long",
}

problem! {
    GatewayNameTaken { unit: String },
    code: "strixc::gateway::name_taken",
    message: |Self { unit }| {
        format!("agent `gateway` would run as {unit}, the gateway's own unit")
    },
    label: |_| "taken by the gateway",
    help: |_| "rename the agent",
}

problem! {
    SummonWithoutAgent { agent: String, profile: String, suggestion: Option<String> },
    code: "strixc::gateway::summon_without_agent",
    message: |Self { agent, profile, .. }| {
        format!("agent `{agent}` summons profile `{profile}`, which does not run it")
    },
    label: |_| "lacks this agent",
    help: |Self { agent, suggestion, .. }| match suggestion {
        Some(p) => format!("did you mean profile `{p}`, which runs `{agent}`?"),
        None => format!("name a profile whose `agents` include `{agent}`, or add it there"),
    },
}
