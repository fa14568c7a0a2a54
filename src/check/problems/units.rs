//! The complete gate: what build, quadlet, systemd or the runtime would refuse in the
//! generated units.

use crate::diagnostic::problem;

problem! {
    EarlyoomRegex { which: &'static str, value: String },
    code: "strixc::host::earlyoom_regex",
    message: "earlyoom's {which} regex `{value}` cannot be passed to earlyoom",
    label: "no spaces, quotes or control characters",
    help: "earlyoom reads its arguments split at whitespace: use `\\s` or `.` for a space, and no quotes",
}

problem! {
    /// `rename`: the one of the two the stack can rename, when the other's name is fixed.
    GeneratedNameClash { file: String, first: String, second: String, rename: Option<String> },
    code: "strixc::name::generated_clash",
    message: "{first} and {second} would both generate `{file}`",
    label: "generates the same file",
    help: {
        match rename {
            Some(which) => format!("rename {which}"),
            None => "rename one of them".into(),
        }
    },
}

problem! {
    /// `since` is the first podman that accepts the key, when a later one does.
    UnknownQuadletKey { section: String, key: String, podman: String, since: Option<String>, suggestion: Option<String> },
    code: "strixc::quadlet::unknown_key",
    message: {
        match since {
            Some(since) => format!(
                "`{key}` in [{section}] needs podman {since}, but the host declares podman {podman}"
            ),
            None => format!("podman {podman}'s quadlet has no key `{key}` in [{section}]"),
        }
    },
    label: {
        match since {
            Some(_) => "too new for the declared podman",
            None => "unknown key",
        }
    },
    help: {
        match (since, suggestion) {
            (Some(since), _) => format!(
                "declare `podman \"{since}\"` (or later) in `host` if the host has it, or remove this line"
            ),
            (None, Some(s)) => format!("did you mean `{s}`?"),
            (None, None) => format!(
                "quadlet refuses the whole unit on an unknown key; see podman-systemd.unit(5) for the keys of [{section}], or pass a podman flag with `quadlet \"Container\" \"PodmanArgs\" \"...\"`"
            ),
        }
    },
}

problem! {
    UnsafeUnitValue { what: String, reason: &'static str },
    code: "strixc::security::value_not_carried",
    message: "{what} {reason}, which a unit file cannot carry",
    label: "cannot be carried",
    help: "unit files have no quoting for it: remove the trailing backslash and the spaces around the value",
}

problem! {
    InvalidPath { what: String, value: String, reason: &'static str, help: &'static str },
    code: "strixc::runtime::invalid_path",
    message: "{what} `{value}` {reason}",
    label: "not usable here",
    help: { *help },
}

problem! {
    DuplicateKey { what: &'static str, key: String },
    code: "strixc::name::duplicate_key",
    message: "{what} `{key}` is set twice",
    label: "set again here",
    help: "the last one would silently win: keep one of them",
}

problem! {
    OpencodeNameTaken { name: String, first: String },
    code: "strixc::opencode::duplicate",
    message: "oh-my-opencode agent `{name}` is already served by `{first}`",
    label: "already taken",
    help: "each oh-my-opencode agent is served by one agent: remove one",
}

problem! {
    /// `owner` is `agent `x`` or `runtime `y``.
    QuadletOnNative { owner: String, section: String },
    code: "strixc::quadlet::section_on_native",
    message: "{owner} runs natively: its [{section}] line reaches no unit",
    label: "only container units have this section",
    help: "remove the line, or run the agent in a container (`image` on its runtime)",
}

problem! {
    /// `instead` is what to set in its place.
    OwnedUnitKey { key: &'static str, instead: &'static str },
    code: "strixc::quadlet::owned_key",
    message: "strixc writes `{key}=` itself",
    label: "set by strixc",
    help: "set {instead} instead: apply waits for a start exactly as long as the unit allows",
}
