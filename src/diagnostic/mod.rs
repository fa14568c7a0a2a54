//! Diagnostics: problems found in the stack, collected (never first-error-only) and
//! rendered by miette against the named source.
//!
//! This module is the machinery only. Each problem is a struct declared beside the stage
//! that finds it (`source/problems.rs`, `decode/problems/`, `check/problems/`,
//! `plan/budget/problems.rs`) by one `problem!`, which holds its fields, code, severity,
//! message, label and help together.

mod excerpt;
mod render;
pub mod suggest;

pub use render::{MAX_RENDERED, RenderStyle, SourceFile, render, render_summary};

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use miette::SourceSpan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One kind of problem strixc can find in a stack: a struct whose fields fill its words.
pub trait Problem: Any + Debug + Send + Sync {
    /// The stable code: scripts and docs may rely on it, so never rename one.
    fn code(&self) -> &'static str;

    fn severity(&self) -> Severity {
        Severity::Error
    }

    fn message(&self) -> String;

    /// The text on the primary label.
    fn label(&self) -> String;

    fn help(&self) -> Option<String>;
}

impl dyn Problem {
    /// Whether this problem is a `T`, for the few callers that act on one kind.
    pub fn is<T: Problem>(&self) -> bool {
        (self as &dyn Any).is::<T>()
    }

    pub fn downcast_ref<T: Problem>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }
}

/// Declares a problem's struct and implements [`Problem`] for it, its words side by side.
///
/// The struct comes first, its fields on one line (`Name { field: Type, .. }`, or `Name` for
/// one with none): the macro makes it `#[derive(Debug)] pub`, every field `pub`, and a doc
/// comment above the name stays on it. Each text sees the fields by name (as references)
/// and is a string literal, a format string over them as in thiserror's `#[error]`
/// (`"unknown node `{name}` in {parent}"`), or a block whose value is a `String` or a
/// `&str`, for anything more.
///
/// ```ignore
/// problem! {
///     UnknownNode { name: String, parent: String, suggestion: Option<String>, known: Vec<&'static str> },
///     code: "strixc::decode::unknown_node",
///     message: "unknown node `{name}` in {parent}",
///     label: "unknown node",
///     help: { suggest_or_list(suggestion, known) },
/// }
/// ```
///
/// `severity: Warning,` after the code makes it a warning. A problem that may have no
/// help (KDL's own syntax errors) is declared and implements `Problem` by hand.
macro_rules! problem {
    (
        $(#[$attr:meta])*
        $name:ident $({ $($field:ident: $type:ty),* $(,)? })?,
        code: $code:literal,
        $(severity: $severity:ident,)?
        message: $message:tt,
        label: $label:tt,
        help: $help:tt $(,)?
    ) => {
        $crate::diagnostic::problem!(@struct $(#[$attr])* $name $({ $($field: $type),* })?);

        impl $crate::diagnostic::Problem for $name {
            fn code(&self) -> &'static str {
                $code
            }

            $(fn severity(&self) -> $crate::diagnostic::Severity {
                $crate::diagnostic::Severity::$severity
            })?

            fn message(&self) -> String {
                $(#[allow(unused_variables)] let Self { $($field),* } = self;)?
                $crate::diagnostic::problem!(@text $message)
            }

            fn label(&self) -> String {
                $(#[allow(unused_variables)] let Self { $($field),* } = self;)?
                $crate::diagnostic::problem!(@text $label)
            }

            fn help(&self) -> Option<String> {
                $(#[allow(unused_variables)] let Self { $($field),* } = self;)?
                Some($crate::diagnostic::problem!(@text $help))
            }
        }
    };
    (@struct $(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        #[derive(Debug)]
        pub struct $name;
    };
    (@struct $(#[$attr:meta])* $name:ident { $($field:ident: $type:ty),* }) => {
        $(#[$attr])*
        #[derive(Debug)]
        pub struct $name {
            $(pub $field: $type,)*
        }
    };
    (@text $text:literal) => {
        format!($text)
    };
    (@text { $($block:tt)* }) => {
        String::from({ $($block)* })
    };
}
pub(crate) use problem;

problem! {
    /// A bug in strixc, reported instead of panicking.
    Internal { message: String },
    code: "strixc::internal",
    message: "internal error: {message}",
    label: "here",
    help: "this is a bug in strixc: please report it with the stack that caused it",
}

/// What kind of thing a name refers to, for messages about names and references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thing {
    Stack,
    Agent,
    Model,
    Runtime,
    Profile,
    Secret,
}

impl Thing {
    pub fn noun(self) -> &'static str {
        match self {
            Thing::Stack => "stack",
            Thing::Agent => "agent",
            Thing::Model => "model",
            Thing::Runtime => "runtime",
            Thing::Profile => "profile",
            Thing::Secret => "secret",
        }
    }

    /// "a model", "an agent".
    pub fn with_article(self) -> String {
        match self {
            Thing::Agent => "an agent".into(),
            other => format!("a {}", other.noun()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: SourceSpan,
    pub text: String,
}

/// One problem and where in the source it is.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// What is wrong: its code, message, label and help.
    pub problem: Arc<dyn Problem>,
    /// The narrowest span that is wrong: a node name, an entry, a value.
    pub span: SourceSpan,
    /// Other places that explain it: the first definition of a duplicate, each agent's
    /// share of a budget.
    pub related: Vec<Label>,
}

impl Diagnostic {
    pub fn new(problem: impl Problem, span: impl Into<SourceSpan>) -> Self {
        Diagnostic {
            problem: Arc::new(problem),
            span: span.into(),
            related: Vec::new(),
        }
    }

    pub fn with_label(mut self, span: SourceSpan, text: impl Into<String>) -> Self {
        self.related.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    pub fn severity(&self) -> Severity {
        self.problem.severity()
    }

    /// Whether this is a `T` problem.
    pub fn is<T: Problem>(&self) -> bool {
        self.problem.is::<T>()
    }
}

/// The collecting sink every stage writes into.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn emit(&mut self, problem: impl Problem, span: impl Into<SourceSpan>) {
        self.push(Diagnostic::new(problem, span));
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity() == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity() == Severity::Error)
            .count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// In source order, so a report reads top to bottom like the file.
    pub fn sorted(mut self) -> Vec<Diagnostic> {
        self.items
            .sort_by_key(|d| (d.span.offset(), std::cmp::Reverse(d.severity())));
        self.items
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }
}
