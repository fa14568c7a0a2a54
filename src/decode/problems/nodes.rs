//! Nodes and their shape: a node or property the model has no place for, an argument or a
//! field too many or too few.

use crate::diagnostic::problem;

problem! {
    UnknownNode { name: String, parent: String, suggestion: Option<String>, known: Vec<&'static str> },
    code: "strixc::decode::unknown_node",
    message: "unknown node `{name}` in {parent}",
    label: "unknown node",
    help: { suggest_or_list(suggestion, known) },
}

problem! {
    UnknownProperty { name: String, node: String, suggestion: Option<String>, known: Vec<&'static str> },
    code: "strixc::decode::unknown_property",
    message: "unknown property `{name}` on `{node}`",
    label: "unknown property",
    help: {
        match (suggestion, known.is_empty()) {
            (Some(s), true) => format!("did you mean `{s}`?"),
            (None, true) => "this node takes no properties".into(),
            (_, false) => suggest_or_list(suggestion, known),
        }
    },
}

problem! {
    UnexpectedArgument { node: String, expected: usize },
    code: "strixc::decode::unexpected_argument",
    message: {
        match expected {
            0 => format!("`{node}` takes no arguments"),
            1 => format!("`{node}` takes one argument"),
            n => format!("`{node}` takes {n} arguments"),
        }
    },
    label: "unexpected argument",
    help: "remove the extra argument",
}

problem! {
    MissingArgument { node: String, what: &'static str },
    code: "strixc::decode::missing_argument",
    message: "`{node}` needs {what}",
    label: "defined here",
    help: "write {what} after `{node}`",
}

problem! {
    MissingField { node: String, field: &'static str },
    code: "strixc::decode::missing_field",
    message: "{node} has no `{field}`",
    label: "needs `{field}`",
    help: "add a `{field}` line to it",
}

problem! {
    MissingNode { name: &'static str },
    code: "strixc::decode::missing_node",
    message: "the stack has no `{name}` node",
    label: "file starts here",
    help: "add a `{name}` node at the top level",
}

problem! {
    DuplicateField { node: String, field: String },
    code: "strixc::decode::duplicate_field",
    message: "`{field}` is set twice in {node}",
    label: "set again here",
    help: "keep one of them",
}

problem! {
    InvalidQuadletSection { section: String, suggestion: Option<String> },
    code: "strixc::quadlet::unknown_section",
    message: "`{section}` is not a quadlet section strixc can write",
    label: "unknown section",
    help: {
        suggest_or_list(suggestion, &crate::decode::quadlet::QUADLET_SECTIONS)
    },
}

problem! {
    InvalidQuadletKey { key: String },
    code: "strixc::quadlet::invalid_key",
    message: "`{key}` is not a valid unit-file key",
    label: "invalid key",
    help: "a key starts with a letter and uses only letters, digits, '-' and '_', like `ShmSize`",
}

problem! {
    RuntimeKindAmbiguous { runtime: String },
    code: "strixc::runtime::image_and_command",
    message: "runtime `{runtime}` has both `image` and `command`",
    label: "second kind here",
    help: "a runtime is a container (`image`) or a native program (`command`): keep one",
}

problem! {
    RuntimeKindMissing { runtime: String },
    code: "strixc::runtime::image_or_command",
    message: "runtime `{runtime}` has neither `image` nor `command`",
    label: "defined here",
    help: "add `image \"REGISTRY/NAME:TAG\"` for a container, or `command \"/path\" ...` for a native program",
}

/// "did you mean `x`?", else the names that are allowed, else "remove it".
fn suggest_or_list(suggestion: &Option<String>, known: &[&'static str]) -> String {
    match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => "remove it".into(),
        None => format!("expected one of: {}", known.join(", ")),
    }
}
