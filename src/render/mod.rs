//! Rendering: the plan's numbers into file text, with tera over `units/*.tera` (embedded in
//! the binary) and systemd's quoting rules as filters. One function per kind of file; each
//! computes its lists in Rust and leaves the template only the layout.
//!
//! The JSON files (OpenCode's two, the manifest) are serialized with serde_json instead:
//! JSON cannot carry a header comment, and serde escapes strings correctly by construction.

mod agent;
pub mod escape;
mod host;
mod opencode;
mod target;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;
use tera::{Tera, Value};

pub use agent::{AgentFile, agent_path, agent_unit, health_url};
pub use host::{
    cmdline, earlyoom, earlyoom_regex_ok, modprobe, swap, swap_creator, swap_creator_name,
    swap_unit_name, sysctl,
};
pub use opencode::{oh_my_opencode, opencode};
pub use target::{slice, target};

/// A template failed to render: a bug in strixc (the templates are fixed at build time).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rendering {template}: {message}")]
pub struct RenderError {
    pub template: &'static str,
    pub message: String,
}

const TEMPLATES: [(&str, &str); 10] = [
    ("container", include_str!("../../units/container.tera")),
    ("service", include_str!("../../units/service.tera")),
    ("target", include_str!("../../units/target.tera")),
    ("slice", include_str!("../../units/slice.tera")),
    ("swap", include_str!("../../units/swap.tera")),
    ("swapfile", include_str!("../../units/swapfile.tera")),
    ("sysctl", include_str!("../../units/sysctl.tera")),
    ("modprobe", include_str!("../../units/modprobe.tera")),
    ("earlyoom", include_str!("../../units/earlyoom.tera")),
    ("cmdline", include_str!("../../units/cmdline.tera")),
];

/// The tera instance, parsed once per process (1,000-agent stacks render 1,200 files).
struct Templates {
    tera: Tera,
}

/// Parses the templates on another thread while the caller does something else (parse and
/// check the stack): tera's parser takes a few milliseconds, as long as the rest of a
/// small build. Rendering waits for it.
pub fn prepare() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(|| {
            let _ = templates();
        });
    });
}

fn templates() -> Result<&'static Templates, RenderError> {
    static TEMPLATES_ONCE: OnceLock<Result<Templates, RenderError>> = OnceLock::new();
    TEMPLATES_ONCE
        .get_or_init(|| {
            let mut tera = Tera::default();
            tera.autoescape_on(Vec::new());
            tera.add_raw_templates(TEMPLATES).map_err(|e| RenderError {
                template: "units/*.tera",
                message: error_chain(&e),
            })?;
            tera.register_filter(
                "systemd_exec_arg",
                string_filter(|s, _| escape::exec_arg(s)),
            );
            tera.register_filter(
                "escape_specifiers",
                string_filter(|s, _| escape::escape_specifiers(s)),
            );
            tera.register_filter(
                "escape_dollars",
                string_filter(|s, _| escape::escape_dollars(s)),
            );
            tera.register_filter(
                "systemd_env",
                string_filter(|s, args| {
                    let container = args
                        .get("container")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let (key, value) = s.split_once('=').unwrap_or((s, ""));
                    escape::env_assignment(key, value, container)
                }),
            );
            Ok(Templates { tera })
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn string_filter(
    f: impl Fn(&str, &HashMap<String, Value>) -> String + Send + Sync + 'static,
) -> impl tera::Filter {
    move |value: &Value, args: &HashMap<String, Value>| -> tera::Result<Value> {
        let one = |v: &Value| match v.as_str() {
            Some(s) => Ok(f(s, args)),
            None => Err(tera::Error::msg(format!("expected a string, got {v}"))),
        };
        match value {
            // A list (a command line): each item, joined by spaces.
            Value::Array(items) => {
                let words = items.iter().map(one).collect::<tera::Result<Vec<_>>>()?;
                Ok(Value::String(words.join(" ")))
            }
            _ => one(value).map(Value::String),
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

/// Renders template `name` with `context`.
fn render(name: &'static str, context: &impl Serialize) -> Result<String, RenderError> {
    let templates = templates()?;
    let context = tera::Context::from_serialize(context).map_err(|e| RenderError {
        template: name,
        message: error_chain(&e),
    })?;
    let mut text = templates
        .tera
        .render(name, &context)
        .map_err(|e| RenderError {
            template: name,
            message: error_chain(&e),
        })?;
    // Exactly one newline at the end, whatever the template's last tag left.
    text.truncate(text.trim_end_matches('\n').len());
    text.push('\n');
    Ok(text)
}

/// The first line of every file whose format allows comments. It names the stack, never
/// the file it was read from: the same stack through another path must give the same
/// bytes, or every apply through it would restart every agent.
pub fn header(stack: &str) -> String {
    format!(
        "# Generated by strixc from stack {stack}. Do not edit: change the stack file and run `strixc build`."
    )
}
