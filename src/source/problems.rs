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

#[derive(Debug)]
pub struct NotUtf8 {
    /// The file's name as given (`-f other.kdl`), for the help line.
    pub file: String,
}

problem! {
    NotUtf8,
    code: "strixc::source::not_utf8",
    message: |_| "the file is not valid UTF-8",
    label: |_| "first invalid byte",
    help: |Self { file }| format!("save {} as UTF-8", file.rsplit('/').next().unwrap_or(file)),
}

#[derive(Debug)]
pub struct TooLarge {
    pub bytes: usize,
    pub limit: usize,
}

problem! {
    TooLarge,
    code: "strixc::source::too_large",
    message: |Self { bytes, limit }| {
        format!("the file is {bytes} bytes; strixc reads stacks of at most {limit} bytes")
    },
    label: |_| "file starts here",
    help: |_| "a stack is a few kilobytes; is this the right file?",
}

#[derive(Debug)]
pub struct TooManyLines {
    pub lines: usize,
    pub limit: usize,
}

problem! {
    TooManyLines,
    code: "strixc::source::too_many_lines",
    message: |Self { lines, limit }| format!(
        "the file has {lines} lines (or `;`-separated nodes); strixc reads stacks of at most {limit}"
    ),
    label: |_| "file starts here",
    help: |_| "a stack is a few hundred lines; is this the right file?",
}

#[derive(Debug)]
pub struct TooDeep {
    pub limit: usize,
}

problem! {
    TooDeep,
    code: "strixc::source::too_deep",
    message: |Self { limit }| format!("blocks are nested more than {limit} levels deep"),
    label: |_| "too deep",
    help: |_| "a stack nests blocks two levels deep at most",
}
