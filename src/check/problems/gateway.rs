//! The gateway: its port, its address, its timers, what agents summon.

use crate::diagnostic::problem;

problem! {
    GatewayPortTaken { port: u16, agent: String },
    code: "strixc::gateway::port_conflict",
    message: "the gateway and agent `{agent}` both listen on port {port}",
    label: "port taken",
    help: "give the gateway or the agent another `port`",
}

problem! {
    GatewayExposedBind { address: String },
    code: "strixc::security::exposed_gateway",
    severity: Warning,
    message: "the gateway listens on {address}, reachable from other machines",
    label: "not loopback",
    help: "the gateway switches profiles for whoever asks: use \"127.0.0.1\" unless other machines must reach it",
}

problem! {
    GatewayIdleBelowHold { idle: String, hold: String },
    code: "strixc::gateway::idle_below_hold",
    message: "the gateway's idle ({idle}) is shorter than its hold ({hold})",
    label: "shorter than hold",
    help: "a summoned profile stays at least `hold`: make `idle` at least as long",
}

problem! {
    SummonWithoutAgent { agent: String, profile: String, suggestion: Option<String> },
    code: "strixc::gateway::summon_without_agent",
    message: "agent `{agent}` summons profile `{profile}`, which does not run it",
    label: "lacks this agent",
    help: {
        match suggestion {
            Some(p) => format!("did you mean profile `{p}`, which runs `{agent}`?"),
            None => format!("name a profile whose `agents` include `{agent}`, or add it there"),
        }
    },
}
