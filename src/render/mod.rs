//! Rendering: the plan's numbers into file text, with minijinja over `units/*.tera` (Jinja
//! syntax; embedded in the binary) and systemd's quoting rules as filters. One function per
//! kind of file; each computes its lists in Rust and leaves the template only the layout.
//!
//! The JSON files (OpenCode's two, the manifest) are serialized with serde_json instead:
//! JSON cannot carry a header comment, and serde escapes strings correctly by construction.

mod agent;
pub mod escape;
mod gateway;
mod host;
mod opencode;
mod target;

use std::sync::OnceLock;

use minijinja::value::{Kwargs, Serde, Value, ValueKind};
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;

pub use agent::{AgentFile, agent_path, agent_unit, health_url};
pub use gateway::gateway_units;
pub use host::{cmdline, earlyoom, modprobe, swap, swap_creator, sysctl};
pub use opencode::{oh_my_opencode, opencode};
pub use target::{slice, target};

/// A template failed to render: a bug in strixc (the templates are fixed at build time).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rendering {template}: {message}")]
pub struct RenderError {
    pub template: &'static str,
    pub message: String,
}

const TEMPLATES: [(&str, &str); 12] = [
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
    (
        "gateway-socket",
        include_str!("../../units/gateway-socket.tera"),
    ),
    (
        "gateway-service",
        include_str!("../../units/gateway-service.tera"),
    ),
];

/// The template environment, parsed once per process (1,000-agent stacks render 1,200 files).
struct Templates {
    env: Environment<'static>,
}

/// Parses the templates on another thread while the caller does something else (parse and
/// check the stack). Rendering waits for it.
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
            let mut env = Environment::new();
            // Unit files are not HTML: nothing is escaped but by the filters below.
            env.set_auto_escape_callback(|_| AutoEscape::None);
            // A misspelt variable is a bug, not an empty string in a unit. As in tera, an
            // `{% if %}` on a missing variable is false (SemiStrict); printing or looping
            // over one is an error.
            env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
            for (name, source) in TEMPLATES {
                env.add_template(name, source).map_err(|e| RenderError {
                    template: "units/*.tera",
                    message: error_chain(&e),
                })?;
            }
            env.add_filter("systemd_exec_arg", |v: &Value| {
                each_string(v, escape::exec_arg)
            });
            env.add_filter("escape_specifiers", |v: &Value| {
                each_string(v, escape::escape_specifiers)
            });
            env.add_filter("escape_dollars", |v: &Value| {
                each_string(v, escape::escape_dollars)
            });
            env.add_filter(
                "systemd_env",
                |v: &Value, kwargs: Kwargs| -> Result<String, minijinja::Error> {
                    let container = kwargs.get::<Option<bool>>("container")?.unwrap_or(false);
                    // A misspelt keyword is a bug in a template, not a silent default.
                    kwargs.assert_all_used()?;
                    each_string(v, |s| {
                        let (key, value) = s.split_once('=').unwrap_or((s, ""));
                        escape::env_assignment(key, value, container)
                    })
                },
            );
            Ok(Templates { env })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Applies `f` to a string, or to each item of a list (a command line), joined by spaces.
fn each_string(value: &Value, f: impl Fn(&str) -> String) -> Result<String, minijinja::Error> {
    let one = |v: &Value| match v.as_str() {
        Some(s) => Ok(f(s)),
        None => Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("expected a string, got {v}"),
        )),
    };
    match value.kind() {
        ValueKind::Seq => {
            let words = value
                .try_iter()?
                .map(|item| one(&item))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(words.join(" "))
        }
        _ => one(value),
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
    let bug = |e: minijinja::Error| RenderError {
        template: name,
        message: error_chain(&e),
    };
    let mut text = templates
        .env
        .get_template(name)
        .and_then(|t| t.render(Serde(context)))
        .map_err(bug)?;
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

#[cfg(test)]
mod tests {
    use minijinja::context;

    use super::*;

    fn render_str(source: &str, ctx: Value) -> Result<String, minijinja::Error> {
        templates()
            .expect("templates parse")
            .env
            .render_str(source, ctx)
    }

    #[test]
    fn every_template_parses() {
        // Registering a template parses it: one that does not parse fails here.
        if let Err(e) = templates() {
            panic!("{e:#}");
        }
    }

    #[test]
    fn an_undefined_variable_is_an_error_not_an_empty_value() {
        assert!(render_str("After={{ after_agnets }}", context! {}).is_err());
        assert!(render_str("{% for d in devcies %}{{ d }}{% endfor %}", context! {}).is_err());
        assert!(render_str("{{ health.cmd }}", context! { health => () }).is_err());
        // As with tera: a test on a missing variable is false, not an error.
        assert_eq!(
            render_str("a{% if gone %}b{% endif %}", context! {}).expect("renders"),
            "a"
        );
    }

    #[test]
    fn nothing_is_html_escaped() {
        let text = "a<b>&\"c'";
        for name in ["unit.html", "container"] {
            let env = &templates().expect("templates parse").env;
            let out = env
                .render_named_str(name, "{{ v }}", context! { v => text })
                .expect("renders");
            assert_eq!(out, text, "{name}");
        }
    }

    #[test]
    fn filters_escape_each_word_of_a_list_and_join_with_spaces() {
        let words = vec!["/bin/serve", "a b", "%h", "$HOME", ""];
        let expected: Vec<String> = words.iter().map(|w| escape::exec_arg(w)).collect();
        assert_eq!(
            render_str("{{ w | systemd_exec_arg }}", context! { w => words }).expect("renders"),
            expected.join(" ")
        );
        assert_eq!(
            render_str("{{ w | escape_specifiers }}", context! { w => "50%/%h" }).expect("renders"),
            escape::escape_specifiers("50%/%h")
        );
        assert_eq!(
            render_str("{{ w | escape_dollars }}", context! { w => "/d/${X}:/m" })
                .expect("renders"),
            escape::escape_dollars("/d/${X}:/m")
        );
        assert!(render_str("{{ w | systemd_exec_arg }}", context! { w => 3 }).is_err());
    }

    #[test]
    fn systemd_env_takes_the_container_keyword() {
        let assignment = "CACHE=%h/c $X";
        let render =
            |source: &str| render_str(source, context! { a => assignment }).expect("renders");
        let container = render("{{ a | systemd_env(container=true) }}");
        let native = render("{{ a | systemd_env(container=false) }}");
        assert_eq!(container, escape::env_assignment("CACHE", "%h/c $X", true));
        assert_eq!(native, escape::env_assignment("CACHE", "%h/c $X", false));
        assert_ne!(container, native);
        assert_eq!(render("{{ a | systemd_env }}"), native);
        assert!(
            render_str(
                "{{ a | systemd_env(contianer=true) }}",
                context! { a => "K=v" }
            )
            .is_err()
        );
    }
}
