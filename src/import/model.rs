//! The imported model, and the `model` node printed for it. Pure.

use std::path::Path;

use serde_json::Value;

use super::config::{Architecture, ModelConfig, Quant};
use super::{ImportError, naming};
use crate::plan::budget::{KvDtype, kv_bytes_per_token};

/// A model read from disk: what the stack's `model` node needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedModel {
    /// `[a-z][a-z0-9.-]*`, from the folder (or the cache's repo) name.
    pub name: String,
    /// The Hugging Face repo id, when the cache layout or `_name_or_path` tells it.
    pub repo: Option<String>,
    pub architecture: Architecture,
    pub quant: Quant,
    /// Tensor data bytes; `None` when only a config.json was read.
    pub weights_bytes: Option<u64>,
    pub layers: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub max_context: u64,
}

impl ImportedModel {
    /// The pure core: a model from its parsed config, the folder it lives in (for name and
    /// repo) and its weights' size if known. `config_path` is only named in errors.
    pub fn from_config(
        config: &Value,
        config_path: &Path,
        folder: &Path,
        weights_bytes: Option<u64>,
    ) -> Result<ImportedModel, ImportError> {
        let config = ModelConfig::from_json(config, config_path)?;
        Ok(ImportedModel::new(config, folder, weights_bytes))
    }

    /// A model from its already-read config.
    pub fn new(config: ModelConfig, folder: &Path, weights_bytes: Option<u64>) -> ImportedModel {
        let ModelConfig {
            architecture,
            quant,
            layers,
            kv_heads,
            head_dim,
            max_context,
            name_or_path,
        } = config;
        let (name, repo) =
            naming::name_and_repo(folder, name_or_path.as_deref(), architecture.model_type());
        ImportedModel {
            name,
            repo,
            architecture,
            quant,
            weights_bytes,
            layers,
            kv_heads,
            head_dim,
            max_context,
        }
    }

    /// KV-cache bytes per token at `dtype` (see [`crate::plan::budget`]).
    pub fn kv_bytes_per_token(&self, dtype: KvDtype) -> u64 {
        kv_bytes_per_token(self.layers, self.kv_heads, self.head_dim, dtype)
    }

    /// A ready `model` node in the stack language. Weights are printed in GB rounded up (never
    /// under-count memory); an unknown repo or unknown weights become comment lines saying so.
    pub fn to_kdl(&self) -> String {
        let mut out = format!("model \"{}\" {{\n", self.name);
        match &self.repo {
            Some(repo) => out.push_str(&format!("    repo \"{repo}\"\n")),
            None => out.push_str(
                "    // repo \"ORG/NAME\"  (unknown: the Hugging Face id vLLM should serve)\n",
            ),
        }
        out.push_str(&format!("    quant \"{}\"\n", self.quant));
        match self.weights_bytes {
            Some(bytes) => out.push_str(&format!("    weights \"{}\"\n", format_gb_up(bytes))),
            None => out.push_str(
                "    // weights unknown: only config.json was read; import the model folder to measure them\n",
            ),
        }
        out.push_str(&format!(
            "    layers {}\n    kv-heads {}\n    head-dim {}\n    max-context {}\n}}\n",
            self.layers, self.kv_heads, self.head_dim, self.max_context
        ));
        out
    }
}

/// Bytes as a stack size in GB (10^9) with two decimals, rounded **up**: `"9.98GB"`.
pub fn format_gb_up(bytes: u64) -> String {
    let hundredths = bytes.div_ceil(10_000_000);
    format!("{}.{:02}GB", hundredths / 100, hundredths % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_gb_rounds_up() {
        assert_eq!(format_gb_up(9_980_000_000), "9.98GB");
        assert_eq!(format_gb_up(9_980_000_001), "9.99GB");
        assert_eq!(format_gb_up(0), "0.00GB");
        assert_eq!(format_gb_up(1), "0.01GB");
        assert_eq!(format_gb_up(41_600_000_000), "41.60GB");
        assert_eq!(format_gb_up(u64::MAX), "18446744073.71GB");
    }
}
