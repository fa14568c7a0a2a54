//! Profiles: one default, no cycle in `stops`, every agent in one.

use crate::diagnostic::problem;

problem! {
    Cycle { relation: &'static str, path: Vec<String> },
    code: "strixc::reference::cycle",
    message: { format!("`{relation}` forms a cycle: {}", path.join(" → ")) },
    label: "cycle starts here",
    help: "remove one `{relation}` in the cycle",
}

problem! {
    NoDefaultProfile,
    code: "strixc::profile::no_default",
    message: "no profile is marked default=#true",
    label: "not marked default",
    help: "mark the profile to start at boot: `profile \"standard\" default=#true {{ ... }}`",
}

problem! {
    SeveralDefaultProfiles { names: Vec<String> },
    code: "strixc::profile::several_defaults",
    message: {
        format!("{} profiles are marked default: {}", names.len(), names.join(", "))
    },
    label: "marked default",
    help: "keep default=#true on exactly one profile",
}

problem! {
    NoProfiles,
    code: "strixc::profile::none",
    message: "the stack defines no profile",
    label: "in this stack",
    help: "add `profile \"standard\" default=#true {{ agents \"...\" }}`",
}

problem! {
    AgentInNoProfile { agent: String },
    code: "strixc::profile::agent_unused",
    severity: Warning,
    message: "agent `{agent}` is in no profile and will never start",
    label: "never started",
    help: "add it to a profile's `agents`, or remove it",
}
