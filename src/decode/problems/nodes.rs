//! Nodes and their shape: a node or property the model has no place for, an argument or a
//! field too many or too few.

use crate::diagnostic::problem;

problem! {
    UnknownNode { name: String, parent: String, suggestion: Option<String>, known: Vec<&'static str> },
    code: "strixc::decode::unknown_node",
    message: |Self { name, parent, .. }| format!("unknown node `{name}` in {parent}"),
    label: |_| "unknown node",
    help: |Self { suggestion, known, .. }| suggest_or_list(suggestion, known),
}

problem! {
    UnknownProperty { name: String, node: String, suggestion: Option<String>, known: Vec<&'static str> },
    code: "strixc::decode::unknown_property",
    message: |Self { name, node, .. }| format!("unknown property `{name}` on `{node}`"),
    label: |_| "unknown property",
    help: |Self { suggestion, known, .. }| match (suggestion, known.is_empty()) {
        (Some(s), true) => format!("did you mean `{s}`?"),
        (None, true) => "this node takes no properties".into(),
        (_, false) => suggest_or_list(suggestion, known),
    },
}

problem! {
    UnexpectedArgument { node: String, expected: usize },
    code: "strixc::decode::unexpected_argument",
    message: |Self { node, expected }| match expected {
        0 => format!("`{node}` takes no arguments"),
        1 => format!("`{node}` takes one argument"),
        n => format!("`{node}` takes {n} arguments"),
    },
    label: |_| "unexpected argument",
    help: |_| "remove the extra argument",
}

problem! {
    MissingArgument { node: String, what: &'static str },
    code: "strixc::decode::missing_argument",
    message: |Self { node, what }| format!("`{node}` needs {what}"),
    label: |_| "defined here",
    help: |Self { node, what }| format!("write {what} after `{node}`"),
}

problem! {
    MissingField { node: String, field: &'static str },
    code: "strixc::decode::missing_field",
    message: |Self { node, field }| format!("{node} has no `{field}`"),
    label: |Self { field, .. }| format!("needs `{field}`"),
    help: |Self { field, .. }| format!("add a `{field}` line to it"),
}

problem! {
    MissingNode { name: &'static str },
    code: "strixc::decode::missing_node",
    message: |Self { name }| format!("the stack has no `{name}` node"),
    label: |_| "file starts here",
    help: |Self { name }| format!("add a `{name}` node at the top level"),
}

problem! {
    DuplicateField { node: String, field: String },
    code: "strixc::decode::duplicate_field",
    message: |Self { node, field }| format!("`{field}` is set twice in {node}"),
    label: |_| "set again here",
    help: |_| "keep one of them",
}

problem! {
    InvalidQuadletSection { section: String, suggestion: Option<String> },
    code: "strixc::quadlet::unknown_section",
    message: |Self { section, .. }| format!("`{section}` is not a quadlet section strixc can write"),
    label: |_| "unknown section",
    help: |Self { suggestion, .. }| {
        suggest_or_list(suggestion, &["Unit", "Container", "Service", "Install", "Quadlet"])
    },
}

problem! {
    InvalidQuadletKey { key: String },
    code: "strixc::quadlet::invalid_key",
    message: |Self { key }| format!("`{key}` is not a valid unit-file key"),
    label: |_| "invalid key",
    help: |_| "a key starts with a letter and uses only letters, digits, '-' and '_', like `ShmSize`",
}

problem! {
    RuntimeKindAmbiguous { runtime: String },
    code: "strixc::runtime::image_and_command",
    message: |Self { runtime }| format!("runtime `{runtime}` has both `image` and `command`"),
    label: |_| "second kind here",
    help: |_| "a runtime is a container (`image`) or a native program (`command`): keep one",
}

problem! {
    RuntimeKindMissing { runtime: String },
    code: "strixc::runtime::image_or_command",
    message: |Self { runtime }| format!("runtime `{runtime}` has neither `image` nor `command`"),
    label: |_| "defined here",
    help: |_| "add `image \"REGISTRY/NAME:TAG\"` for a container, or `command \"/path\" ...` for a native program",
}

/// "did you mean `x`?", else the names that are allowed, else "remove it".
fn suggest_or_list(suggestion: &Option<String>, known: &[&'static str]) -> String {
    match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => "remove it".into(),
        None => format!("expected one of: {}", known.join(", ")),
    }
}
