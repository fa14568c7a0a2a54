//! What the source stage finds: text that is no KDL, or a file strixc will not parse.

use crate::diagnostic::{Problem, problem};

/// The KDL parser refused the text; its own words, prefixed.
#[derive(Debug)]
pub struct Syntax {
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
}

/// By hand, not by `problem!`: the parser may give no help.
impl Problem for Syntax {
    fn code(&self) -> &'static str {
        "strixc::syntax"
    }

    fn message(&self) -> String {
        format!("KDL syntax error: {}", self.message)
    }

    fn label(&self) -> String {
        self.label.clone().unwrap_or_else(|| "here".into())
    }

    fn help(&self) -> Option<String> {
        self.help.clone()
    }
}

problem! {
    /// `file` is the file's name as given (`-f other.kdl`), for the help line.
    NotUtf8 { file: String },
    code: "strixc::source::not_utf8",
    message: "the file is not valid UTF-8",
    label: "first invalid byte",
    help: { format!("save {} as UTF-8", file.rsplit('/').next().unwrap_or(file)) },
}

problem! {
    TooLarge { bytes: usize, limit: usize },
    code: "strixc::source::too_large",
    message: "the file is {bytes} bytes; strixc reads stacks of at most {limit} bytes",
    label: "file starts here",
    help: "a stack is a few kilobytes; is this the right file?",
}

problem! {
    TooManyLines { lines: usize, limit: usize },
    code: "strixc::source::too_many_lines",
    message: "the file has {lines} lines (or `;`-separated nodes); strixc reads stacks of at most {limit}",
    label: "file starts here",
    help: "a stack is a few hundred lines; is this the right file?",
}

problem! {
    TooDeep { limit: usize },
    code: "strixc::source::too_deep",
    message: "blocks are nested more than {limit} levels deep",
    label: "too deep",
    help: "a stack nests blocks two levels deep at most",
}
