//! `gateway { port 8000; bind "127.0.0.1"; idle "15m"; hold "2m"; queue 64; wait "10m";
//! grace "2m"; strixc "/usr/local/bin/strixc" }`

use kdl::KdlNode;

use super::entries::Entries;
use super::{Seen, children, field, unknown_node, values};
use crate::decode::problems::MissingField;
use crate::diagnostic::Diagnostics;
use crate::stack::Gateway;

const FIELDS: [&str; 8] = [
    "port", "bind", "idle", "hold", "queue", "wait", "grace", "strixc",
];

pub fn decode(node: &KdlNode, d: &mut Diagnostics) -> Gateway {
    // The node takes no argument: there is one gateway per stack.
    Entries::new(node).finish(0, &[], d);
    let mut gateway = Gateway {
        span: node.name().span(),
        port: None,
        bind: None,
        idle_ms: None,
        hold_ms: None,
        queue: None,
        wait_ms: None,
        grace_ms: None,
        strixc: None,
    };
    let mut seen = Seen::new();
    for child in children(node) {
        let key = child.name().value();
        let Some(&known) = FIELDS.iter().find(|f| **f == key) else {
            unknown_node(child, "`gateway`", &FIELDS, d);
            continue;
        };
        if !seen.first(known, child, "`gateway`", d) {
            continue;
        }
        let Some(entry) = field(child, "a value", d) else {
            continue;
        };
        match known {
            "port" => gateway.port = values::port(entry, d),
            "bind" => gateway.bind = values::ip_address(entry, d),
            "idle" => gateway.idle_ms = values::duration(entry, "the gateway's idle", d),
            "hold" => gateway.hold_ms = values::duration(entry, "the gateway's hold", d),
            "queue" => gateway.queue = values::positive(entry, "the gateway's queue", d),
            "wait" => gateway.wait_ms = values::duration(entry, "the gateway's wait", d),
            "grace" => gateway.grace_ms = values::duration(entry, "the gateway's grace", d),
            _ => gateway.strixc = values::string(entry, "the strixc binary", d),
        }
    }
    if !seen.0.contains(&"port") {
        d.emit(
            MissingField {
                node: "`gateway`".into(),
                field: "port",
            },
            node.name().span(),
        );
    }
    gateway
}
