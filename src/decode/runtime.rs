//! `runtime "vllm" { ... }`: a server program, as a container image or a native command.

use kdl::KdlNode;

use super::entries::Entries;
use super::fields::{self, Field, field};
use super::node::{
    args_and_props, children, label, marked_not_secret, missing_argument, named_arg, named_node,
    no_children, optional_arg_and_props, two_args,
};
use super::quadlet::quadlet_entry;
use super::values;
use crate::decode::problems::{RuntimeKindAmbiguous, RuntimeKindMissing};
use crate::diagnostic::{Diagnostics, Thing};
use crate::stack::{Engine, HealthCheck, Launch, Runtime, Secret, Spanned, Text};

pub static FIELDS: [Field<Runtime>; 9] = [
    field("engine", "the server program: vllm or llama.cpp")
        .expects("an engine")
        .one(|r, e, d| {
            if let Some(engine) = values::choice(e, "engine", Engine::NAMES, Engine::parse, d) {
                r.engine = engine;
            }
        }),
    field("image", "the container image it runs")
        .expects("an image reference")
        .one(|r, e, d| {
            if let Some(image) = values::string(e, "the image", d) {
                r.launch = Some(Launch::Container { image });
            }
        }),
    field("command", "the native program and its arguments").node(|r, node, d| {
        let command = command_args(node, d);
        // A valid image wins here; `decode` then reports both and keeps neither.
        if !command.is_empty() && r.launch.is_none() {
            r.launch = Some(Launch::Native { command });
        }
    }),
    field("device", "a device the container gets")
        .expects("a device path")
        .each(|r, e, d| r.devices.extend(values::string(e, "a device", d))),
    field("env", "an environment variable").many(env),
    field("secret", "a secret, by name").many(|r, node, d| r.secrets.extend(secret(node, d))),
    field("volume", "a host path mounted into the container")
        .many(|r, node, d| r.volumes.extend(volume(node, d))),
    field("health", "the health endpoint and its timing")
        .node(|r, node, d| r.health = decode_health(node, d)),
    field("quadlet", "a line for its agents' units")
        .many(|r, node, d| r.quadlet.extend(quadlet_entry(node, d))),
];

pub fn decode(node: &KdlNode, d: &mut Diagnostics) -> Option<Runtime> {
    let name = named_node(node, Thing::Runtime, d);
    let label = label(Thing::Runtime, name.as_ref());
    let span = name.as_ref().map_or(node.name().span(), |n| n.span);
    let mut runtime = Runtime {
        engine: Spanned::new(Engine::Vllm, span),
        ..Runtime::default()
    };
    let seen = fields::decode(children(node), &label, &FIELDS, &mut runtime, d);
    let name = name?;
    match (seen.span("image"), seen.span("command")) {
        (Some(image), Some(command)) => {
            // The second of the two is the mistake.
            let runtime_name = name.value.clone();
            d.emit(
                RuntimeKindAmbiguous {
                    runtime: runtime_name,
                },
                image.max(command),
            );
            // Kept only when the image itself was broken, as the command is then all
            // there is.
            if matches!(runtime.launch, Some(Launch::Container { .. })) {
                runtime.launch = None;
            }
        }
        (None, None) => d.emit(
            RuntimeKindMissing {
                runtime: name.value.clone(),
            },
            name.span,
        ),
        _ => {}
    }
    Some(Runtime { name, ..runtime })
}

/// `command "/usr/bin/llama-server" "-m" "{model}" ...`: one program argument per KDL
/// argument, so no shell ever splits or expands them.
fn command_args(node: &KdlNode, d: &mut Diagnostics) -> Vec<Text> {
    let mut entries = Entries::new(node);
    let args = entries.args();
    entries.finish(usize::MAX, &[], d);
    no_children(node, d);
    if args.is_empty() {
        missing_argument(node, "the program and its arguments", d);
    }
    let args: Vec<Text> = args
        .into_iter()
        .filter_map(|e| values::string(e, "a command argument", d))
        .collect();
    if let Some(program) = args.first()
        && !program.value.starts_with('/')
    {
        values::invalid(
            "program",
            &program.value,
            "an absolute path, like \"/usr/bin/llama-server\"",
            program.span,
            d,
        );
    }
    args
}

/// `env "HF_HOME" "/models" secret=#false`
fn env(runtime: &mut Runtime, node: &KdlNode, d: &mut Diagnostics) {
    let what = "a variable name and its value";
    let Some(([key, value], props)) = args_and_props::<2>(node, what, &["secret"], d) else {
        return;
    };
    // Name each half in a diagnostic: "the value of `HF_HOME`", not "a variable and its value".
    let value_what = match key.value() {
        kdl::KdlValue::String(k) if !k.chars().any(char::is_control) => {
            format!("the value of `{k}`")
        }
        _ => "an environment variable's value".to_owned(),
    };
    let names = ("an environment variable name", value_what.as_str());
    let (key, value) = values::text_pair(key, value, names, d);
    let key = key.and_then(|k| {
        let valid = k
            .value
            .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && values::is_word(&k.value, "_");
        let expected = "letters, digits and '_', not starting with a digit";
        values::checked(k, valid, "environment variable name", expected, d)
    });
    let (Some(key), Some(value)) = (key, value) else {
        return;
    };
    if marked_not_secret(props[0], d) {
        runtime.env_not_secret.push(key.value.clone());
    }
    runtime.env.push((key, value));
}

/// `volume "%h/models" "/models"`
fn volume(node: &KdlNode, d: &mut Diagnostics) -> Option<(Text, Text)> {
    let (host, container) = two_args(node, "a host path and a container path", d)?;
    let names = ("a volume's host path", "a volume's container path");
    match values::text_pair(host, container, names, d) {
        (Some(host), Some(container)) => Some((host, container)),
        _ => None,
    }
}

/// `secret "hf-token" env="HF_TOKEN"`: created on the host (`podman secret create`,
/// `systemd-creds`), referenced here by name only.
fn secret(node: &KdlNode, d: &mut Diagnostics) -> Option<Secret> {
    let (name, [env]) = optional_arg_and_props(node, ["env"], d);
    let env = env.and_then(|e| values::string(e, "the secret's variable", d));
    let name = named_arg(node, name, Thing::Secret, d)?;
    Some(Secret { name, env })
}

/// `health "/health" interval="30s" start-period="15m"`
fn decode_health(node: &KdlNode, d: &mut Diagnostics) -> Option<HealthCheck> {
    let (path, [interval, start_period]) =
        optional_arg_and_props(node, ["interval", "start-period"], d);
    let interval_ms = interval.and_then(|e| values::duration(e, "the health interval", d));
    let start_period_ms =
        start_period.and_then(|e| values::duration(e, "the health start period", d));
    let Some(path) = path else {
        missing_argument(node, "the health endpoint's path, like \"/health\"", d);
        return None;
    };
    let path = values::string(path, "the health path", d)?;
    let valid = path.value.starts_with('/')
        && path
            .value
            .chars()
            .all(|c| c.is_ascii_graphic() && !"'\"\\%$`".contains(c));
    if !valid {
        values::invalid(
            "health path",
            &path.value,
            "a URL path like \"/health\" (no quotes, '%', '$' or backslashes)",
            path.span,
            d,
        );
        return None;
    }
    Some(HealthCheck {
        path,
        interval_ms,
        start_period_ms,
    })
}
