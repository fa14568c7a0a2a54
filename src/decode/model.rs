//! `model "qwen2.5-14b-awq" { ... }`: where the weights are and the architecture the
//! budget sizes memory with.

use kdl::KdlNode;

use super::fields::{self, Field, field};
use super::values;
use crate::diagnostic::{Diagnostics, Thing};
use crate::stack::{Model, Quant};

pub static FIELDS: [Field<Model>; 8] = [
    field("repo", "its Hugging Face repository")
        .one(|m, e, d| m.repo = values::string(e, "the repo", d)),
    field("path", "its local file or folder")
        .one(|m, e, d| m.path = values::string(e, "the model path", d)),
    field("quant", "the weights' format")
        .one(|m, e, d| m.quant = values::choice(e, "quantization", Quant::NAMES, Quant::parse, d)),
    field("weights", "the weights' size")
        .required()
        .one(|m, e, d| m.weights = values::size(e, "the weights' size", false, d)),
    field("layers", "hidden layers")
        .required()
        .one(|m, e, d| m.layers = values::positive(e, "layers", d)),
    field("kv-heads", "key-value attention heads")
        .required()
        .one(|m, e, d| m.kv_heads = values::positive(e, "kv-heads", d)),
    field("head-dim", "each attention head's size")
        .required()
        .one(|m, e, d| m.head_dim = values::positive(e, "head-dim", d)),
    field("max-context", "the longest context it was trained for")
        .required()
        .one(|m, e, d| m.max_context = values::positive(e, "max-context", d)),
];

pub fn decode(node: &KdlNode, d: &mut Diagnostics) -> Option<Model> {
    let (name, model) = fields::named(node, Thing::Model, &FIELDS, d)?;
    Some(Model { name, ..model })
}
