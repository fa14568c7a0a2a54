//! The model node's name and repo, from where the model lives. Pure (paths as text).

use std::path::Path;

/// Longest model name the stack accepts.
pub const MAX_NAME_LEN: usize = 64;

/// A model name as the stack accepts it (`[a-z][a-z0-9.-]*`, at most 64 characters; dots are
/// allowed in model names because versions have them) from any text: lowercased, every
/// other character mapped to `-`, runs of `-` collapsed, leading non-letters and trailing
/// `-`/`.` stripped. `None` when nothing is left.
/// `Qwen2.5-14B-Instruct-AWQ` → `qwen2.5-14b-instruct-awq`.
pub fn model_name(raw: &str) -> Option<String> {
    let mut name = String::with_capacity(raw.len());
    for c in raw.chars().map(|c| c.to_ascii_lowercase()) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' {
            c
        } else {
            '-'
        };
        if name.is_empty() && !c.is_ascii_lowercase() {
            continue;
        }
        if c == '-' && name.ends_with('-') {
            continue;
        }
        if name.len() == MAX_NAME_LEN {
            break;
        }
        name.push(c);
    }
    while name.ends_with(['-', '.']) {
        name.pop();
    }
    (!name.is_empty()).then_some(name)
}

/// Whether `s` is a Hugging Face repo id `org/name` (not a local path).
pub fn is_repo_id(s: &str) -> bool {
    let part = |p: &str| {
        p.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && p.len() <= 96
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && !p.contains("..")
    };
    matches!(s.split_once('/'), Some((org, name)) if part(org) && part(name))
}

/// In the Hugging Face cache a model lives in `models--ORG--NAME/snapshots/HASH/`: the repo
/// id `ORG/NAME` (or `NAME` for the few repos without an org) for such a folder.
pub fn hf_cache_repo(folder: &Path) -> Option<String> {
    let mut up = folder.iter().rev();
    let _hash = up.next()?;
    if up.next()? != "snapshots" {
        return None;
    }
    let encoded = up.next()?.to_str()?.strip_prefix("models--")?;
    let repo = match encoded.split_once("--") {
        Some((org, name)) => format!("{org}/{name}"),
        None => encoded.to_owned(),
    };
    (is_repo_id(&repo) || (!repo.contains('/') && is_repo_id(&format!("x/{repo}")))).then_some(repo)
}

/// The node's name and repo for a model in `folder` whose config has `name_or_path`:
/// the cache's repo id, else `_name_or_path` when it is a repo id. The name comes from the
/// repo's model part in the cache (the folder itself is a hash), else from the folder name,
/// else from `fallback` (the model type).
pub fn name_and_repo(
    folder: &Path,
    name_or_path: Option<&str>,
    fallback: &str,
) -> (String, Option<String>) {
    let cached = hf_cache_repo(folder);
    let name = match &cached {
        Some(repo) => repo.rsplit('/').next().and_then(model_name),
        None => folder
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(model_name),
    };
    let repo = cached.or_else(|| name_or_path.filter(|s| is_repo_id(s)).map(str::to_owned));
    let name = name
        .or_else(|| model_name(fallback))
        .unwrap_or_else(|| "model".to_owned());
    (name, repo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names() {
        let cases = [
            ("Qwen2.5-14B-Instruct-AWQ", Some("qwen2.5-14b-instruct-awq")),
            ("Llama-3.3-70B-Instruct", Some("llama-3.3-70b-instruct")),
            ("model.", Some("model")),
            ("qwen3_moe", Some("qwen3-moe")),
            ("123abc", Some("abc")),
            ("__Foo__Bar__", Some("foo-bar")),
            ("7B", Some("b")),
            ("7--_", None),
            ("", None),
            ("Ünïcode Möde", Some("n-code-m-de")),
        ];
        for (raw, want) in cases {
            assert_eq!(model_name(raw).as_deref(), want, "{raw}");
        }
        let long = model_name(&format!("{}-x", "a".repeat(63))).expect("a name");
        assert_eq!(long, "a".repeat(63), "cut at 64, trailing '-' stripped");
    }

    #[test]
    fn repo_ids() {
        assert!(is_repo_id("Qwen/Qwen2.5-14B-Instruct-AWQ"));
        assert!(is_repo_id("casperhansen/llama-3.3-70b-instruct-awq"));
        for s in [
            "/models/x",
            "./x/y",
            "x",
            "a/b/c",
            "a/",
            "/b",
            "a/..",
            "a/b c",
            "~/m",
        ] {
            assert!(!is_repo_id(s), "{s}");
        }
    }

    #[test]
    fn hf_cache_layout() {
        let p = Path::new(
            "/root/.cache/huggingface/hub/models--Qwen--Qwen2.5-7B-Instruct-AWQ/snapshots/abc123",
        );
        assert_eq!(
            hf_cache_repo(p).as_deref(),
            Some("Qwen/Qwen2.5-7B-Instruct-AWQ")
        );
        assert_eq!(
            name_and_repo(p, Some("/tmp/x"), "qwen2"),
            (
                "qwen2.5-7b-instruct-awq".to_owned(),
                Some("Qwen/Qwen2.5-7B-Instruct-AWQ".to_owned())
            )
        );
        assert_eq!(
            hf_cache_repo(Path::new("/hub/models--gpt2/snapshots/h")).as_deref(),
            Some("gpt2")
        );
        assert_eq!(
            hf_cache_repo(Path::new("/hub/models--Qwen--X/blobs/h")),
            None
        );
        assert_eq!(
            hf_cache_repo(Path::new("/hub/models--a b--c/snapshots/h")),
            None
        );
        assert_eq!(hf_cache_repo(Path::new("snapshots/h")), None);
    }

    #[test]
    fn plain_folders() {
        let p = Path::new("/models/Qwen2.5-14B-Instruct-AWQ");
        assert_eq!(
            name_and_repo(p, Some("Qwen/Qwen2.5-14B-Instruct-AWQ"), "qwen2"),
            (
                "qwen2.5-14b-instruct-awq".to_owned(),
                Some("Qwen/Qwen2.5-14B-Instruct-AWQ".to_owned())
            )
        );
        assert_eq!(name_and_repo(p, Some("/data/ckpt"), "qwen2").1, None);
        assert_eq!(
            name_and_repo(Path::new("/m/2025"), None, "qwen3_moe").0,
            "qwen3-moe"
        );
        assert_eq!(name_and_repo(Path::new("/"), None, "").0, "model");
    }
}
