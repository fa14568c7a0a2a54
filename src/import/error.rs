//! Everything that can go wrong importing a model.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use super::INDEX_FILE;

/// Everything that can go wrong importing a model; each message says what to do.
#[derive(Debug, Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "{dir} has no config.json: point `strixc model import` at a Hugging Face model folder \
         (the one holding config.json) or at its config.json"
    )]
    NoConfig { dir: PathBuf },
    #[error(
        "{path} is {size} bytes, more than the {limit} a JSON file of a model may be: is it the right file?"
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error(
        "{path} is not valid JSON ({source}): point at a model folder or its config.json; if it is one, download it again"
    )]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{path} has no `{field}`: strixc needs it to size the KV cache; check that this is the \
         model's own config.json, or write the model node by hand"
    )]
    MissingField { path: PathBuf, field: &'static str },
    #[error(
        "`{field}` in {path} is {found}, expected {expected}; fix the file or write the model node by hand"
    )]
    BadField {
        path: PathBuf,
        field: String,
        found: String,
        expected: &'static str,
    },
    #[error(
        "{path}: model type `{found}` is not supported (strixc reads qwen2, qwen3, qwen3_moe, \
         llama and mistral); write the model node by hand"
    )]
    UnknownArchitecture { path: PathBuf, found: String },
    #[error(
        "{path}: quantization `{found}` is not supported (strixc reads awq, gptq and fp8); \
         write the model node by hand"
    )]
    UnknownQuantization { path: PathBuf, found: String },
    #[error(
        "{path}: hidden_size {hidden} is not a multiple of num_attention_heads {heads} and \
         head_dim is absent; add head-dim to the model node by hand"
    )]
    HeadDim {
        path: PathBuf,
        hidden: u64,
        heads: u64,
    },
    #[error(
        "{index} has no usable `metadata.total_size`: download it again, or remove it so \
         strixc sums the *.safetensors files instead"
    )]
    IndexTotalSize { index: PathBuf },
    #[error(
        "{dir} has neither {INDEX_FILE} nor *.safetensors files: download the weights first, \
         or import its config.json alone to get a node without weights"
    )]
    NoWeights { dir: PathBuf },
    #[error("{path} is truncated ({detail}): the download is incomplete; download it again")]
    Truncated { path: PathBuf, detail: String },
    #[error(
        "{path} declares a {len}-byte safetensors header, over the {limit}-byte limit: it is \
         not a safetensors file, or it is damaged; download it again"
    )]
    HeaderTooLarge { path: PathBuf, len: u64, limit: u64 },
    #[error("{path} has a malformed safetensors header ({detail}): download it again")]
    BadHeader { path: PathBuf, detail: String },
}

impl From<ImportError> for crate::error::Error {
    fn from(e: ImportError) -> Self {
        crate::error::Error::Import {
            unreadable: matches!(e, ImportError::Read { .. }),
            source: Box::new(e),
        }
    }
}
