//! Rendering diagnostics with miette, against the named source.
//!
//! The source is indexed by line once, and each snippet is read from the few lines around
//! its label: rendering N diagnostics costs O(N), not O(N × file size) as miette's own
//! `SourceCode for str` (which scans from the file's start for every label) would. The
//! index also makes miette's "are these labels close?" test see snippet sizes, so two
//! labels far apart get two snippets instead of every line between them.
//!
//! Control and invisible characters never reach the terminal raw: messages show them
//! escaped (`\u{1b}`, `\u{200b}`), snippets as `?` or `�` of the same byte length (so
//! every span still points at the same place).

use std::fmt;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

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
    source: &'a Indexed,
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
            self.diagnostic.span,
        );
        let related = self
            .diagnostic
            .related
            .iter()
            .map(|l| LabeledSpan::new_with_span(Some(visible(&l.text)), l.span));
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
        .with_links(false);
    let mut out = String::new();
    let mut sorted = diagnostics.clone().sorted();
    let rest = sorted.split_off(sorted.len().min(MAX_RENDERED));
    for diagnostic in sorted {
        let bound = Bound {
            message: visible(&diagnostic.problem.message()),
            diagnostic: &diagnostic,
            source: &indexed,
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
fn is_hidden(c: char) -> bool {
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

/// The source as miette reads it: hidden characters replaced by visible ones of the same
/// byte length, and the byte offset where each line starts.
struct Indexed {
    name: String,
    text: String,
    /// Offsets of line starts, counting line breaks as miette does (`\n`, `\r\n`, a lone
    /// `\r`), so line numbers agree with its own.
    lines: Vec<usize>,
}

impl Indexed {
    fn new(source: &dyn SourceFile) -> Self {
        let original = source.text();
        let mut text = String::with_capacity(original.len());
        for c in original.chars() {
            if is_hidden(c) {
                match c.len_utf8() {
                    3 => text.push('\u{fffd}'),
                    n => text.extend(std::iter::repeat_n('?', n)),
                }
            } else {
                text.push(c);
            }
        }
        let bytes = text.as_bytes();
        let mut lines = vec![0];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    i += 1;
                    lines.push(i + 1);
                }
                b'\r' | b'\n' => lines.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        Indexed {
            name: visible(source.name()),
            text,
            lines,
        }
    }

    /// The line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.lines.partition_point(|&start| start <= offset) - 1
    }
}

impl SourceCode for Indexed {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let end = span.offset() + span.len();
        if end > self.text.len() {
            return Err(MietteError::OutOfBounds);
        }
        // The lines miette shows: the span's, `before` above and `after` below (plus one,
        // so its scan sees the end of the last one), read as a file of their own.
        let first = self
            .line_of(span.offset())
            .saturating_sub(context_lines_before);
        let last = self.line_of(end.saturating_sub(1).max(span.offset()));
        let stop = self
            .lines
            .get(last + context_lines_after + 2)
            .copied()
            .unwrap_or(self.text.len());
        let start = self.lines[first];
        let window = &self.text.as_bytes()[start..stop];
        let local = SourceSpan::new((span.offset() - start).into(), span.len());
        let inner = window.read_span(&local, context_lines_before, context_lines_after)?;
        let data: &'a [u8] = {
            let from = inner.span().offset() + start;
            &self.text.as_bytes()[from..from + inner.data().len()]
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            data,
            SourceSpan::new((inner.span().offset() + start).into(), inner.span().len()),
            inner.line() + first,
            inner.column(),
            // Lines in this snippet, not in the file up to it: miette adds this to the
            // first line to decide whether the next label's snippet overlaps.
            inner.line_count(),
        )))
    }
}
