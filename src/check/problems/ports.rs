//! Ports: one agent per port.

use crate::diagnostic::problem;

#[derive(Debug)]
pub struct PortConflict {
    pub port: u16,
    pub first: String,
    pub second: String,
}

problem! {
    PortConflict,
    code: "strixc::agent::port_conflict",
    message: |Self { port, first, second }| {
        format!("agents `{first}` and `{second}` both listen on port {port}")
    },
    label: |_| "port taken",
    help: |_| "give one of them another `port`",
}
