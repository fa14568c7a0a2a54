//! `runtime "vllm" { engine; image | command; device; env; secret; volume; health; quadlet }`

use kdl::KdlNode;

use super::entries::Entries;
use super::{
    Seen, args_and_props, children, field, marked_not_secret, no_children, quadlet_entry, two_args,
    unknown_node, values,
};
use crate::diagnostic::{Diagnostics, Kind, Thing};
use crate::stack::{Engine, Health, Launch, Runtime, Secret, Spanned, Text};

const FIELDS: [&str; 9] = [
    "engine", "image", "command", "device", "env", "secret", "volume", "health", "quadlet",
];

pub fn decode(node: &KdlNode, d: &mut Diagnostics) -> Option<Runtime> {
    let name = super::stack::named_node(node, Thing::Runtime, d);
    let parent = match &name {
        Some(n) => format!("runtime `{}`", n.value),
        None => "`runtime`".to_owned(),
    };
    let mut seen = Seen::new();
    let mut engine = None;
    let mut image: Option<Text> = None;
    let mut command: Option<Vec<Text>> = None;
    let mut runtime_devices = Vec::new();
    let mut env = Vec::new();
    let mut env_not_secret = Vec::new();
    let mut secrets = Vec::new();
    let mut volumes = Vec::new();
    let mut health = None;
    let mut quadlet = Vec::new();
    let mut kind_conflict = None;
    for child in children(node) {
        match child.name().value() {
            "engine" => {
                if seen.first("engine", child, &parent, d) {
                    engine = field(child, "an engine", d)
                        .and_then(|e| values::choice(e, "engine", Engine::NAMES, Engine::parse, d));
                }
            }
            "image" => {
                if seen.first("image", child, &parent, d) {
                    if seen.0.contains(&"command") {
                        kind_conflict = Some(child.name().span());
                    }
                    image = field(child, "an image reference", d)
                        .and_then(|e| values::string(e, "the image", d));
                }
            }
            "command" => {
                if seen.first("command", child, &parent, d) {
                    if seen.0.contains(&"image") {
                        kind_conflict = Some(child.name().span());
                    }
                    command = Some(command_args(child, d));
                }
            }
            "device" => {
                let device =
                    field(child, "a device path", d).and_then(|e| values::string(e, "a device", d));
                runtime_devices.extend(device);
            }
            "env" => {
                if let Some((key, value)) = pair(child, "a variable name and its value", d) {
                    if not_secret_flag(child, d) {
                        env_not_secret.push(key.value.clone());
                    }
                    env.push((key, value));
                }
            }
            "volume" => volumes.extend(pair(child, "a host path and a container path", d)),
            "secret" => secrets.extend(secret(child, d)),
            "health" => {
                if seen.first("health", child, &parent, d) {
                    health = decode_health(child, d);
                }
            }
            "quadlet" => quadlet.extend(quadlet_entry(child, d)),
            _ => unknown_node(child, &parent, &FIELDS, d),
        }
    }
    let name = name?;
    if let Some(span) = kind_conflict {
        d.emit(
            Kind::RuntimeKindAmbiguous {
                runtime: name.value.clone(),
            },
            span,
        );
    }
    let launch = match (image, command) {
        (Some(image), None) => Some(Launch::Container { image }),
        (None, Some(command)) if !command.is_empty() => Some(Launch::Native { command }),
        (None, _) if !seen.0.contains(&"image") && !seen.0.contains(&"command") => {
            d.emit(
                Kind::RuntimeKindMissing {
                    runtime: name.value.clone(),
                },
                name.span,
            );
            None
        }
        _ => None,
    };
    Some(Runtime {
        engine: engine.unwrap_or(Spanned::new(Engine::Vllm, name.span)),
        name,
        launch,
        devices: runtime_devices,
        env,
        env_not_secret,
        secrets,
        volumes,
        health,
        quadlet,
    })
}

/// `command "/usr/bin/llama-server" "-m" "{model}" ...`: one program argument per KDL
/// argument, so no shell ever splits or expands them.
fn command_args(node: &KdlNode, d: &mut Diagnostics) -> Vec<Text> {
    let mut entries = Entries::new(node);
    let args = entries.args();
    entries.finish(usize::MAX, &[], d);
    no_children(node, d);
    if args.is_empty() {
        d.emit(
            Kind::MissingArgument {
                node: "command".into(),
                what: "the program and its arguments",
            },
            node.name().span(),
        );
    }
    let args: Vec<Text> = args
        .into_iter()
        .filter_map(|e| values::string(e, "a command argument", d))
        .collect();
    if let Some(program) = args.first() {
        if !program.value.starts_with('/') {
            d.emit(
                Kind::InvalidValue {
                    what: "program".into(),
                    value: program.value.clone(),
                    expected: vec!["an absolute path, like \"/usr/bin/llama-server\""],
                    suggestion: None,
                },
                program.span,
            );
        }
    }
    args
}

/// Whether an `env` line carries `secret=#false` (read apart from its two arguments).
fn not_secret_flag(node: &KdlNode, d: &mut Diagnostics) -> bool {
    let flag = node
        .entries()
        .iter()
        .rev()
        .find(|e| e.name().is_some_and(|n| n.value() == "secret"));
    marked_not_secret(flag, d)
}

fn pair(node: &KdlNode, what: &'static str, d: &mut Diagnostics) -> Option<(Text, Text)> {
    let (first, second) = if node.name().value() == "env" {
        let ([first, second], _) = args_and_props::<2>(node, what, &["secret"], d)?;
        (first, second)
    } else {
        two_args(node, what, d)?
    };
    // Name each half in a diagnostic: "the value of `HF_HOME`", not "a variable and its value".
    let key = match first.value() {
        kdl::KdlValue::String(k) if !k.chars().any(char::is_control) => Some(k.as_str()),
        _ => None,
    };
    let (first_what, second_what) = match (node.name().value(), key) {
        ("env", Some(key)) => (
            "an environment variable name".to_owned(),
            format!("the value of `{key}`"),
        ),
        ("env", None) => (
            "an environment variable name".to_owned(),
            "an environment variable's value".to_owned(),
        ),
        ("volume", _) => (
            "a volume's host path".to_owned(),
            "a volume's container path".to_owned(),
        ),
        _ => (what.to_owned(), what.to_owned()),
    };
    let first = values::string(first, &first_what, d);
    let second = values::scalar_text(second, &second_what, d);
    let first = first.filter(|k| {
        let valid = node.name().value() != "env"
            || (k
                .value
                .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && k.value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !valid {
            d.emit(
                Kind::InvalidValue {
                    what: "environment variable name".into(),
                    value: k.value.clone(),
                    expected: vec!["letters, digits and '_', not starting with a digit"],
                    suggestion: None,
                },
                k.span,
            );
        }
        valid
    });
    Some((first?, second?))
}

/// `secret "hf-token" env="HF_TOKEN"`: created on the host (`podman secret create`,
/// `systemd-creds`), referenced here by name only.
fn secret(node: &KdlNode, d: &mut Diagnostics) -> Option<Secret> {
    let mut entries = Entries::new(node);
    let name = entries.arg(0);
    let env = entries.prop("env");
    entries.finish(1, &["env"], d);
    no_children(node, d);
    let env = env.and_then(|e| values::string(e, "the secret's variable", d));
    let name = super::stack::named_arg(node, name, Thing::Secret, d)?;
    Some(Secret { name, env })
}

/// `health "/health" interval="30s" start-period="15m"`
fn decode_health(node: &KdlNode, d: &mut Diagnostics) -> Option<Health> {
    let mut entries = Entries::new(node);
    let path = entries.arg(0);
    let interval = entries.prop("interval");
    let start_period = entries.prop("start-period");
    entries.finish(1, &["interval", "start-period"], d);
    no_children(node, d);
    let interval_ms = interval.and_then(|e| values::duration(e, "the health interval", d));
    let start_period_ms =
        start_period.and_then(|e| values::duration(e, "the health start period", d));
    let Some(path) = path else {
        d.emit(
            Kind::MissingArgument {
                node: "health".into(),
                what: "the health endpoint's path, like \"/health\"",
            },
            node.name().span(),
        );
        return None;
    };
    let path = values::string(path, "the health path", d)?;
    let valid = path.value.starts_with('/')
        && path
            .value
            .chars()
            .all(|c| c.is_ascii_graphic() && !"'\"\\%$`".contains(c));
    if !valid {
        d.emit(
            Kind::InvalidValue {
                what: "health path".into(),
                value: path.value.clone(),
                expected: vec!["a URL path like \"/health\" (no quotes, '%', '$' or backslashes)"],
                suggestion: None,
            },
            path.span,
        );
        return None;
    }
    Some(Health {
        path,
        interval_ms,
        start_period_ms,
    })
}
