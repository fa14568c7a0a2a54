//! What `build`, podman's quadlet generator, systemd or the container runtime would refuse
//! later, refused here instead: clashing generated names, values a unit file cannot carry,
//! paths podman misreads, keys set twice (quadlet lines: `quadlet.rs`).

use std::collections::HashMap;

use miette::SourceSpan;

use crate::check::problems::{
    DuplicateKey, EarlyoomRegex, GeneratedNameClash, InvalidPath, OpencodeNameTaken,
    UnsafeUnitValue,
};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::stack::unit_names::{
    agent_unit_name, gateway_service_name, gateway_socket_name, profile_target_name, slice_name,
    swap_creator_name, swap_unit_name,
};
use crate::stack::{Launch, Stack, Text};

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    earlyoom(stack, d);
    generated_names(stack, d);
    carried_values(stack, d);
    paths(stack, d);
    repeated_keys(stack, d);
}

fn earlyoom(stack: &Stack, d: &mut Diagnostics) {
    let Some(earlyoom) = &stack.host.earlyoom else {
        return;
    };
    for (which, regex) in [("prefer", &earlyoom.prefer), ("avoid", &earlyoom.avoid)] {
        if let Some(regex) = regex.as_ref().filter(|r| !earlyoom_regex_ok(&r.value)) {
            d.emit(
                EarlyoomRegex {
                    which,
                    value: regex.value.clone(),
                },
                regex.span,
            );
        }
    }
}

/// A unit `build` writes, with what asks for it (`what`, at `span`). `renamable`: the stack
/// names it directly (an agent, a profile), rather than it taking a fixed name.
struct UnitOwner {
    file: String,
    what: String,
    span: SourceSpan,
    renamable: bool,
}

/// Every unit `build` writes for the stack, with what asks for it: two owners of one name
/// would silently lose one unit. Units with fixed names come first, so a clash is reported
/// at the agent or profile that can be renamed.
fn generated_names(stack: &Stack, d: &mut Diagnostics) {
    let s = &stack.name.value;
    let fixed = |file: String, what: String, span: SourceSpan| UnitOwner {
        file,
        what,
        span,
        renamable: false,
    };
    // The slice every agent runs in.
    let mut owners = vec![fixed(
        slice_name(stack),
        format!("stack `{s}`"),
        stack.name.span,
    )];
    if let Some(swap) = &stack.host.swap {
        if swap.size.is_some() {
            owners.push(fixed(
                swap_creator_name(stack),
                "the swap file's creator".into(),
                swap.path.span,
            ));
        }
        owners.push(fixed(
            swap_unit_name(&swap.path.value),
            "the swap file".into(),
            swap.path.span,
        ));
    }
    if let Some(gateway) = &stack.gateway {
        for file in [gateway_socket_name(stack), gateway_service_name(stack)] {
            owners.push(fixed(file, "the gateway".into(), gateway.span));
        }
    }
    for agent in &stack.agents {
        owners.push(UnitOwner {
            file: agent_unit_name(stack, &agent.name.value),
            what: format!("agent `{}`", agent.name.value),
            span: agent.name.span,
            renamable: true,
        });
    }
    for profile in &stack.profiles {
        owners.push(UnitOwner {
            file: profile_target_name(stack, &profile.name.value),
            what: format!("profile `{}`", profile.name.value),
            span: profile.name.span,
            renamable: true,
        });
    }
    let mut first: HashMap<&str, &UnitOwner> = HashMap::new();
    for owner in &owners {
        match first.get(owner.file.as_str()) {
            // Two agents (or profiles) of one name are reported as duplicates already.
            Some(earlier) if earlier.what == owner.what => {}
            Some(earlier) => d.push(
                Diagnostic::new(
                    GeneratedNameClash {
                        file: owner.file.clone(),
                        first: earlier.what.clone(),
                        second: owner.what.clone(),
                        rename: match (earlier.renamable, owner.renamable) {
                            (false, true) => Some(owner.what.clone()),
                            (true, false) => Some(earlier.what.clone()),
                            _ => None,
                        },
                    },
                    owner.span,
                )
                .with_label(earlier.span, format!("{} generates it too", earlier.what)),
            ),
            None => {
                first.insert(&owner.file, owner);
            }
        }
    }
}

/// Why systemd's (or quadlet's) unit-file parser would not give `value` back as written,
/// for values written verbatim after `Key=`: a trailing backslash joins the next line, and
/// whitespace around the value is stripped.
fn not_carried(value: &str) -> Option<&'static str> {
    if value.ends_with('\\') {
        Some("ends with a backslash (systemd would join the next line to it)")
    } else if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        Some("starts or ends with a space (systemd would strip it)")
    } else {
        None
    }
}

fn carried_values(stack: &Stack, d: &mut Diagnostics) {
    let mut check = |what: String, text: &Text| {
        if let Some(reason) = not_carried(&text.value) {
            d.emit(UnsafeUnitValue { what, reason }, text.span);
        }
    };
    for agent in &stack.agents {
        if let Some(role) = &agent.role {
            check(format!("agent `{}`'s role", agent.name.value), role);
        }
        for entry in &agent.quadlet {
            check(format!("the value of `{}`", entry.key.value), &entry.value);
        }
    }
    for runtime in &stack.runtimes {
        for entry in &runtime.quadlet {
            check(format!("the value of `{}`", entry.key.value), &entry.value);
        }
    }
}

/// Characters an image reference may hold (`registry/name:tag@sha256:…`).
fn image_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._-/:@".contains(c)
}

/// A host path podman reads as a path, or a named volume (`hf-cache`).
fn volume_source_ok(path: &str) -> bool {
    let named = path.starts_with(|c: char| c.is_ascii_alphanumeric())
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    // `%h/…`: a specifier systemd expands to an absolute path.
    named || path.starts_with('/') || path.starts_with('%')
}

const NO_SPACE: &str = "image references and repositories hold no spaces: check for a stray space";
const COLON: &str = "podman splits a volume at ':' (HOST:CONTAINER:OPTIONS): rename the folder, or mount its parent";
const UNCARRIED: &str =
    "unit files have no quoting for it: remove the trailing backslash and the spaces around it";

fn paths(stack: &Stack, d: &mut Diagnostics) {
    for runtime in &stack.runtimes {
        if let Some(Launch::Container { image }) = &runtime.launch {
            image_path(image, d);
        }
        for device in &runtime.devices {
            device_path(device, d);
        }
        for (host, container) in &runtime.volumes {
            volume_paths(host, container, d);
        }
    }
    for model in &stack.models {
        if let Some(repo) = model.repo.as_ref().filter(|r| r.value.contains(' ')) {
            bad_path(d, "repo", repo, "holds a space", NO_SPACE);
        }
    }
}

fn bad_path(
    d: &mut Diagnostics,
    what: &str,
    text: &Text,
    reason: &'static str,
    help: &'static str,
) {
    d.emit(
        InvalidPath {
            what: what.to_owned(),
            value: text.value.clone(),
            reason,
            help,
        },
        text.span,
    );
}

fn image_path(image: &Text, d: &mut Diagnostics) {
    if image.value.chars().any(char::is_whitespace) {
        bad_path(d, "image", image, "holds a space", NO_SPACE);
    } else if image.value.is_empty() || !image.value.chars().all(image_char) {
        bad_path(
            d,
            "image",
            image,
            "holds characters an image reference cannot",
            "an image reference uses only letters, digits and . _ - / : @, like \"docker.io/library/busybox:latest\"",
        );
    }
}

fn device_path(device: &Text, d: &mut Diagnostics) {
    let path = device.value.strip_prefix('-').unwrap_or(&device.value);
    if !path.starts_with('/') {
        bad_path(
            d,
            "device",
            device,
            "is not an absolute path",
            "write the device's absolute path, like \"/dev/kfd\"",
        );
    } else if device
        .value
        .chars()
        .any(|c| c.is_whitespace() || "\"'\\".contains(c))
    {
        bad_path(
            d,
            "device",
            device,
            "holds a space, quote or backslash, which quadlet splits or strips",
            "device paths hold none of these: check the path",
        );
    }
}

fn volume_paths(host: &Text, container: &Text, d: &mut Diagnostics) {
    for (what, text) in [
        ("volume host path", host),
        ("volume container path", container),
    ] {
        if text.value.contains(':') {
            bad_path(
                d,
                what,
                text,
                "holds a ':', which podman reads as a separator",
                COLON,
            );
        } else if not_carried(&text.value).is_some() {
            bad_path(
                d,
                what,
                text,
                "starts or ends with a space or ends with a backslash, which a unit file cannot carry",
                UNCARRIED,
            );
        }
    }
    if !host.value.contains(':') && !volume_source_ok(&host.value) {
        bad_path(
            d,
            "volume host path",
            host,
            "is relative: podman would read it as a volume name or refuse it",
            "write an absolute path (or `%h/...` for the user's home), or a plain volume name like \"hf-cache\"",
        );
    }
    if !container.value.contains(':') && !container.value.starts_with('/') {
        bad_path(
            d,
            "volume container path",
            container,
            "is not an absolute path",
            "write the path inside the container from its root, like \"/root/.cache\"",
        );
    }
}

/// `env`, `sysctl` keys and oh-my-opencode agents given twice: the last would win in
/// silence. (`quadlet` lines may repeat a key: list keys such as `Volume=` add up.)
fn repeated_keys(stack: &Stack, d: &mut Diagnostics) {
    let mut repeated = |what: &'static str, keys: &mut dyn Iterator<Item = &Text>| {
        let mut first: HashMap<&str, SourceSpan> = HashMap::new();
        for key in keys {
            match first.get(key.value.as_str()) {
                Some(&span) => d.push(
                    Diagnostic::new(
                        DuplicateKey {
                            what,
                            key: key.value.clone(),
                        },
                        key.span,
                    )
                    .with_label(span, "first set here"),
                ),
                None => {
                    first.insert(&key.value, key.span);
                }
            }
        }
    };
    for runtime in &stack.runtimes {
        repeated(
            "environment variable",
            &mut runtime.env.iter().map(|(k, _)| k),
        );
    }
    repeated("sysctl", &mut stack.host.sysctl.iter().map(|(k, _)| k));

    let mut served: HashMap<&str, (&str, SourceSpan)> = HashMap::new();
    for agent in &stack.agents {
        for cap in &agent.opencode {
            match served.get(cap.name.value.as_str()) {
                // Listed twice by one agent: harmless, one entry is written.
                Some(&(first, _)) if first == agent.name.value => {}
                Some(&(first, span)) => d.push(
                    Diagnostic::new(
                        OpencodeNameTaken {
                            name: cap.name.value.clone(),
                            first: first.to_owned(),
                        },
                        cap.name.span,
                    )
                    .with_label(span, format!("served by `{first}` here")),
                ),
                None => {
                    served.insert(&cap.name.value, (&agent.name.value, cap.name.span));
                }
            }
        }
    }
}

/// Whether an earlyoom regex survives `/etc/default/earlyoom`: the service splits
/// `$EARLYOOM_ARGS` at whitespace, and the value is single-quoted.
pub fn earlyoom_regex_ok(regex: &str) -> bool {
    !regex.is_empty()
        && !regex
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c.is_control())
}
