//! `quadlet SECTION KEY VALUE` lines: keys the declared podman's generator accepts, sections
//! that reach a unit at all, and keys strixc writes itself.

use super::quadlet_keys;
use crate::check::problems::{OwnedUnitKey, QuadletOnNative, UnknownQuadletKey};
use crate::diagnostic::Diagnostics;
use crate::diagnostic::suggest::did_you_mean;
use crate::stack::{Launch, QuadletEntry, Runtime, Stack, defaults};

/// `[Service]` keys whose value apply must know: it waits for a start exactly as long as
/// the unit lets it run (the manifest carries that bound), so it comes from the stack.
const OWNED: &[(&str, &str)] = &[
    ("TimeoutStartSec", "the runtime's `health … start-period=`"),
    ("TimeoutSec", "the runtime's `health … start-period=`"),
];

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    let mut container = Vec::new();
    for (owner, runtime, entries) in owners(stack) {
        // A runtime with neither `image` nor `command` (or an agent without a runtime) has
        // its own error; its lines go unjudged.
        match runtime.and_then(|r| r.launch.as_ref()) {
            Some(Launch::Container { .. }) => container.extend(entries),
            Some(Launch::Native { .. }) => on_native(&owner, entries, d),
            None => {}
        }
        owned_keys(entries, d);
    }
    known_keys(stack, container, d);
}

/// Every runtime and agent with its quadlet lines, and the runtime they run on.
fn owners(stack: &Stack) -> Vec<(String, Option<&Runtime>, &[QuadletEntry])> {
    let runtimes = stack.runtimes.iter().map(|r| {
        (
            format!("runtime `{}`", r.name.value),
            Some(r),
            &r.quadlet[..],
        )
    });
    let agents = stack.agents.iter().map(|a| {
        let owner = format!("agent `{}`", a.name.value);
        (owner, stack.runtime_of(a), &a.quadlet[..])
    });
    runtimes.chain(agents).collect()
}

/// A native agent is a plain `.service`: `[Container]` and `[Quadlet]` lines reach nothing.
fn on_native(owner: &str, entries: &[QuadletEntry], d: &mut Diagnostics) {
    for entry in entries {
        let section = entry.section.value.as_str();
        if matches!(section, "Container" | "Quadlet") {
            let (owner, section) = (owner.to_owned(), section.to_owned());
            d.emit(QuadletOnNative { owner, section }, entry.section.span);
        }
    }
}

fn owned_keys(entries: &[QuadletEntry], d: &mut Diagnostics) {
    for entry in entries.iter().filter(|e| e.section.value == "Service") {
        if let Some(&(key, instead)) = OWNED.iter().find(|(k, _)| *k == entry.key.value) {
            d.emit(OwnedUnitKey { key, instead }, entry.key.span);
        }
    }
}

/// `[Container]` and `[Quadlet]` keys against the keys the declared podman's generator
/// accepts: it refuses the whole unit on any other.
fn known_keys(stack: &Stack, entries: Vec<&QuadletEntry>, d: &mut Diagnostics) {
    let version = stack
        .host
        .podman
        .as_ref()
        .map_or(defaults::PODMAN, |p| p.value);
    let declared = version.to_string();
    for entry in entries {
        let section = entry.section.value.as_str();
        let key = entry.key.value.as_str();
        let since = quadlet_keys::since(section, key);
        if since.is_some_and(|since| since <= version) {
            continue;
        }
        d.emit(
            UnknownQuadletKey {
                section: section.to_owned(),
                key: key.to_owned(),
                podman: declared.clone(),
                since: since.map(|since| since.to_string()),
                suggestion: did_you_mean(key, quadlet_keys::known(section, version))
                    .map(str::to_owned),
            },
            entry.key.span,
        );
    }
}
