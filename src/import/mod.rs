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
pub mod naming;
pub mod safetensors;

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;
use walkdir::WalkDir;

use crate::plan::budget::{KvDtype, kv_bytes_per_token};
pub use config::{Architecture, ModelConfig, Quant};

/// JSON files larger than this are refused (real config and index files are under 1 MB).
pub const MAX_JSON_BYTES: u64 = 64 * 1024 * 1024;

const INDEX_FILE: &str = "model.safetensors.index.json";

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
    #[error("{path} is not valid JSON ({source}): download it again")]
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
        let ImportedModel {
            name,
            repo,
            architecture: _,
            quant,
            weights_bytes,
            layers,
            kv_heads,
            head_dim,
            max_context,
        } = self;
        let mut out = format!("model \"{name}\" {{\n");
        match repo {
            Some(repo) => out.push_str(&format!("    repo \"{repo}\"\n")),
            None => out.push_str(
                "    // repo \"ORG/NAME\"  (unknown: the Hugging Face id vLLM should serve)\n",
            ),
        }
        out.push_str(&format!("    quant \"{quant}\"\n"));
        match weights_bytes {
            Some(bytes) => out.push_str(&format!("    weights \"{}\"\n", format_gb_up(*bytes))),
            None => out.push_str(
                "    // weights unknown: only config.json was read; import the model folder to measure them\n",
            ),
        }
        out.push_str(&format!(
            "    layers {layers}\n    kv-heads {kv_heads}\n    head-dim {head_dim}\n    max-context {max_context}\n}}\n"
        ));
        out
    }
}

/// Bytes as a stack size in GB (10^9) with two decimals, rounded **up**: `"9.98GB"`.
pub fn format_gb_up(bytes: u64) -> String {
    let hundredths = bytes.div_ceil(10_000_000);
    format!("{}.{:02}GB", hundredths / 100, hundredths % 100)
}

/// Reads the model at `path`: a model folder, a Hugging Face cache folder, or a config.json.
pub fn import_model(path: &Path) -> Result<ImportedModel, ImportError> {
    let path = absolute(path)?;
    let meta = fs::metadata(&path).map_err(|source| ImportError::Read {
        path: path.clone(),
        source,
    })?;
    if !meta.is_dir() {
        let config = read_json(&path)?;
        let folder = path.parent().unwrap_or(Path::new("/"));
        return ImportedModel::from_config(&config, &path, folder, None);
    }
    let dir = cache_snapshot(&path).unwrap_or(path);
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        return Err(ImportError::NoConfig { dir });
    }
    // The config first: its errors say more than the weights'.
    let config = ModelConfig::from_json(&read_json(&config_path)?, &config_path)?;
    let weights = folder_weights(&dir)?;
    Ok(ImportedModel::new(config, &dir, Some(weights)))
}

/// An absolute path without resolving symlinks (so the folder's own name is kept), except
/// when it ends in `..`.
fn absolute(path: &Path) -> Result<PathBuf, ImportError> {
    let read_err = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let abs = std::path::absolute(path).map_err(read_err)?;
    if abs.file_name().is_some() {
        Ok(abs)
    } else {
        fs::canonicalize(&abs).map_err(read_err)
    }
}

/// `models--ORG--NAME` itself was given: the snapshot `refs/main` points at.
fn cache_snapshot(dir: &Path) -> Option<PathBuf> {
    let name = dir.file_name()?.to_str()?;
    if !name.starts_with("models--") || dir.join("config.json").exists() {
        return None;
    }
    let hash = fs::read_to_string(dir.join("refs").join("main")).ok()?;
    let snapshot = dir.join("snapshots").join(hash.trim());
    snapshot.is_dir().then_some(snapshot)
}

fn read_json(path: &Path) -> Result<Value, ImportError> {
    let read_err = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    let size = file.metadata().map_err(read_err)?.len();
    if size > MAX_JSON_BYTES {
        return Err(ImportError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_JSON_BYTES,
        });
    }
    let mut text = Vec::new();
    file.take(MAX_JSON_BYTES)
        .read_to_end(&mut text)
        .map_err(read_err)?;
    serde_json::from_slice(&text).map_err(|source| ImportError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// The tensor data size of the model in `dir`: the index's `metadata.total_size`, else the
/// sum over the folder's own `*.safetensors` files (not subfolders; `consolidated*` files,
/// Mistral's second copy of the weights, only when nothing else is there).
fn folder_weights(dir: &Path) -> Result<u64, ImportError> {
    let index = dir.join(INDEX_FILE);
    if index.is_file() {
        let json = read_json(&index)?;
        let total = json.get("metadata").and_then(|m| m.get("total_size"));
        return total
            .and_then(whole_bytes)
            .ok_or(ImportError::IndexTotalSize { index });
    }
    let mut files = Vec::new();
    for entry in WalkDir::new(dir)
        .min_depth(1)
        .max_depth(1)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| ImportError::Read {
            path: e.path().unwrap_or(dir).to_path_buf(),
            source: e.into(),
        })?;
        let is_safetensors = entry.path().extension().is_some_and(|x| x == "safetensors");
        if entry.file_type().is_file() && is_safetensors {
            files.push(entry.into_path());
        }
    }
    let consolidated = |p: &PathBuf| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("consolidated"))
    };
    if files.iter().any(|p| !consolidated(p)) {
        files.retain(|p| !consolidated(p));
    }
    if files.is_empty() {
        return Err(ImportError::NoWeights {
            dir: dir.to_path_buf(),
        });
    }
    let mut total = 0u64;
    for file in &files {
        total = total.saturating_add(safetensors::data_size(file)?);
    }
    Ok(total)
}

/// A byte count written as an integer, or as a float with no fraction (some tools do).
fn whole_bytes(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < 2f64.powi(53))
            .map(|f| f as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/models")
            .join(rel)
    }

    const LLAMA_CACHE: &str = "hf-cache/models--casperhansen--llama-3.3-70b-instruct-awq";
    const LLAMA_SNAPSHOT: &str = "snapshots/6e6b7d9d4c1e5f0a2b3c4d5e6f708192a3b4c5d6";

    #[test]
    fn qwen2_5_14b_awq_folder_with_index() {
        let m = import_model(&fixture("qwen2.5-14b-instruct-awq")).expect("imports");
        assert_eq!(m.architecture, Architecture::Qwen2);
        assert_eq!(m.weights_bytes, Some(9_979_360_256));
        assert_eq!(m.kv_bytes_per_token(KvDtype::Auto), 196_608);
        assert_eq!(
            m.to_kdl(),
            "model \"qwen2.5-14b-instruct-awq\" {
    repo \"Qwen/Qwen2.5-14B-Instruct-AWQ\"
    quant \"awq\"
    weights \"9.98GB\"
    layers 48
    kv-heads 8
    head-dim 128
    max-context 32768
}
"
        );
    }

    #[test]
    fn qwen3_coder_bare_config() {
        let m =
            import_model(&fixture("qwen3-coder-30b-a3b-instruct/config.json")).expect("imports");
        assert_eq!(m.architecture, Architecture::Qwen3Moe);
        assert_eq!(m.kv_bytes_per_token(KvDtype::Auto), 98_304);
        assert_eq!(
            m.to_kdl(),
            "model \"qwen3-coder-30b-a3b-instruct\" {
    // repo \"ORG/NAME\"  (unknown: the Hugging Face id vLLM should serve)
    quant \"bf16\"
    // weights unknown: only config.json was read; import the model folder to measure them
    layers 48
    kv-heads 4
    head-dim 128
    max-context 262144
}
"
        );
    }

    #[test]
    fn llama_3_3_70b_in_the_hf_cache() {
        let expected = "model \"llama-3.3-70b-instruct-awq\" {
    repo \"casperhansen/llama-3.3-70b-instruct-awq\"
    quant \"awq\"
    weights \"39.80GB\"
    layers 80
    kv-heads 8
    head-dim 128
    max-context 131072
}
";
        // The snapshot folder, and the repo folder (resolved through refs/main).
        let snapshot = fixture(&format!("{LLAMA_CACHE}/{LLAMA_SNAPSHOT}"));
        let m = import_model(&snapshot).expect("imports");
        assert_eq!(m.architecture, Architecture::Llama);
        assert_eq!(m.kv_bytes_per_token(KvDtype::Auto), 327_680);
        assert_eq!(m.to_kdl(), expected);
        assert_eq!(
            import_model(&fixture(LLAMA_CACHE))
                .expect("imports")
                .to_kdl(),
            expected
        );
        // Its config.json alone still knows the repo from the cache layout.
        let bare = import_model(&snapshot.join("config.json")).expect("imports");
        assert_eq!(
            bare.repo.as_deref(),
            Some("casperhansen/llama-3.3-70b-instruct-awq")
        );
        assert_eq!(bare.weights_bytes, None);
    }

    fn qwen_config() -> String {
        fs::read_to_string(fixture("qwen2.5-14b-instruct-awq/config.json")).expect("fixture")
    }

    #[test]
    fn folder_of_real_safetensors_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("Tiny.Model_v1");
        fs::create_dir(&dir).expect("mkdir");
        fs::write(dir.join("config.json"), qwen_config()).expect("write");
        safetensors::tests::write(
            &dir.join("model-00001-of-00002.safetensors"),
            &[("embed", "F16", &[10, 8], 160), ("norm", "F16", &[8], 16)],
        );
        safetensors::tests::write(
            &dir.join("model-00002-of-00002.safetensors"),
            &[("head", "BF16", &[8, 4], 64)],
        );
        // Not counted: a subfolder and other file types.
        fs::create_dir(dir.join("original")).expect("mkdir");
        safetensors::tests::write(
            &dir.join("original/extra.safetensors"),
            &[("x", "U8", &[99], 99)],
        );
        fs::write(dir.join("tokenizer.json"), "{}").expect("write");

        let m = import_model(&dir).expect("imports");
        assert_eq!(m.weights_bytes, Some(240));
        assert_eq!(m.name, "tiny.model-v1");
        assert!(
            m.to_kdl().contains("    weights \"0.01GB\"\n"),
            "rounded up, never 0.00"
        );
    }

    #[test]
    fn relative_and_dotted_paths_keep_the_folder_name() {
        // cargo runs tests in the package root.
        let dotted = Path::new("tests/data/models/qwen2.5-14b-instruct-awq/.");
        assert_eq!(
            import_model(dotted).expect("imports").name,
            "qwen2.5-14b-instruct-awq"
        );
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("Some-Model");
        fs::create_dir_all(dir.join("sub")).expect("mkdir");
        fs::write(dir.join("config.json"), qwen_config()).expect("write");
        fs::write(dir.join(INDEX_FILE), r#"{"metadata": {"total_size": 5}}"#).expect("write");
        let m = import_model(&dir.join("sub/..")).expect("imports");
        assert_eq!((m.name.as_str(), m.weights_bytes), ("some-model", Some(5)));
    }

    #[test]
    fn format_gb_rounds_up() {
        assert_eq!(format_gb_up(9_980_000_000), "9.98GB");
        assert_eq!(format_gb_up(9_980_000_001), "9.99GB");
        assert_eq!(format_gb_up(0), "0.00GB");
        assert_eq!(format_gb_up(1), "0.01GB");
        assert_eq!(format_gb_up(41_600_000_000), "41.60GB");
        assert_eq!(format_gb_up(u64::MAX), "18446744073.71GB");
    }

    fn model_dir(config: &str) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("m");
        fs::create_dir(&dir).expect("mkdir");
        fs::write(dir.join("config.json"), config).expect("write");
        (tmp, dir)
    }

    #[test]
    fn error_cases() {
        let err = |p: &Path| import_model(p).expect_err("fails");

        let (_t, dir) = model_dir(&qwen_config().replace("\"qwen2\"", "\"phi3\""));
        let e = err(&dir);
        assert!(matches!(&e, ImportError::UnknownArchitecture { found, .. } if found == "phi3"));
        assert_eq!(
            e.to_string(),
            format!(
                "{}: model type `phi3` is not supported (strixc reads qwen2, qwen3, qwen3_moe, \
                 llama and mistral); write the model node by hand",
                dir.join("config.json").display()
            )
        );

        let (_t, dir) =
            model_dir(&qwen_config().replace("\"max_position_embeddings\"", "\"max_pos\""));
        assert!(matches!(
            err(&dir),
            ImportError::MissingField {
                field: "max_position_embeddings",
                ..
            }
        ));

        let (_t, dir) = model_dir(&qwen_config());
        let e = err(&dir);
        assert!(matches!(e, ImportError::NoWeights { .. }));
        assert!(e.to_string().ends_with(
            "has neither model.safetensors.index.json nor *.safetensors files: download the \
             weights first, or import its config.json alone to get a node without weights"
        ));

        fs::write(dir.join("model.safetensors"), [7, 0, 0]).expect("write");
        assert!(matches!(err(&dir), ImportError::Truncated { .. }));
        let mut absurd = (1u64 << 40).to_le_bytes().to_vec();
        absurd.extend_from_slice(b"{}");
        fs::write(dir.join("model.safetensors"), absurd).expect("write");
        assert!(matches!(err(&dir), ImportError::HeaderTooLarge { len, .. } if len == 1 << 40));

        fs::write(
            dir.join(INDEX_FILE),
            r#"{"metadata": {"total_size": "big"}}"#,
        )
        .expect("write");
        assert!(matches!(err(&dir), ImportError::IndexTotalSize { .. }));
        fs::write(
            dir.join(INDEX_FILE),
            r#"{"metadata": {"total_size": 1.5e9}}"#,
        )
        .expect("write");
        assert_eq!(
            import_model(&dir).expect("float total").weights_bytes,
            Some(1_500_000_000)
        );

        let (_t, dir) = model_dir("{not json");
        assert!(matches!(
            err(&dir.join("config.json")),
            ImportError::Json { .. }
        ));
        let (_t, dir) = model_dir("{}");
        fs::remove_file(dir.join("config.json")).expect("rm");
        assert!(matches!(err(&dir), ImportError::NoConfig { .. }));
        assert!(matches!(err(&dir.join("nope")), ImportError::Read { .. }));
    }
}
