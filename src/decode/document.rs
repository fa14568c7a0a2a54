//! The whole file: its top-level nodes, and the `stack` node's own block.

use kdl::{KdlDocument, KdlNode};

use super::fields::{self, Field, field};
use super::node::{children, file_start, missing_argument, named_node, props_only};
use super::{agent, gateway, host, model, profile, runtime, values};
use crate::decode::problems::MissingNode;
use crate::diagnostic::{Diagnostics, Thing};
use crate::stack::{Spanned, Stack};

/// The nodes a file holds.
pub static TOP_LEVEL: [Field<Stack>; 7] = [
    field("stack", "the stack's name, and its block")
        .required()
        .node(stack_node),
    field("host", "the machine the stack runs on")
        .required()
        .node(|stack, node, d| stack.host = host::decode(node, d)),
    field("runtime", "a server program agents run")
        .many(|stack, node, d| stack.runtimes.extend(runtime::decode(node, d))),
    field("model", "a model's weights and architecture")
        .many(|stack, node, d| stack.models.extend(model::decode(node, d))),
    field("agent", "one server: a model on a runtime")
        .many(|stack, node, d| stack.agents.extend(agent::decode(node, d))),
    field("profile", "agents that run together")
        .many(|stack, node, d| stack.profiles.extend(profile::decode(node, d))),
    field("gateway", "one address for every agent")
        .node(|stack, node, d| stack.gateway = Some(gateway::decode(node, d))),
];

/// The children of `stack "NAME" { ... }`.
pub static STACK: [Field<Stack>; 2] = [
    field("description", "what the stack is for")
        .expects("a text")
        .one(|stack, entry, d| stack.description = values::string(entry, "the description", d)),
    field(
        "opencode",
        "prompt-tokens=N: the tokens of OpenCode's first request",
    )
    .node(|stack, node, d| stack.opencode_prompt_tokens = opencode(node, d)),
];

pub fn decode(document: &KdlDocument, d: &mut Diagnostics) -> Stack {
    let mut stack = Stack::default();
    let seen = fields::decode(document.nodes(), "the file", &TOP_LEVEL, &mut stack, d);
    for name in seen.missing() {
        d.emit(MissingNode { name }, file_start());
    }
    stack
}

/// `stack "norse" { description "..."; opencode prompt-tokens=7769 }`
fn stack_node(stack: &mut Stack, node: &KdlNode, d: &mut Diagnostics) {
    if let Some(name) = named_node(node, Thing::Stack, d) {
        stack.name = name;
    }
    fields::decode(children(node), "`stack`", &STACK, stack, d);
}

/// `opencode prompt-tokens=7769`: the tokens of OpenCode's first request before the
/// user's message (system prompt and tool definitions).
fn opencode(node: &KdlNode, d: &mut Diagnostics) -> Option<Spanned<u64>> {
    let [prompt_tokens] = props_only(node, ["prompt-tokens"], d);
    match prompt_tokens {
        Some(entry) => values::positive(entry, "prompt-tokens", d),
        None => {
            missing_argument(
                node,
                "`prompt-tokens=N` (the tokens of OpenCode's first request)",
                d,
            );
            None
        }
    }
}
