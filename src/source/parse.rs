//! Text → KDL document, behind guards the kdl crate does not have: it recurses once per
//! nested block (20,000 levels overflow its stack) and parses about 2 MB/s, so depth and
//! size are checked before it sees the text. It also recurses once per `*`, `/` or nested
//! comment inside a block comment (3,000 stars in one `/* */` overflow a debug build's
//! 8 MiB stack), so block comments are blanked to spaces before it sees them.

use std::collections::{HashMap, HashSet};

use kdl::{KdlDiagnostic, KdlDocument};
use miette::SourceSpan;

use crate::diagnostic::Diagnostics;
use crate::source::Source;
use crate::source::problems::{NotUtf8, Syntax, TooDeep, TooLarge, TooManyLines};

/// Largest file strixc will parse: a 1,000-agent stack is about 230 KB. The KDL parser
/// reads about 1 MB per CPU second on a busy 2-core machine: `check` of any file it admits
/// stays near 1 s.
pub const MAX_BYTES: usize = 1024 * 1024;
/// Most lines (or `;`-separated nodes) strixc will parse: the parser's cost grows with
/// the number of nodes as much as with bytes, and a 10,000-agent stack has about 60,000.
pub const MAX_LINES: usize = 100_000;
/// Deepest nesting of `{ }` blocks: a stack uses two.
pub const MAX_DEPTH: usize = 32;

/// Parses the source, or records why it can't and returns `None`.
pub fn parse(source: &Source, diagnostics: &mut Diagnostics) -> Option<KdlDocument> {
    if let Some(offset) = source.invalid_utf8_at() {
        diagnostics.emit(
            NotUtf8 {
                file: source.name().to_owned(),
            },
            (offset, 1),
        );
        return None;
    }
    let text = source.text();
    if text.len() > MAX_BYTES {
        diagnostics.emit(
            TooLarge {
                bytes: text.len(),
                limit: MAX_BYTES,
            },
            (0, 0),
        );
        return None;
    }
    let lines = text.bytes().filter(|&b| b == b'\n' || b == b';').count();
    if lines > MAX_LINES {
        diagnostics.emit(
            TooManyLines {
                lines,
                limit: MAX_LINES,
            },
            (0, 0),
        );
        return None;
    }
    if let Some(offset) = too_deep_at(text, MAX_DEPTH) {
        diagnostics.emit(TooDeep { limit: MAX_DEPTH }, (offset, 1));
        return None;
    }
    // Comments are whitespace to KDL: blanking their insides changes no meaning and no
    // byte offset, so spans still point into the original text.
    let blanked = blank_comments(text);
    match KdlDocument::parse_v2(blanked.as_deref().unwrap_or(text)) {
        Ok(document) => Some(document),
        Err(error) => {
            for d in one_report_each(text, error.diagnostics) {
                let span = clamp(d.span, text.len());
                diagnostics.emit(
                    Syntax {
                        message: d.message.unwrap_or_else(|| "invalid KDL".into()),
                        label: d.label,
                        help: kdl1_hint(text, span).or(d.help),
                    },
                    span,
                );
            }
            None
        }
    }
}

/// kdl's reports, one per mistake. It reports an unclosed block twice, both labelled "not
/// closed": at its `{` ("No closing '}' for child block") and over everything after it
/// ("Closing '}' was not found after nodes"); the one at the `{` stays. It also reports a
/// few mistakes twice at one span; the first stays: in every case seen it names the cause
/// and the later one a consequence, whose help misleads (`#"x`: "Expected quoted string",
/// then "Found invalid node name").
fn one_report_each(text: &str, reports: Vec<KdlDiagnostic>) -> Vec<KdlDiagnostic> {
    let len = text.len();
    // Where what follows each reported `{` starts, with that report's label.
    let after_brace: HashMap<usize, Option<&str>> = reports
        .iter()
        .filter_map(|d| {
            let span = clamp(d.span, len);
            (span.len() == 1 && text.as_bytes()[span.offset()] == b'{')
                .then(|| (span.offset() + 1, d.label.as_deref()))
        })
        .collect();
    let mut seen: HashSet<(usize, usize)> = HashSet::with_capacity(reports.len());
    let keep: Vec<bool> = reports
        .iter()
        .map(|report| {
            let span = clamp(report.span, len);
            let rest_of_block = after_brace
                .get(&span.offset())
                .is_some_and(|label| *label == report.label.as_deref());
            !rest_of_block && seen.insert((span.offset(), span.len()))
        })
        .collect();
    reports
        .into_iter()
        .zip(keep)
        .filter_map(|(report, keep)| keep.then_some(report))
        .collect()
}

/// A hint naming the KDL 2 form when the error sits on a KDL 1 habit: bare `true`,
/// `false`, `null` (KDL 2: `#true`, `#false`, `#null`), or a `#` line comment (KDL 2
/// comments are `//` and `/* */`).
fn kdl1_hint(text: &str, span: SourceSpan) -> Option<String> {
    let rest = text.get(span.offset()..)?;
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if let "true" | "false" | "null" = word.as_str() {
        return Some(format!(
            "KDL 2 writes keywords with a `#`: `#{word}` (bare `{word}` is KDL 1)"
        ));
    }
    let line_start = text[..span.offset()].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..span.offset()];
    if rest.starts_with('#') && before.trim().is_empty() && !rest.starts_with("#\"") {
        let after = rest[1..].trim_start();
        let keyword = ["true", "false", "null", "inf", "-inf", "nan"]
            .iter()
            .any(|k| after.starts_with(k));
        if !keyword && !rest[1..].starts_with('#') {
            return Some(
                "KDL comments are `// ...` (to the end of the line) or `/* ... */`, not `#`".into(),
            );
        }
    }
    None
}

fn clamp(span: SourceSpan, len: usize) -> SourceSpan {
    let offset = span.offset().min(len);
    let length = span.len().min(len - offset);
    SourceSpan::new(offset.into(), length)
}

/// Byte offset of the first `{` nested deeper than `limit`, skipping strings and comments.
///
/// A lexer just good enough to count blocks: quoted strings with escapes, raw strings
/// `#"…"#`, line comments and nested block comments. Anything it misreads errs towards
/// letting the real parser decide.
fn too_deep_at(text: &str, limit: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(i);
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            b'"' | b'#' | b'/' => {
                i = skip_string_or_comment(bytes, i);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The text with the inside of every block comment replaced by spaces (line breaks kept),
/// or `None` when it has no block comment. Same length, same byte offsets, still UTF-8
/// (only whole characters between two ASCII delimiters are replaced).
fn blank_comments(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = skip_block_comment(bytes, i + 2);
                // `end` is the closing `*/`'s `/`, or the end of an unclosed comment.
                let inner_end = if end < bytes.len() {
                    end - 1
                } else {
                    bytes.len()
                };
                let out = out.get_or_insert_with(|| bytes.to_vec());
                for b in &mut out[i + 2..inner_end] {
                    if *b != b'\n' && *b != b'\r' {
                        *b = b' ';
                    }
                }
                i = end + 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = skip_string_or_comment(bytes, i);
                // The parser reads a comment character by character, a third of the time
                // on a commented stack; blanks are cheaper. Only plain ASCII comments after
                // white space are blanked, so a comment's end (KDL also ends lines at CR,
                // FF, NEL, LS and PS) and what counts as a separator never change.
                let after_space = i == 0 || bytes[i - 1].is_ascii_whitespace();
                let plain = bytes[i..end]
                    .iter()
                    .all(|&b| (b' '..=b'~').contains(&b) || b == b'\t');
                if after_space && plain {
                    out.get_or_insert_with(|| bytes.to_vec())[i..end].fill(b' ');
                }
                i = end;
            }
            b'"' | b'#' => i = skip_string_or_comment(bytes, i),
            _ => i += 1,
        }
    }
    out.and_then(|bytes| String::from_utf8(bytes).ok())
}

fn skip_string_or_comment(bytes: &[u8], i: usize) -> usize {
    match bytes[i] {
        b'"' if bytes[i + 1..].starts_with(b"\"\"") => skip_multi_line(bytes, i + 3) + 1,
        b'"' => skip_quoted(bytes, i + 1) + 1,
        b'#' => {
            let hashes = bytes[i..].iter().take_while(|&&b| b == b'#').count();
            if bytes.get(i + hashes) == Some(&b'"') {
                skip_raw(bytes, i + hashes + 1, hashes) + 1
            } else {
                i + hashes
            }
        }
        b'/' if bytes.get(i + 1) == Some(&b'/') => {
            let mut j = i;
            while j < bytes.len() && bytes[j] != b'\n' {
                j += 1;
            }
            j
        }
        b'/' if bytes.get(i + 1) == Some(&b'*') => skip_block_comment(bytes, i + 2) + 1,
        _ => i + 1,
    }
}

/// From just after an opening `"""` to the last quote of the closing `"""`: a lone `"`
/// inside a multi-line string does not end it.
fn skip_multi_line(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' if bytes[i..].starts_with(b"\"\"\"") => return i + 2,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// From just after an opening quote to the closing quote's index.
fn skip_quoted(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// From just after `#…#"` to the last `#` of the closing `"#…#`.
fn skip_raw(bytes: &[u8], mut i: usize, hashes: usize) -> usize {
    while i < bytes.len() {
        if bytes[i] == b'"'
            && bytes[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&b| b == b'#')
                .count()
                == hashes
        {
            return i + hashes;
        }
        i += 1;
    }
    bytes.len()
}

/// From just inside `/*` to the closing `/`, honouring nesting.
fn skip_block_comment(bytes: &[u8], mut i: usize) -> usize {
    let mut depth = 1;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i - 1;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_before_the_parser_sees_it() {
        let text = "a {".repeat(20_000);
        let source = Source::new("deep.kdl", text);
        let mut diagnostics = Diagnostics::new();
        assert!(parse(&source, &mut diagnostics).is_none());
        let d = diagnostics.sorted();
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].problem.downcast_ref::<TooDeep>().map(|p| p.limit),
            Some(MAX_DEPTH)
        );
        assert_eq!(d[0].span.offset(), 3 * MAX_DEPTH + 2);
    }

    #[test]
    fn braces_in_strings_and_comments_do_not_count() {
        let inner = "{".repeat(100);
        let text = format!(
            "a \"{inner}\" #\"{inner}\"# // {inner}\n/* /* {inner} */ {inner} */ b {{ c {{ }} }}"
        );
        assert_eq!(too_deep_at(&text, 2), None);
        assert_eq!(too_deep_at("a { b { c { } } }", 2), Some(10));
    }

    #[test]
    fn long_and_deeply_nested_block_comments_do_not_overflow_the_parser() {
        let stars = format!("stack \"x\"\n/* {} */\nhost {{ }}\n", "* ".repeat(50_000));
        let nested = format!(
            "stack \"x\"\n{}{}\nhost {{ }}\n",
            "/* ".repeat(25_000),
            "*/ ".repeat(25_000)
        );
        for text in [stars, nested] {
            let source = Source::new("comments.kdl", text);
            let mut diagnostics = Diagnostics::new();
            let document = parse(&source, &mut diagnostics).expect("comments are whitespace");
            assert_eq!(document.nodes().len(), 2);
        }
    }

    #[test]
    fn blanking_keeps_offsets_and_leaves_strings_alone() {
        let text = "a \"/* x */\" /* é\n{ */ b \"\"\"\n 5\" /* \n\"\"\" #\"/*\"# // /*\nc";
        let blanked = blank_comments(text).unwrap();
        assert_eq!(blanked.len(), text.len());
        assert_eq!(
            blanked,
            "a \"/* x */\" /*   \n  */ b \"\"\"\n 5\" /* \n\"\"\" #\"/*\"#      \nc"
        );
        assert_eq!(blank_comments("a \"/*\" \"//\" #\"//\"#"), None);
        // Line comments: blanked when plain ASCII after white space, kept otherwise.
        assert_eq!(blank_comments("a // x\nb").as_deref(), Some("a     \nb"));
        assert_eq!(blank_comments("a // é\nb"), None);
        assert_eq!(blank_comments("a // x\r\nb"), None);
        assert_eq!(blank_comments("a// x\nb"), None);
        // An unclosed comment is blanked to the end and still reported by the parser.
        let source = Source::new("open.kdl", "a /* { * / * /");
        let mut diagnostics = Diagnostics::new();
        assert!(parse(&source, &mut diagnostics).is_none());
        assert!(diagnostics.has_errors());
    }

    /// The (offset, length, message) of each syntax error reported for `text`.
    fn syntax_errors(text: &str) -> Vec<(usize, usize, String)> {
        let source = Source::new("bad.kdl", text);
        let mut diagnostics = Diagnostics::new();
        assert!(parse(&source, &mut diagnostics).is_none());
        diagnostics
            .sorted()
            .iter()
            .map(|d| (d.span.offset(), d.span.len(), d.problem.message()))
            .collect()
    }

    #[test]
    fn an_unclosed_block_is_reported_once_at_its_brace() {
        let unclosed = "KDL syntax error: No closing '}' for child block";
        let errors = syntax_errors("stack \"x\"\nhost {\n    memory \"1GiB\"\n");
        assert_eq!(errors, [(15, 1, unclosed.to_owned())]);
        // Two unclosed blocks: one report each.
        let errors = syntax_errors("a {\n b {\n");
        assert_eq!(
            errors,
            [(2, 1, unclosed.to_owned()), (7, 1, unclosed.to_owned())]
        );
        // Another mistake inside the block is still reported.
        let errors = syntax_errors("a {\n  b \"x\n");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[1].2.contains("single-line quoted string"),
            "{errors:?}"
        );
    }

    #[test]
    fn one_report_per_span() {
        // kdl: a block without a node, then its missing `}`, both at the `{`.
        let errors = syntax_errors("{");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].2.contains("child block instead of node name"));
        // kdl: the unclosed raw string, then "Found invalid node name" at the same span.
        let errors = syntax_errors("a #\"x");
        let at_string: Vec<_> = errors.iter().filter(|e| e.0 == 3).collect();
        assert_eq!(at_string.len(), 1, "{errors:?}");
        assert!(at_string[0].2.contains("Expected quoted string"));
    }

    #[test]
    fn syntax_errors_carry_spans_inside_the_text() {
        let source = Source::new("bad.kdl", "agent \"x\" {\n  port 80 80 =\n");
        let mut diagnostics = Diagnostics::new();
        assert!(parse(&source, &mut diagnostics).is_none());
        assert!(diagnostics.has_errors());
        for d in diagnostics.iter() {
            assert!(d.span.offset() + d.span.len() <= source.text().len());
        }
    }
}
