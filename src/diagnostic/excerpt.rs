//! What a diagnostic's snippets read: the source cleaned and indexed by line once
//! (`Indexed`), and per diagnostic the lines around its labels (`Excerpt`), lines longer
//! than `LONG_LINE` bytes shortened around the labels' ends.

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

use super::render::{SourceFile, is_hidden, visible};

/// Lines shown above and below a label (miette's default, made explicit: excerpts hold
/// these lines and no more).
pub(super) const CONTEXT_LINES: usize = 1;

/// Lines longer than this many bytes are shortened in snippets.
const LONG_LINE: usize = 320;

/// Bytes kept at the start of a shortened line, and on each side of a label's start and end.
const KEEP: usize = 60;

/// What stands for the bytes a shortened line leaves out.
const ELLIPSIS: &str = "…";

/// The source cleaned once for every diagnostic: hidden characters replaced by visible ones
/// of the same byte length, and the byte offset where each line starts.
pub(super) struct Indexed {
    name: String,
    text: String,
    /// Offsets of line starts, counting line breaks as miette does (`\n`, `\r\n`, a lone
    /// `\r`), so line numbers agree with its own.
    lines: Vec<usize>,
}

impl Indexed {
    pub(super) fn new(source: &dyn SourceFile) -> Self {
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
        Indexed {
            name: visible(source.name()),
            lines: line_starts(&text),
            text,
        }
    }

    /// The line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.lines.partition_point(|&start| start <= offset) - 1
    }

    /// Where line `line`'s text ends, before its line break.
    fn line_end(&self, line: usize) -> usize {
        let start = self.lines[line];
        let next = self.lines.get(line + 1).copied().unwrap_or(self.text.len());
        start + self.text[start..next].trim_end_matches(['\r', '\n']).len()
    }
}

/// Offsets of line starts in `text` (see `Indexed::lines`).
fn line_starts(text: &str) -> Vec<usize> {
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
    lines
}

/// A stretch of the file an excerpt shows unchanged: from `original` in the file, at
/// `shown` in the excerpt, `len` bytes long. What lies between two of them is left out.
#[derive(Debug, Clone, Copy)]
struct Kept {
    original: usize,
    shown: usize,
    len: usize,
}

/// What one diagnostic's snippets read: the file's lines from its first label's (less the
/// context) to its last label's (plus the context), long lines shortened around its labels.
/// Lines no snippet shows (between labels far apart) are left empty, so every line keeps
/// its number.
pub(super) struct Excerpt<'a> {
    file: &'a Indexed,
    /// The file's line the excerpt starts with.
    first_line: usize,
    text: String,
    /// Offsets of line starts in `text`.
    lines: Vec<usize>,
    /// In order. A shown line's start is never left out, so its column counts in the file.
    kept: Vec<Kept>,
}

impl<'a> Excerpt<'a> {
    pub(super) fn new(file: &'a Indexed, spans: &[SourceSpan]) -> Self {
        let len = file.text.len();
        let bounded = |at: usize| at.min(len);
        // The lines each label's snippet may show, with one more below: miette reads on
        // to the end of the last one.
        let mut shown: Vec<(usize, usize)> = spans
            .iter()
            .map(|s| {
                let start = file.line_of(bounded(s.offset()));
                let end = file.line_of(bounded((s.offset() + s.len()).saturating_sub(1)));
                let last = file.lines.len() - 1;
                (
                    start.saturating_sub(CONTEXT_LINES),
                    (end.max(start) + CONTEXT_LINES + 1).min(last),
                )
            })
            .collect();
        shown.sort_unstable();
        let first_line = shown.first().map_or(0, |&(first, _)| first);
        let last_line = shown.iter().map(|&(_, last)| last).max().unwrap_or(0);
        let ends: Vec<usize> = spans
            .iter()
            .flat_map(|s| [s.offset(), s.offset() + s.len()])
            .map(bounded)
            .collect();

        // Byte ranges of the file left out, each with what stands for it.
        let mut left_out: Vec<(usize, usize, &str)> = Vec::new();
        let mut next_shown = 0;
        for line in first_line..=last_line {
            let (start, end) = (file.lines[line], file.line_end(line));
            while next_shown < shown.len() && shown[next_shown].1 < line {
                next_shown += 1;
            }
            if shown.get(next_shown).is_none_or(|&(from, _)| from > line) {
                // No snippet shows it: its text is left out, its line break kept.
                if start < end {
                    left_out.push((start, end, ""));
                }
            } else if end - start > LONG_LINE {
                shorten(&file.text, start, end, &ends, &mut left_out);
            }
        }

        let stop = file
            .lines
            .get(last_line + 1)
            .copied()
            .unwrap_or(file.text.len());
        let mut text = String::new();
        let mut kept = Vec::with_capacity(left_out.len() + 1);
        let mut from = file.lines[first_line];
        for (start, end, instead) in left_out.into_iter().chain([(stop, stop, "")]) {
            kept.push(Kept {
                original: from,
                shown: text.len(),
                len: start - from,
            });
            text.push_str(&file.text[from..start]);
            text.push_str(instead);
            from = end;
        }
        Excerpt {
            file,
            first_line,
            lines: line_starts(&text),
            text,
            kept,
        }
    }

    /// Where the file's byte `offset` is in the excerpt (a byte left out: where the gap is).
    fn shown_offset(&self, offset: usize) -> usize {
        let at = self.kept.partition_point(|k| k.original <= offset).max(1) - 1;
        let k = self.kept[at];
        k.shown + offset.saturating_sub(k.original).min(k.len)
    }

    /// Where the excerpt's byte `offset` is in the file (in a `…`: the first byte left out).
    fn original_offset(&self, offset: usize) -> usize {
        let at = self.kept.partition_point(|k| k.shown <= offset).max(1) - 1;
        let k = self.kept[at];
        k.original + offset.saturating_sub(k.shown).min(k.len)
    }

    /// A span of the file, as a span of the excerpt.
    pub(super) fn shown_span(&self, span: SourceSpan) -> SourceSpan {
        let start = self.shown_offset(span.offset());
        let end = self.shown_offset(span.offset() + span.len());
        SourceSpan::new(start.into(), end - start)
    }

    /// The excerpt's line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.lines.partition_point(|&start| start <= offset) - 1
    }
}

/// Adds to `left_out` what long line `start..end` leaves out: all but its first `KEEP`
/// bytes and the `KEEP` bytes on each side of each label end (`ends`) on it.
fn shorten(
    text: &str,
    start: usize,
    end: usize,
    ends: &[usize],
    left_out: &mut Vec<(usize, usize, &str)>,
) {
    let mut windows: Vec<(usize, usize)> = std::iter::once((start, start + KEEP))
        .chain(
            ends.iter()
                .filter(|&&at| (start..=end).contains(&at))
                .map(|&at| (at.saturating_sub(KEEP), at + KEEP)),
        )
        .map(|(from, to)| {
            (
                text.floor_char_boundary(from.max(start)),
                text.ceil_char_boundary(to.min(end)),
            )
        })
        .collect();
    windows.sort_unstable();
    let mut shown_to = start;
    for (from, to) in windows {
        // A gap no longer than the ellipsis is shown as it is.
        if from > shown_to + ELLIPSIS.len() {
            left_out.push((shown_to, from, ELLIPSIS));
        }
        shown_to = shown_to.max(to);
    }
    if end > shown_to + ELLIPSIS.len() {
        left_out.push((shown_to, end, ELLIPSIS));
    }
}

impl SourceCode for Excerpt<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
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
        let data: &'b [u8] = {
            let from = inner.span().offset() + start;
            &self.text.as_bytes()[from..from + inner.data().len()]
        };
        // miette gives a column (in bytes) only without lines before: count it in the
        // file, not in the shortened line (each line's start is kept).
        let column = if context_lines_before == 0 {
            let line_start = self.lines[self.line_of(span.offset())];
            self.original_offset(span.offset()) - self.original_offset(line_start)
        } else {
            inner.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.file.name.clone(),
            data,
            SourceSpan::new((inner.span().offset() + start).into(), inner.span().len()),
            inner.line() + first + self.first_line,
            column,
            // Lines in this snippet, not in the file up to it: miette adds this to the
            // first line to decide whether the next label's snippet overlaps.
            inner.line_count(),
        )))
    }
}
