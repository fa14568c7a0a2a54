//! Names and references: defined twice, named but never defined, a runtime to name.

use crate::diagnostic::{Thing, problem};

problem! {
    Duplicate { thing: Thing, name: String },
    code: "strixc::name::duplicate",
    message: |Self { thing, name }| format!("{} `{name}` is defined twice", thing.noun()),
    label: |_| "defined again here",
    help: |Self { thing, .. }| format!("rename one of the two {}s", thing.noun()),
}

problem! {
    UnknownReference { thing: Thing, name: String, suggestion: Option<String> },
    code: "strixc::reference::unknown",
    message: |Self { thing, name, .. }| format!("there is no {} named `{name}`", thing.noun()),
    label: |Self { thing, .. }| format!("unknown {}", thing.noun()),
    help: |Self { thing, suggestion, .. }| match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("define {} with this name, or fix the reference", thing.with_article()),
    },
}

problem! {
    RuntimeRequired { agent: String, runtimes: usize },
    code: "strixc::agent::runtime_required",
    message: |Self { agent, .. }| format!("agent `{agent}` names no runtime"),
    label: |_| "needs `runtime`",
    help: |Self { runtimes, .. }| match runtimes {
        0 => "define a `runtime` node and name it in the agent".into(),
        n => format!("the stack has {n} runtimes: add `runtime \"NAME\"` to the agent"),
    },
}
