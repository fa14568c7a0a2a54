//! D-Bus type signatures: parsed into complete types, with each type's alignment.

use std::fmt;

/// A malformed message or signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(super) fn bad<T>(what: impl Into<String>) -> Result<T, WireError> {
    Err(WireError(what.into()))
}

/// Deepest nesting of containers the specification allows (32 arrays and 32 structs).
pub(super) const MAX_DEPTH: usize = 64;

/// The type code that opens a dict entry, `{`.
pub(super) const ENTRY_CODE: u8 = 0x7b;

/// One complete type of a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Type {
    Basic(u8),
    Variant,
    Array(Box<Type>),
    Struct(Vec<Type>),
    Entry(Box<Type>, Box<Type>),
}

impl Type {
    pub(super) fn align(&self) -> usize {
        match self {
            Type::Basic(b'y' | b'g' | b'v') | Type::Variant => 1,
            Type::Basic(b'n' | b'q') => 2,
            Type::Basic(b'x' | b't' | b'd' | b'(') | Type::Struct(_) | Type::Entry(..) => 8,
            Type::Basic(_) | Type::Array(_) => 4,
        }
    }

    pub(super) fn write(&self, out: &mut String) {
        match self {
            Type::Basic(c) => out.push(*c as char),
            Type::Variant => out.push('v'),
            Type::Array(elem) => {
                out.push('a');
                elem.write(out);
            }
            Type::Struct(fields) => {
                out.push('(');
                fields.iter().for_each(|t| t.write(out));
                out.push(')');
            }
            Type::Entry(k, v) => {
                out.push('{');
                k.write(out);
                v.write(out);
                out.push('}');
            }
        }
    }
}

/// The alignment of the type a signature starts with (`{` alone only inside an array).
pub(super) fn align_of(signature: &str) -> usize {
    match signature.as_bytes().first() {
        Some(&ENTRY_CODE) => 8,
        Some(&c) => Type::Basic(c).align(),
        None => 1,
    }
}

/// Parses a signature into its complete types (at most 255 bytes, 64 levels deep).
pub(super) fn parse_signature(sig: &str) -> Result<Vec<Type>, WireError> {
    if sig.len() > 255 {
        return bad("signature longer than 255 bytes");
    }
    let mut rest = sig.as_bytes();
    let mut types = Vec::new();
    while !rest.is_empty() {
        types.push(parse_type(&mut rest, 0)?);
    }
    Ok(types)
}

fn parse_type(rest: &mut &[u8], depth: usize) -> Result<Type, WireError> {
    if depth > MAX_DEPTH {
        return bad("signature nested too deeply");
    }
    let Some((&c, tail)) = rest.split_first() else {
        return bad("signature ends inside a container");
    };
    *rest = tail;
    Ok(match c {
        b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b's' | b'o' | b'g'
        | b'h' => Type::Basic(c),
        b'v' => Type::Variant,
        b'a' if rest.first() == Some(&b'{') => {
            *rest = &rest[1..];
            let key = parse_type(rest, depth + 1)?;
            if !matches!(key, Type::Basic(_)) {
                return bad("dict key is not a basic type");
            }
            let value = parse_type(rest, depth + 1)?;
            if rest.first() != Some(&b'}') {
                return bad("dict entry without its closing brace");
            }
            *rest = &rest[1..];
            Type::Array(Box::new(Type::Entry(Box::new(key), Box::new(value))))
        }
        b'a' => Type::Array(Box::new(parse_type(rest, depth + 1)?)),
        b'(' => {
            let mut fields = Vec::new();
            while rest.first() != Some(&b')') {
                fields.push(parse_type(rest, depth + 1)?);
            }
            *rest = &rest[1..];
            if fields.is_empty() {
                return bad("empty struct in signature");
            }
            Type::Struct(fields)
        }
        other => {
            return bad(format!(
                "unknown type code {:?} in signature",
                other as char
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_signatures_are_refused() {
        for sig in [
            "a",
            "(",
            "()",
            "a{vs}",
            "a{s}",
            "z",
            "a{ss",
            // 70 nested arrays of bytes: complete, but deeper than MAX_DEPTH.
            &("a".repeat(70) + "y"),
        ] {
            assert!(parse_signature(sig).is_err(), "{sig}");
        }
        assert!(parse_signature(&"y".repeat(256)).is_err(), "over 255 bytes");
    }

    #[test]
    fn systemd_signatures_parse_with_their_alignment() {
        let types = parse_signature("a(sasbttttuii)a{sv}uv").unwrap();
        let aligns: Vec<usize> = types.iter().map(Type::align).collect();
        assert_eq!(aligns, [4, 4, 4, 1]);
        let mut back = String::new();
        types.iter().for_each(|t| t.write(&mut back));
        assert_eq!(back, "a(sasbttttuii)a{sv}uv");
        assert_eq!(align_of("(us)"), 8);
        assert_eq!(align_of("{sv}"), 8);
        assert_eq!(align_of("t"), 8);
        assert_eq!(align_of("q"), 2);
        assert_eq!(align_of("g"), 1);
    }
}
