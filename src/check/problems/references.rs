//! Names and references: defined twice, named but never defined, a runtime to name.

use crate::diagnostic::{Thing, problem};

problem! {
    Duplicate { thing: Thing, name: String },
    code: "strixc::name::duplicate",
    message: { format!("{} `{name}` is defined twice", thing.noun()) },
    label: "defined again here",
    help: { format!("rename one of the two {}s", thing.noun()) },
}

problem! {
    UnknownReference { thing: Thing, name: String, suggestion: Option<String> },
    code: "strixc::reference::unknown",
    message: { format!("there is no {} named `{name}`", thing.noun()) },
    label: { format!("unknown {}", thing.noun()) },
    help: {
        match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("define {} with this name, or fix the reference", thing.with_article()),
        }
    },
}

problem! {
    RuntimeRequired { agent: String, runtimes: usize },
    code: "strixc::agent::runtime_required",
    message: "agent `{agent}` names no runtime",
    label: "needs `runtime`",
    help: {
        match runtimes {
            0 => "define a `runtime` node and name it in the agent".into(),
            n => format!("the stack has {n} runtimes: add `runtime \"NAME\"` to the agent"),
        }
    },
}
