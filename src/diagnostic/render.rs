//! Rendering diagnostics with miette, against the named source.

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

use super::{Diagnostic, Diagnostics, Severity};
use crate::source::Source;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderStyle {
    /// Colours and Unicode, for a terminal.
    Color,
    /// Unicode without colour: pipes, files and snapshots.
    Plain,
}

/// A diagnostic bound to its source, as miette wants it.
struct Bound<'a> {
    diagnostic: &'a Diagnostic,
    source: &'a NamedSource<Arc<str>>,
    message: String,
}

impl fmt::Debug for Bound<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Bound<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Bound<'_> {}

impl miette::Diagnostic for Bound<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diagnostic.kind.code()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic
            .kind
            .help()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(
            Some(self.diagnostic.kind.label()),
            self.diagnostic.span,
        );
        let related = self
            .diagnostic
            .related
            .iter()
            .map(|l| LabeledSpan::new_with_span(Some(l.text.clone()), l.span));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// Every diagnostic, in source order, as one string.
pub fn render(diagnostics: &Diagnostics, source: &Source, style: RenderStyle) -> String {
    let named = source.named();
    let theme = match style {
        RenderStyle::Color => GraphicalTheme::unicode(),
        RenderStyle::Plain => GraphicalTheme::unicode_nocolor(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for diagnostic in diagnostics.clone().sorted() {
        let bound = Bound {
            message: diagnostic.kind.message(),
            diagnostic: &diagnostic,
            source: &named,
        };
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, &bound);
        out.push('\n');
    }
    out
}

/// "2 errors and 1 warning in stack.kdl".
pub fn render_summary(diagnostics: &Diagnostics, source: &Source) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let errors = diagnostics.error_count();
    let warnings = diagnostics.warning_count();
    match (errors, warnings) {
        (0, 0) => format!("{}: no problems", source.name()),
        (0, w) => format!("{}: {}", source.name(), plural(w, "warning")),
        (e, 0) => format!("{}: {}", source.name(), plural(e, "error")),
        (e, w) => format!(
            "{}: {} and {}",
            source.name(),
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}
