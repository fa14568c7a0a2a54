//! Rendering diagnostics with miette, against the named source.
//!
//! The source is indexed by line once, and each diagnostic reads an excerpt of it: the
//! lines around its labels. Rendering N diagnostics costs O(N), not O(N × file size) as
//! miette's own `SourceCode for str` (which scans from the file's start for every label)
//! would. The excerpt also makes miette's "are these labels close?" test see snippet sizes,
//! so two labels far apart get two snippets instead of every line between them.
//!
//! Control and invisible characters never reach the terminal raw: messages show them
//! escaped (`\u{1b}`, `\u{200b}`), snippets as `?` or `�` of the same byte length (so
//! every span still points at the same place).
//!
//! A line longer than `excerpt::LONG_LINE` bytes (a minified blob, a pasted key) is
//! shortened in snippets: its start and the bytes around each of the diagnostic's label
//! ends stay, the rest becomes `…`. Labels are moved onto the shortened text; line and
//! column numbers stay the file's.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceCode, SourceSpan};

use super::excerpt::{CONTEXT_LINES, Excerpt, Indexed};
use super::{Diagnostic, Diagnostics, Severity};

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
    source: &'a Excerpt<'a>,
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
        Some(Box::new(self.diagnostic.problem.code()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic
            .problem
            .help()
            .map(|h| Box::new(visible(&h)) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(
            Some(visible(&self.diagnostic.problem.label())),
            self.source.shown_span(self.diagnostic.span),
        );
        let related = self.diagnostic.related.iter().map(|l| {
            LabeledSpan::new_with_span(Some(visible(&l.text)), self.source.shown_span(l.span))
        });
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// How many diagnostics are rendered in full: a stack has a handful of problems; past
/// this many (a generated or wrong file), the rest are counted by code, so any file the
/// size guard admits is reported in well under a second or two.
pub const MAX_RENDERED: usize = 500;

/// What a report is rendered against: the file's name as the user gave it, and its text.
pub trait SourceFile {
    fn name(&self) -> &str;
    fn text(&self) -> &str;
}

/// Every diagnostic, in source order, as one string (the first `MAX_RENDERED` in full,
/// the rest counted by code).
pub fn render(diagnostics: &Diagnostics, source: &dyn SourceFile, style: RenderStyle) -> String {
    let indexed = Indexed::new(source);
    let theme = match style {
        RenderStyle::Color => GraphicalTheme::unicode(),
        RenderStyle::Plain => GraphicalTheme::unicode_nocolor(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false)
        .with_context_lines(CONTEXT_LINES);
    let mut out = String::new();
    let mut sorted = diagnostics.clone().sorted();
    let rest = sorted.split_off(sorted.len().min(MAX_RENDERED));
    for diagnostic in sorted {
        let spans: Vec<SourceSpan> = std::iter::once(diagnostic.span)
            .chain(diagnostic.related.iter().map(|l| l.span))
            .collect();
        let excerpt = Excerpt::new(&indexed, &spans);
        let bound = Bound {
            message: visible(&diagnostic.problem.message()),
            diagnostic: &diagnostic,
            source: &excerpt,
        };
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, &bound);
        out.push('\n');
    }
    if !rest.is_empty() {
        let mut codes: Vec<(&'static str, usize)> = Vec::new();
        for diagnostic in &rest {
            let code = diagnostic.problem.code();
            match codes.iter_mut().find(|(c, _)| *c == code) {
                Some((_, n)) => *n += 1,
                None => codes.push((code, 1)),
            }
        }
        out.push_str(&format!(
            "... and {} more not shown (only the first {MAX_RENDERED} are):\n",
            rest.len()
        ));
        for (code, n) in codes {
            out.push_str(&format!("  {n} × {code}\n"));
        }
        out.push('\n');
    }
    out
}

/// "2 errors and 1 warning in stack.kdl".
pub fn render_summary(diagnostics: &Diagnostics, source: &dyn SourceFile) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let errors = diagnostics.error_count();
    let warnings = diagnostics.warning_count();
    let name = visible(source.name());
    match (errors, warnings) {
        (0, 0) => format!("{name}: no problems"),
        (0, w) => format!("{name}: {}", plural(w, "warning")),
        (e, 0) => format!("{name}: {}", plural(e, "error")),
        (e, w) => format!(
            "{name}: {} and {}",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

/// Characters that would move the cursor, recolour the terminal or hide themselves in a
/// snippet: C0 and C1 controls (except the source's line breaks and tabs) and invisible
/// characters.
pub(super) fn is_hidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t')) || is_invisible(c)
}

/// Zero-width spaces and joiners, bidirectional overrides, the BOM, fillers.
fn is_invisible(c: char) -> bool {
    matches!(c,
            '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}'
            | '\u{17b5}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{feff}' | '\u{ffa0}'
            | '\u{fff0}'..='\u{fff8}' | '\u{e0000}'..='\u{e007f}')
}

/// `text` with every control (line breaks included) or invisible character written as
/// `\u{…}`, for one-line texts: messages, labels, help and the file name.
pub fn visible(text: &str) -> String {
    let escaped = |c: char| c.is_control() || is_invisible(c);
    if !text.chars().any(escaped) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}
