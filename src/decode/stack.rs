//! The top level: `stack`, `host`, `runtime`, `model`, `agent`, `profile`, `gateway`.

use kdl::{KdlDocument, KdlNode};

use super::entries::Entries;
use super::{Seen, children, field, file_start, no_children, unknown_node, values};
use crate::decode::problems::{MissingArgument, MissingNode};
use crate::diagnostic::{Diagnostics, Thing};
use crate::stack::{Name, Spanned, Stack, Text};

/// The children of `stack`.
const STACK_FIELDS: [&str; 2] = ["description", "opencode"];

const TOP_LEVEL: [&str; 7] = [
    "stack", "host", "runtime", "model", "agent", "profile", "gateway",
];

pub fn decode_document(document: &KdlDocument, d: &mut Diagnostics) -> Stack {
    let mut name: Option<Name> = None;
    let mut about = About::default();
    let mut host = None;
    let mut seen = Seen::new();
    let mut stack = Stack {
        name: Spanned::new(String::new(), file_start()),
        description: None,
        opencode_prompt_tokens: None,
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
                    (name, about) = decode_stack_node(node, d);
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
        d.emit(MissingNode { name: "stack" }, file_start());
    }
    if !seen.0.contains(&"host") {
        d.emit(MissingNode { name: "host" }, file_start());
    }
    if let Some(name) = name {
        stack.name = name;
    }
    stack.description = about.description;
    stack.opencode_prompt_tokens = about.opencode_prompt_tokens;
    if let Some(host) = host {
        stack.host = host;
    }
    stack
}

/// What the `stack` node's block says about the stack as a whole.
#[derive(Default)]
struct About {
    description: Option<Text>,
    opencode_prompt_tokens: Option<Spanned<u64>>,
}

/// `stack "norse" { description "..."; opencode prompt-tokens=7769 }`
fn decode_stack_node(node: &KdlNode, d: &mut Diagnostics) -> (Option<Name>, About) {
    let name = named_node(node, Thing::Stack, d);
    let mut about = About::default();
    let mut seen = Seen::new();
    for child in children(node) {
        match child.name().value() {
            "description" => {
                if seen.first("description", child, "`stack`", d) {
                    about.description = field(child, "a text", d)
                        .and_then(|e| values::string(e, "the description", d));
                }
            }
            "opencode" => {
                if seen.first("opencode", child, "`stack`", d) {
                    about.opencode_prompt_tokens = opencode(child, d);
                }
            }
            _ => unknown_node(child, "`stack`", &STACK_FIELDS, d),
        }
    }
    (name, about)
}

/// `opencode prompt-tokens=7769`: the tokens of OpenCode's first request before the
/// user's message (system prompt and tool definitions).
fn opencode(node: &KdlNode, d: &mut Diagnostics) -> Option<Spanned<u64>> {
    let mut entries = Entries::new(node);
    let prompt_tokens = entries.prop("prompt-tokens");
    entries.finish(0, &["prompt-tokens"], d);
    no_children(node, d);
    match prompt_tokens {
        Some(entry) => values::positive(entry, "prompt-tokens", d),
        None => {
            d.emit(
                MissingArgument {
                    node: "opencode".into(),
                    what: "`prompt-tokens=N` (the tokens of OpenCode's first request)",
                },
                node.name().span(),
            );
            None
        }
    }
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
                MissingArgument {
                    node: node.name().value().to_owned(),
                    what: "a name",
                },
                node.name().span(),
            );
            None
        }
    }
}
