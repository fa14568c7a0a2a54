//! Secure by default: no secrets in unit files, loopback unless the stack says otherwise,
//! only known placeholders in native commands.

use crate::check::problems::{
    ExposedBind, SecretEnvNative, SecretInEnvironment, SecretValue, UnknownPlaceholder,
};
use crate::diagnostic::Diagnostics;
use crate::stack::placeholder::{Placeholder, placeholder_names};
use crate::stack::{Launch, QuadletEntry, Stack};

/// Words of a variable name (split at `_` and `-`) that make its value a credential:
/// those go through `secret`, by name. Whole words only, so `TOKENIZERS_PARALLELISM` and
/// `VLLM_MAX_TOKENS_PER_BATCH` are not secrets.
const SECRET_WORDS: [&str; 14] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD",
    "PASSPHRASE",
    "APIKEY",
    "KEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "AUTH",
    "BEARER",
    "PRIVATE",
];

/// Word endings that name a credential even glued to another word (`PGPASS`, `HFTOKEN`).
const SECRET_SUFFIXES: [&str; 5] = ["PASSWORD", "PASSWD", "PASS", "TOKEN", "APIKEY"];

/// Whether a variable name says its value is a credential.
pub fn is_secret_name(name: &str) -> bool {
    name.to_ascii_uppercase().split(['_', '-']).any(|word| {
        SECRET_WORDS.contains(&word) || SECRET_SUFFIXES.iter().any(|s| word.ends_with(s))
    })
}

/// What a value looks like when it is a credential: "a Hugging Face token", ...
pub fn secret_shape(value: &str) -> Option<&'static str> {
    if value.contains("-----BEGIN ") {
        return Some("a PEM block");
    }
    if url_with_password(value) {
        return Some("a URL with a password");
    }
    let tokens = value.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    for token in tokens {
        let tail = |prefix: &str, min: usize, allowed: fn(char) -> bool| {
            token
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.len() >= min && rest.chars().all(allowed))
        };
        let alnum = |c: char| c.is_ascii_alphanumeric();
        let key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        let upper = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit();
        if tail("hf_", 30, alnum) {
            return Some("a Hugging Face token");
        }
        if tail("sk-", 20, key_char) {
            return Some("an API key (sk-…)");
        }
        if ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]
            .iter()
            .any(|p| tail(p, 20, key_char))
        {
            return Some("a GitHub token");
        }
        if (tail("AKIA", 16, upper) || tail("ASIA", 16, upper)) && token.len() == 20 {
            return Some("an AWS access key");
        }
    }
    None
}

/// `scheme://user:password@host/…`
fn url_with_password(value: &str) -> bool {
    value.match_indices("://").any(|(at, _)| {
        let rest = &value[at + 3..];
        let authority = rest.split(['/', '?', '#', ' ']).next().unwrap_or("");
        authority.rsplit_once('@').is_some_and(|(userinfo, _)| {
            userinfo.split_once(':').is_some_and(|(_, p)| !p.is_empty())
        })
    })
}

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    for runtime in &stack.runtimes {
        for (key, value) in &runtime.env {
            if runtime.env_not_secret.contains(&key.value) {
                continue;
            }
            if is_secret_name(&key.value) {
                d.emit(
                    SecretInEnvironment {
                        key: key.value.clone(),
                    },
                    key.span,
                );
            } else if let Some(shape) = secret_shape(&value.value) {
                d.emit(
                    SecretValue {
                        key: key.value.clone(),
                        shape,
                    },
                    value.span,
                );
            }
        }
        quadlet_secrets(&runtime.quadlet, d);
        match &runtime.launch {
            Some(Launch::Native { command }) => {
                for arg in command {
                    for placeholder in placeholder_names(&arg.value) {
                        if Placeholder::parse(placeholder).is_none() {
                            d.emit(
                                UnknownPlaceholder {
                                    placeholder: placeholder.to_owned(),
                                },
                                arg.span,
                            );
                        }
                    }
                }
                // systemd hands a native program its secrets as files only.
                for secret in &runtime.secrets {
                    if let Some(env) = &secret.env {
                        d.emit(
                            SecretEnvNative {
                                secret: secret.name.value.clone(),
                                env: env.value.clone(),
                            },
                            env.span,
                        );
                    }
                }
            }
            Some(Launch::Container { .. }) | None => {}
        }
    }
    for agent in &stack.agents {
        quadlet_secrets(&agent.quadlet, d);
        if let Some(bind) = &agent.bind
            && !bind.value.is_loopback()
        {
            d.emit(
                ExposedBind {
                    agent: agent.name.value.clone(),
                    address: bind.value.to_string(),
                },
                bind.span,
            );
        }
    }
}

/// `quadlet … "Environment" "NAME=value …"` and any secret-shaped quadlet value.
fn quadlet_secrets(entries: &[QuadletEntry], d: &mut Diagnostics) {
    for entry in entries.iter().filter(|e| !e.not_secret) {
        let named = (entry.key.value == "Environment")
            .then(|| {
                entry
                    .value
                    .value
                    .split_whitespace()
                    .filter_map(|word| word.trim_matches('"').split_once('='))
                    .map(|(name, _)| name)
                    .find(|name| is_secret_name(name))
            })
            .flatten();
        if let Some(name) = named {
            d.emit(
                SecretInEnvironment {
                    key: name.to_owned(),
                },
                entry.value.span,
            );
        } else if let Some(shape) = secret_shape(&entry.value.value) {
            d.emit(
                SecretValue {
                    key: entry.key.value.clone(),
                    shape,
                },
                entry.value.span,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_match_whole_words() {
        for innocent in [
            "TOKENIZERS_PARALLELISM",
            "VLLM_MAX_TOKENS_PER_BATCH",
            "HF_HOME",
            "VLLM_ROCM_USE_AITER",
            "PATH",
        ] {
            assert!(!is_secret_name(innocent), "{innocent}");
        }
        for secret in [
            "HF_TOKEN",
            "APIKEY",
            "OPENAI_KEY",
            "PRIVATE_KEY",
            "PGPASS",
            "PGPASSWORD",
            "HF_AUTH",
            "AUTH_BEARER",
            "OPENAI_API_KEY",
            "db-password",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(is_secret_name(secret), "{secret}");
        }
    }

    #[test]
    fn secret_shaped_values() {
        let hf = format!("hf_{}", "a1B2".repeat(9));
        assert_eq!(secret_shape(&hf), Some("a Hugging Face token"));
        assert_eq!(
            secret_shape(&format!("Bearer sk-{}", "x".repeat(40))),
            Some("an API key (sk-…)")
        );
        assert_eq!(
            secret_shape(&format!("ghp_{}", "Z9".repeat(18))),
            Some("a GitHub token")
        );
        assert_eq!(
            secret_shape("AKIAIOSFODNN7EXAMPLE"),
            Some("an AWS access key")
        );
        assert_eq!(
            secret_shape("-----BEGIN OPENSSH PRIVATE KEY-----"),
            Some("a PEM block")
        );
        assert_eq!(
            secret_shape("postgres://app:hunter2@db:5432/app"),
            Some("a URL with a password")
        );
        for innocent in [
            "0",
            "%h/.cache/huggingface",
            "hf_transfer",
            "sk-short",
            "https://user@example.com/x",
            "https://example.com/a:b@c",
            "http://127.0.0.1:8001/health",
            "AKIA-not-a-key",
        ] {
            assert_eq!(secret_shape(innocent), None, "{innocent}");
        }
    }
}
