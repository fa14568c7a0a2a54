//! The thin I/O of an import: find the model's config.json (a folder, a Hugging Face
//! cache folder, or the file itself), read JSON files within bounds, size the weights.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use walkdir::WalkDir;

use super::config::ModelConfig;
use super::model::ImportedModel;
use super::{INDEX_FILE, ImportError, MAX_JSON_BYTES, safetensors};

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
    let mut files = safetensors_files(dir)?;
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

/// The folder's own `*.safetensors` files (not subfolders'), by name.
fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
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
    Ok(files)
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
    use crate::import::Architecture;
    use crate::plan::budget::KvDtype;

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
