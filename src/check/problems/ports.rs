//! Ports: one agent per port.

use crate::diagnostic::problem;

problem! {
    PortConflict { port: u16, first: String, second: String },
    code: "strixc::agent::port_conflict",
    message: "agents `{first}` and `{second}` both listen on port {port}",
    label: "port taken",
    help: "give one of them another `port`",
}
