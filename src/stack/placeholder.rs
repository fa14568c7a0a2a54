//! `{port}`, `{host}`, `{model}`, `{context}` in a native runtime's command: the names
//! and the one scanner that finds them, for the check that admits them and the renderer
//! that fills them.

use super::words::string_enum;

string_enum! {
    /// What `{…}` in a native command may name.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Placeholder {
        Port = "port",
        Host = "host",
        Model = "model",
        Context = "context",
    }
}

/// A piece of a command argument: text as written, or the name inside one `{name}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// The braces' content, known or not: it holds no `{` or `}`.
    Name(&'a str),
}

/// Splits `text` into literal text and `{name}` placeholders. A `{` with no `}` after it,
/// or with another `{` before its `}`, is literal text: `{a{port}` is `{a` then `port`.
pub fn pieces(text: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (piece, len) = match first_placeholder(rest) {
            Some((0, end)) => (Piece::Name(&rest[1..end - 1]), end),
            Some((open, _)) => (Piece::Text(&rest[..open]), open),
            None => (Piece::Text(rest), rest.len()),
        };
        rest = &rest[len..];
        Some(piece)
    })
}

/// Where the first `{name}` of `text` starts and ends (past its `}`).
fn first_placeholder(text: &str) -> Option<(usize, usize)> {
    text.match_indices('{').find_map(|(open, _)| {
        let after = &text[open + 1..];
        let brace = after.find(['{', '}'])?;
        after[brace..]
            .starts_with('}')
            .then_some((open, open + 1 + brace + 1))
    })
}

/// The names inside `{…}` in a command argument.
pub fn placeholder_names(text: &str) -> impl Iterator<Item = &str> {
    pieces(text).filter_map(|piece| match piece {
        Piece::Name(name) => Some(name),
        Piece::Text(_) => None,
    })
}

/// Fills each `{name}` that `value` knows, in one pass (a value that itself holds
/// `{port}` stays as it is); unknown names are left as written (the checks reject them).
pub fn substitute<'v>(text: &str, value: impl Fn(&str) -> Option<&'v str>) -> String {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Name(name) => match value(name) {
                Some(filled) => out.push_str(filled),
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_once() {
        let value = |name: &str| match name {
            "model" => Some("/m/{port}.gguf"),
            "port" => Some("8001"),
            _ => None,
        };
        assert_eq!(substitute("{model}", value), "/m/{port}.gguf");
        assert_eq!(substitute("--port={port}", value), "--port=8001");
        assert_eq!(substitute("{x} {port", value), "{x} {port");
        assert_eq!(substitute("a{port}b{port}", value), "a8001b8001");
        assert_eq!(substitute("{a{port}}", value), "{a8001}");
        assert_eq!(substitute("{}{{port}}", value), "{}{8001}");
    }

    #[test]
    fn names_are_what_substitute_would_fill() {
        let names = |text| placeholder_names(text).collect::<Vec<_>>();
        assert_eq!(names("--port={port} {host}"), ["port", "host"]);
        assert_eq!(names("{a{port}"), ["port"]);
        assert_eq!(names("{}"), [""]);
        assert_eq!(names("{port"), Vec::<&str>::new());
        assert_eq!(names("}{x}}"), ["x"]);
        assert_eq!(
            pieces("a{port}b{").collect::<Vec<_>>(),
            [Piece::Text("a"), Piece::Name("port"), Piece::Text("b{")]
        );
    }

    #[test]
    fn every_placeholder_has_its_word() {
        assert_eq!(Placeholder::NAMES, ["port", "host", "model", "context"]);
        assert_eq!(Placeholder::parse("port"), Some(Placeholder::Port));
        assert_eq!(Placeholder::parse("PORT"), None);
    }
}
