//! Profiles: one default, no cycle in `stops`, every agent in one.

use crate::diagnostic::problem;

problem! {
    Cycle { relation: &'static str, path: Vec<String> },
    code: "strixc::reference::cycle",
    message: |Self { relation, path }| format!("`{relation}` forms a cycle: {}", path.join(" → ")),
    label: |_| "cycle starts here",
    help: |Self { relation, .. }| format!("remove one `{relation}` in the cycle"),
}

problem! {
    NoDefaultProfile,
    code: "strixc::profile::no_default",
    message: |_| "no profile is marked default=#true",
    label: |_| "not marked default",
    help: |_| "mark the profile to start at boot: `profile \"standard\" default=#true { ... }`",
}

problem! {
    SeveralDefaultProfiles { names: Vec<String> },
    code: "strixc::profile::several_defaults",
    message: |Self { names }| {
        format!("{} profiles are marked default: {}", names.len(), names.join(", "))
    },
    label: |_| "marked default",
    help: |_| "keep default=#true on exactly one profile",
}

problem! {
    NoProfiles,
    code: "strixc::profile::none",
    message: |_| "the stack defines no profile",
    label: |_| "in this stack",
    help: |_| "add `profile \"standard\" default=#true { agents \"...\" }`",
}

problem! {
    AgentInNoProfile { agent: String },
    code: "strixc::profile::agent_unused",
    severity: Warning,
    message: |Self { agent }| format!("agent `{agent}` is in no profile and will never start"),
    label: |_| "never started",
    help: |_| "add it to a profile's `agents`, or remove it",
}
