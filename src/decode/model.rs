//! `model "qwen2.5-14b-awq" { repo; path; quant; weights; layers; kv-heads; head-dim; max-context }`

use kdl::KdlNode;

use super::{Seen, children, field, unknown_node, values};
use crate::diagnostic::{Diagnostics, Kind, Thing};
use crate::stack::{Model, Quant};

const FIELDS: [&str; 8] = [
    "repo",
    "path",
    "quant",
    "weights",
    "layers",
    "kv-heads",
    "head-dim",
    "max-context",
];

pub fn decode(node: &KdlNode, d: &mut Diagnostics) -> Option<Model> {
    let name = super::stack::named_node(node, Thing::Model, d);
    let parent = match &name {
        Some(n) => format!("model `{}`", n.value),
        None => "`model`".to_owned(),
    };
    let mut seen = Seen::new();
    let mut model = Model {
        name: crate::stack::Spanned::new(String::new(), node.name().span()),
        repo: None,
        path: None,
        quant: None,
        weights: None,
        layers: None,
        kv_heads: None,
        head_dim: None,
        max_context: None,
    };
    for child in children(node) {
        let key = child.name().value();
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
            "repo" => model.repo = values::string(entry, "the repo", d),
            "path" => model.path = values::string(entry, "the model path", d),
            "quant" => {
                model.quant = values::choice(entry, "quantization", Quant::NAMES, Quant::parse, d)
            }
            "weights" => model.weights = values::size(entry, "the weights' size", false, d),
            "layers" => model.layers = values::positive(entry, "layers", d),
            "kv-heads" => model.kv_heads = values::positive(entry, "kv-heads", d),
            "head-dim" => model.head_dim = values::positive(entry, "head-dim", d),
            "max-context" => model.max_context = values::positive(entry, "max-context", d),
            _ => unknown_node(child, &parent, &FIELDS, d),
        }
    }
    let name = name?;
    for required in ["weights", "layers", "kv-heads", "head-dim", "max-context"] {
        if !seen.0.contains(&required) {
            d.emit(
                Kind::MissingField {
                    node: format!("model `{}`", name.value),
                    field: required,
                },
                name.span,
            );
        }
    }
    model.name = name;
    Some(model)
}
