//! Secure by default: no secrets in unit files, loopback unless the stack says otherwise,
//! only known placeholders in native commands.

use crate::diagnostic::{Diagnostics, Kind};
use crate::model::{Launch, Stack};

/// Variable names whose values are credentials: those go through `secret`, by name.
const SECRET_WORDS: [&str; 6] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "API_KEY",
    "CREDENTIAL",
];

/// What `{…}` in a native command may name.
pub const PLACEHOLDERS: [&str; 4] = ["port", "host", "model", "context"];

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    for runtime in &stack.runtimes {
        for (key, _) in &runtime.env {
            let upper = key.value.to_ascii_uppercase();
            if SECRET_WORDS.iter().any(|w| upper.contains(w)) {
                d.emit(
                    Kind::SecretInEnvironment {
                        key: key.value.clone(),
                    },
                    key.span,
                );
            }
        }
        if let Some(Launch::Native { command }) = &runtime.launch {
            for arg in command {
                for placeholder in placeholders(&arg.value) {
                    if !PLACEHOLDERS.contains(&placeholder) {
                        d.emit(
                            Kind::UnknownPlaceholder {
                                placeholder: placeholder.to_owned(),
                            },
                            arg.span,
                        );
                    }
                }
            }
        }
    }
    for agent in &stack.agents {
        if let Some(bind) = &agent.bind {
            if !bind.value.is_loopback() {
                d.emit(
                    Kind::ExposedBind {
                        agent: agent.name.value.clone(),
                        address: bind.value.to_string(),
                    },
                    bind.span,
                );
            }
        }
    }
}

/// The names inside `{…}` in a command argument.
pub fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
}
