//! The gateway: its port, its address, its timers, its unit name, what agents summon.

use crate::diagnostic::problem;

#[derive(Debug)]
pub struct GatewayPortTaken {
    pub port: u16,
    pub agent: String,
}

problem! {
    GatewayPortTaken,
    code: "strixc::gateway::port_conflict",
    message: |Self { port, agent }| {
        format!("the gateway and agent `{agent}` both listen on port {port}")
    },
    label: |_| "port taken",
    help: |_| "give the gateway or the agent another `port`",
}

#[derive(Debug)]
pub struct GatewayExposedBind {
    pub address: String,
}

problem! {
    GatewayExposedBind,
    code: "strixc::security::exposed_gateway",
    severity: Warning,
    message: |Self { address }| {
        format!("the gateway listens on {address}, reachable from other machines")
    },
    label: |_| "not loopback",
    help: |_| "the gateway switches profiles for whoever asks: use \"127.0.0.1\" unless other machines must reach it",
}

#[derive(Debug)]
pub struct GatewayIdleBelowHold {
    pub idle: String,
    pub hold: String,
}

problem! {
    GatewayIdleBelowHold,
    code: "strixc::gateway::idle_below_hold",
    message: |Self { idle, hold }| {
        format!("the gateway's idle ({idle}) is shorter than its hold ({hold})")
    },
    label: |_| "shorter than hold",
    help: |_| "a summoned profile stays at least `hold`: make `idle` at least as long",
}

#[derive(Debug)]
pub struct GatewayNameTaken {
    pub unit: String,
}

problem! {
    GatewayNameTaken,
    code: "strixc::gateway::name_taken",
    message: |Self { unit }| {
        format!("agent `gateway` would run as {unit}, the gateway's own unit")
    },
    label: |_| "taken by the gateway",
    help: |_| "rename the agent",
}

#[derive(Debug)]
pub struct SummonWithoutAgent {
    pub agent: String,
    pub profile: String,
    pub suggestion: Option<String>,
}

problem! {
    SummonWithoutAgent,
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
