//! Diagnostics: problems found in the stack, collected (never first-error-only) and
//! rendered by miette against the named source.

mod kind;
mod render;
pub mod suggest;

pub use kind::{Kind, Thing};
pub use render::{MAX_RENDERED, RenderStyle, render, render_summary};

use miette::SourceSpan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: SourceSpan,
    pub text: String,
}

/// One problem: a kind (code, message, help) and where in the source it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub kind: Kind,
    /// The narrowest span that is wrong: a node name, an entry, a value.
    pub span: SourceSpan,
    /// Other places that explain it: the first definition of a duplicate, each agent's
    /// share of a budget.
    pub related: Vec<Label>,
}

impl Diagnostic {
    pub fn new(kind: Kind, span: SourceSpan) -> Self {
        Diagnostic {
            kind,
            span,
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
        self.kind.severity()
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

    pub fn emit(&mut self, kind: Kind, span: impl Into<SourceSpan>) {
        self.push(Diagnostic::new(kind, span.into()));
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

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }
}
