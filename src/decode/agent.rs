//! `agent "thor" { ... }`: one server, a model on a runtime.

use kdl::{KdlEntry, KdlNode};

use super::entries::Entries;
use super::fields::{self, Field, field};
use super::node::{list, missing_argument, no_children};
use super::quadlet::quadlet_entry;
use super::values;
use crate::diagnostic::{Diagnostics, Thing};
use crate::stack::{Agent, KvDtype, Name, OpencodeCap, Text};

pub static FIELDS: [Field<Agent>; 17] = [
    field("role", "what the agent is for, in its unit's description")
        .one(|a, e, d| a.role = values::string(e, "the role", d)),
    field("model", "the model it serves")
        .required()
        .one(|a, e, d| a.model = values::name(e, Thing::Model, d)),
    field("runtime", "the runtime it runs on")
        .one(|a, e, d| a.runtime = values::name(e, Thing::Runtime, d)),
    field("port", "the port it serves on")
        .required()
        .one(|a, e, d| a.port = values::port(e, d)),
    field("bind", "the address it listens on").one(|a, e, d| a.bind = values::ip_address(e, d)),
    field("context", "its context length in tokens")
        .required()
        .one(|a, e, d| a.context = values::positive(e, "the context", d)),
    field("max-seqs", "requests it serves at once")
        .one(|a, e, d| a.max_seqs = values::positive(e, "max-seqs", d)),
    field("kv-tokens", "tokens its KV cache holds")
        .one(|a, e, d| a.kv_tokens = values::positive(e, "kv-tokens", d)),
    field("gpu-memory-utilization", "its share of GPU memory, pinned")
        .one(|a, e, d| a.gpu_memory_utilization = values::fraction(e, "gpu-memory-utilization", d)),
    field("overhead", "memory beyond weights and KV cache")
        .one(|a, e, d| a.overhead = values::size(e, "the overhead", true, d)),
    field("kv-cache-dtype", "how the KV cache is stored").one(|a, e, d| {
        a.kv_cache_dtype = values::choice(e, "KV cache dtype", KvDtype::NAMES, KvDtype::parse, d)
    }),
    field("tool-parser", "vLLM's tool-call parser")
        .one(|a, e, d| a.tool_parser = tool_parser(e, d)),
    field("opencode", "an oh-my-opencode agent it serves")
        .many(|a, node, d| a.opencode.extend(opencode(node, d))),
    field("after", "agents it starts after").many(|a, node, d| a.after.extend(after(node, d))),
    field("quadlet", "a line for its unit")
        .many(|a, node, d| a.quadlet.extend(quadlet_entry(node, d))),
    field("summon", "the profile a gateway request for it switches to")
        .one(|a, e, d| a.summon = values::name(e, Thing::Profile, d)),
    field(
        "cpu-weight",
        "its CPU share against other agents (systemd's CPUWeight=)",
    )
    .one(|a, e, d| a.cpu_weight = values::positive_up_to(e, "cpu-weight", 10_000, d)),
];

pub fn decode(node: &KdlNode, d: &mut Diagnostics) -> Option<Agent> {
    let (name, agent) = fields::named(node, Thing::Agent, &FIELDS, d)?;
    Some(Agent { name, ..agent })
}

/// Tool-call parser names go onto vLLM's command line: a word, nothing a shell or unit
/// file could read as more.
fn tool_parser(entry: &KdlEntry, d: &mut Diagnostics) -> Option<Text> {
    let text = values::string(entry, "the tool parser", d)?;
    let valid = values::is_word(&text.value, "_-.");
    let expected = "a parser name like hermes, qwen3_coder, llama3_json";
    values::checked(text, valid, "tool parser", expected, d)
}

/// `opencode "sisyphus" max-tokens=16384`
fn opencode(node: &KdlNode, d: &mut Diagnostics) -> Vec<OpencodeCap> {
    let mut entries = Entries::new(node);
    let names = entries.args();
    let max_tokens = entries.prop("max-tokens");
    entries.finish(1, &["max-tokens"], d);
    no_children(node, d);
    if names.is_empty() {
        missing_argument(
            node,
            "the oh-my-opencode agent it serves, like \"sisyphus\"",
            d,
        );
    }
    let max_tokens = max_tokens.and_then(|e| values::positive(e, "max-tokens", d));
    names
        .into_iter()
        .filter_map(|e| values::name(e, Thing::Agent, d))
        .map(|name| OpencodeCap {
            name,
            max_tokens: max_tokens.clone(),
        })
        .collect()
}

/// `after "thor" "valkyrie"`
fn after(node: &KdlNode, d: &mut Diagnostics) -> Vec<Name> {
    values::names(list(node, "the agents to start after", d), Thing::Agent, d)
}
