//! `agent "thor" { role; model; runtime; port; bind; context; max-seqs; kv-tokens;
//! gpu-memory-utilization; overhead; kv-cache-dtype; tool-parser; opencode; after; quadlet; summon }`

use kdl::KdlNode;

use super::entries::Entries;
use super::{Seen, children, field, no_children, quadlet_entry, unknown_node, values};
use crate::diagnostic::{Diagnostics, Kind, Thing};
use crate::stack::{Agent, KvDtype, OpencodeCap, Spanned};

const FIELDS: [&str; 16] = [
    "role",
    "model",
    "runtime",
    "port",
    "bind",
    "context",
    "max-seqs",
    "kv-tokens",
    "gpu-memory-utilization",
    "overhead",
    "kv-cache-dtype",
    "tool-parser",
    "opencode",
    "after",
    "quadlet",
    "summon",
];
const REQUIRED: [&str; 3] = ["model", "port", "context"];

pub fn decode(node: &KdlNode, d: &mut Diagnostics) -> Option<Agent> {
    let name = super::stack::named_node(node, Thing::Agent, d);
    let parent = match &name {
        Some(n) => format!("agent `{}`", n.value),
        None => "`agent`".to_owned(),
    };
    let mut seen = Seen::new();
    let mut agent = Agent {
        name: Spanned::new(String::new(), node.name().span()),
        role: None,
        model: None,
        runtime: None,
        port: None,
        bind: None,
        context: None,
        max_seqs: None,
        kv_tokens: None,
        gpu_memory_utilization: None,
        overhead: None,
        kv_cache_dtype: None,
        tool_parser: None,
        opencode: Vec::new(),
        after: Vec::new(),
        quadlet: Vec::new(),
        summon: None,
    };
    for child in children(node) {
        let key = child.name().value();
        match key {
            "opencode" => agent.opencode.extend(opencode(child, d)),
            "after" => agent.after.extend(after(child, d)),
            "quadlet" => agent.quadlet.extend(quadlet_entry(child, d)),
            _ => {
                let Some(&known) = FIELDS.iter().find(|f| **f == key) else {
                    unknown_node(child, &parent, &FIELDS, d);
                    continue;
                };
                if !seen.first(known, child, &parent, d) {
                    continue;
                }
                let Some(entry) = field(child, "a value", d) else {
                    continue;
                };
                match known {
                    "role" => agent.role = values::string(entry, "the role", d),
                    "model" => agent.model = values::name(entry, Thing::Model, d),
                    "runtime" => agent.runtime = values::name(entry, Thing::Runtime, d),
                    "port" => agent.port = values::port(entry, d),
                    "bind" => agent.bind = values::ip_address(entry, d),
                    "context" => agent.context = values::positive(entry, "the context", d),
                    "max-seqs" => agent.max_seqs = values::positive(entry, "max-seqs", d),
                    "kv-tokens" => agent.kv_tokens = values::positive(entry, "kv-tokens", d),
                    "gpu-memory-utilization" => {
                        agent.gpu_memory_utilization =
                            values::fraction(entry, "gpu-memory-utilization", d)
                    }
                    "overhead" => agent.overhead = values::size(entry, "the overhead", true, d),
                    "kv-cache-dtype" => {
                        agent.kv_cache_dtype = values::choice(
                            entry,
                            "KV cache dtype",
                            KvDtype::NAMES,
                            KvDtype::parse,
                            d,
                        )
                    }
                    "tool-parser" => agent.tool_parser = tool_parser(entry, d),
                    "summon" => agent.summon = values::name(entry, Thing::Profile, d),
                    _ => unknown_node(child, &parent, &FIELDS, d),
                }
            }
        }
    }
    let name = name?;
    for required in REQUIRED {
        if !seen.0.contains(&required) {
            d.emit(
                Kind::MissingField {
                    node: format!("agent `{}`", name.value),
                    field: required,
                },
                name.span,
            );
        }
    }
    agent.name = name;
    Some(agent)
}

/// Tool-call parser names go onto vLLM's command line: a word, nothing a shell or unit
/// file could read as more.
fn tool_parser(entry: &kdl::KdlEntry, d: &mut Diagnostics) -> Option<crate::stack::Text> {
    let text = values::string(entry, "the tool parser", d)?;
    let valid = !text.value.is_empty()
        && text
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !valid {
        d.emit(
            Kind::InvalidValue {
                what: "tool parser".into(),
                value: text.value.clone(),
                expected: vec!["a parser name like hermes, qwen3_coder, llama3_json"],
                suggestion: None,
            },
            text.span,
        );
        return None;
    }
    Some(text)
}

/// `opencode "sisyphus" max-tokens=16384`
fn opencode(node: &KdlNode, d: &mut Diagnostics) -> Vec<OpencodeCap> {
    let mut entries = Entries::new(node);
    let names = entries.args();
    let max_tokens = entries.prop("max-tokens");
    entries.finish(1, &["max-tokens"], d);
    no_children(node, d);
    if names.is_empty() {
        d.emit(
            Kind::MissingArgument {
                node: "opencode".into(),
                what: "the oh-my-opencode agent it serves, like \"sisyphus\"",
            },
            node.name().span(),
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
fn after(node: &KdlNode, d: &mut Diagnostics) -> Vec<crate::stack::Name> {
    let mut entries = Entries::new(node);
    let names = entries.args();
    entries.finish(1, &[], d);
    no_children(node, d);
    if names.is_empty() {
        d.emit(
            Kind::MissingArgument {
                node: "after".into(),
                what: "the agents to start after",
            },
            node.name().span(),
        );
    }
    names
        .into_iter()
        .filter_map(|e| values::name(e, Thing::Agent, d))
        .collect()
}
