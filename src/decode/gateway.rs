//! `gateway { port 8000; ... }`: one OpenAI-compatible address for every agent.

use kdl::KdlNode;

use super::fields::{self, Field, field};
use super::values;
use crate::diagnostic::Diagnostics;
use crate::stack::Gateway;

pub static FIELDS: [Field<Gateway>; 8] = [
    field("port", "the port it listens on")
        .required()
        .one(|g, e, d| g.port = values::port(e, d)),
    field("bind", "the address it listens on").one(|g, e, d| g.bind = values::ip_address(e, d)),
    field("idle", "how long until the default profile comes back")
        .one(|g, e, d| g.idle_ms = values::duration(e, "the gateway's idle", d)),
    field("hold", "how long a summoned profile stays at least")
        .one(|g, e, d| g.hold_ms = values::duration(e, "the gateway's hold", d)),
    field("queue", "requests that may wait for a switch")
        .one(|g, e, d| g.queue = values::positive(e, "the gateway's queue", d)),
    field("wait", "the longest a request waits for a switch")
        .one(|g, e, d| g.wait_ms = values::duration(e, "the gateway's wait", d)),
    field("grace", "how long requests on a stopped agent run on")
        .one(|g, e, d| g.grace_ms = values::duration(e, "the gateway's grace", d)),
    field("strixc", "the binary its service runs")
        .one(|g, e, d| g.strixc = values::string(e, "the strixc binary", d)),
];

pub fn decode(node: &KdlNode, d: &mut Diagnostics) -> Gateway {
    let gateway = Gateway {
        span: node.name().span(),
        ..Gateway::default()
    };
    fields::block(node, "`gateway`", &FIELDS, gateway, d)
}
