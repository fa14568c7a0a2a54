//! `strixc model import PATH`: read a local Hugging Face model and print its `model` node,
//! so that layers, KV heads and weight sizes are read from the model, never typed.
//!
//! PATH is a model folder (`config.json` + `model.safetensors.index.json` or `*.safetensors`;
//! a Hugging Face cache folder `models--ORG--NAME` or one of its snapshots works too) or a
//! bare `config.json`, whose weights are then unknown. Nothing comes from the network and no
//! tensor data is read: the weights' size is the index's `metadata.total_size`, else the sum
//! of each safetensors file's data size from its header.
//!
//! The I/O here is thin ([`import_model`]); the rest is pure: [`config`] reads config.json,
//! [`safetensors`] headers, [`naming`] the node's name and repo.

pub mod config;
mod error;
mod folder;
mod model;
pub mod naming;
pub mod safetensors;

pub use config::{Architecture, ModelConfig, Quant};
pub use error::ImportError;
pub use folder::import_model;
pub use model::{ImportedModel, format_gb_up};

/// JSON files larger than this are refused (real config and index files are under 1 MB).
pub const MAX_JSON_BYTES: u64 = 64 * 1024 * 1024;

const INDEX_FILE: &str = "model.safetensors.index.json";
