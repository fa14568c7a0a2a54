//! Text → KDL document, behind guards the kdl crate does not have: it recurses once per
//! nested block (20,000 levels overflow its stack) and parses about 2 MB/s, so depth and
//! size are checked before it sees the text.

use kdl::KdlDocument;
use miette::SourceSpan;

use crate::diagnostic::{Diagnostics, Kind};
use crate::source::Source;

/// Largest file strixc will parse: a 1,000-agent stack is about 230 KB.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of `{ }` blocks: a stack uses two.
pub const MAX_DEPTH: usize = 32;

/// Parses the source, or records why it can't and returns `None`.
pub fn parse(source: &Source, diagnostics: &mut Diagnostics) -> Option<KdlDocument> {
    if let Some(offset) = source.invalid_utf8_at() {
        diagnostics.emit(Kind::NotUtf8, (offset, 1));
        return None;
    }
    let text = source.text();
    if text.len() > MAX_BYTES {
        diagnostics.emit(
            Kind::TooLarge {
                bytes: text.len(),
                limit: MAX_BYTES,
            },
            (0, 0),
        );
        return None;
    }
    if let Some(offset) = too_deep_at(text, MAX_DEPTH) {
        diagnostics.emit(Kind::TooDeep { limit: MAX_DEPTH }, (offset, 1));
        return None;
    }
    match KdlDocument::parse_v2(text) {
        Ok(document) => Some(document),
        Err(error) => {
            for d in error.diagnostics {
                let span = clamp(d.span, text.len());
                diagnostics.emit(
                    Kind::Syntax {
                        message: d.message.unwrap_or_else(|| "invalid KDL".into()),
                        label: d.label,
                        help: d.help,
                    },
                    span,
                );
            }
            None
        }
    }
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
            b'"' => i = skip_quoted(bytes, i + 1),
            b'#' => {
                let hashes = bytes[i..].iter().take_while(|&&b| b == b'#').count();
                if bytes.get(i + hashes) == Some(&b'"') {
                    i = skip_raw(bytes, i + hashes + 1, hashes);
                } else {
                    i += hashes;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i + 2),
            _ => {}
        }
        i += 1;
    }
    None
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
        if bytes[i] == b'"' && bytes[i + 1..].iter().take(hashes).filter(|&&b| b == b'#').count() == hashes {
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
        assert_eq!(d[0].kind, Kind::TooDeep { limit: MAX_DEPTH });
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
