//! The top level: `stack`, `host`, `runtime`, `model`, `agent`, `profile`, `gateway`.

use kdl::{KdlDocument, KdlNode};

use super::entries::Entries;
use super::{Seen, children, field, file_start, unknown_node, values};
use crate::diagnostic::{Diagnostics, Kind, Thing};
use crate::model::{Name, Spanned, Stack, Text};

const TOP_LEVEL: [&str; 7] = [
    "stack", "host", "runtime", "model", "agent", "profile", "gateway",
];

pub fn decode_document(document: &KdlDocument, d: &mut Diagnostics) -> Stack {
    let mut name: Option<Name> = None;
    let mut description = None;
    let mut host = None;
    let mut seen = Seen::new();
    let mut stack = Stack {
        name: Spanned::new(String::new(), file_start()),
        description: None,
        host: super::host::empty(file_start()),
        runtimes: Vec::new(),
        models: Vec::new(),
        agents: Vec::new(),
        profiles: Vec::new(),
        gateway: None,
    };
    for node in document.nodes() {
        match node.name().value() {
            "stack" => {
                if seen.first("stack", node, "the file", d) {
                    (name, description) = decode_stack_node(node, d);
                }
            }
            "host" => {
                if seen.first("host", node, "the file", d) {
                    host = Some(super::host::decode(node, d));
                }
            }
            "runtime" => stack.runtimes.extend(super::runtime::decode(node, d)),
            "model" => stack.models.extend(super::model::decode(node, d)),
            "agent" => stack.agents.extend(super::agent::decode(node, d)),
            "profile" => stack.profiles.extend(super::profile::decode(node, d)),
            "gateway" => {
                if seen.first("gateway", node, "the file", d) {
                    stack.gateway = Some(super::gateway::decode(node, d));
                }
            }
            _ => unknown_node(node, "the file", &TOP_LEVEL, d),
        }
    }
    if !seen.0.contains(&"stack") {
        d.emit(Kind::MissingNode { name: "stack" }, file_start());
    }
    if !seen.0.contains(&"host") {
        d.emit(Kind::MissingNode { name: "host" }, file_start());
    }
    if let Some(name) = name {
        stack.name = name;
    }
    stack.description = description;
    if let Some(host) = host {
        stack.host = host;
    }
    stack
}

/// `stack "norse" { description "..." }`
fn decode_stack_node(node: &KdlNode, d: &mut Diagnostics) -> (Option<Name>, Option<Text>) {
    let name = named_node(node, Thing::Stack, d);
    let mut description = None;
    let mut seen = Seen::new();
    for child in children(node) {
        match child.name().value() {
            "description" => {
                if seen.first("description", child, "`stack`", d) {
                    description = field(child, "a text", d)
                        .and_then(|e| values::string(e, "the description", d));
                }
            }
            _ => unknown_node(child, "`stack`", &["description"], d),
        }
    }
    (name, description)
}

/// The name argument of `agent "thor" { ... }` and its kin (no properties accepted).
pub fn named_node(node: &KdlNode, thing: Thing, d: &mut Diagnostics) -> Option<Name> {
    let mut entries = Entries::new(node);
    let name = entries.arg(0);
    entries.finish(1, &[], d);
    named_arg(node, name, thing, d)
}

pub fn named_arg(
    node: &KdlNode,
    name: Option<&kdl::KdlEntry>,
    thing: Thing,
    d: &mut Diagnostics,
) -> Option<Name> {
    match name {
        Some(entry) => values::name(entry, thing, d),
        None => {
            d.emit(
                Kind::MissingArgument {
                    node: node.name().value().to_owned(),
                    what: "a name",
                },
                node.name().span(),
            );
            None
        }
    }
}
