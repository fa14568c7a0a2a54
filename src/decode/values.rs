//! Turning one KDL entry into a typed, spanned value, or a diagnostic.

use std::net::IpAddr;

use kdl::{KdlEntry, KdlValue};
use miette::SourceSpan;

use super::entries::type_name;
use crate::decode::problems::{
    ControlCharacter, HostAddressInvalid, InvalidDuration, InvalidName, InvalidSize, InvalidValue,
    NotPositive, OutOfRange, PortOutOfRange, SizeTooLarge, WrongType,
};
use crate::diagnostic::{Diagnostics, Thing};
use crate::stack::quantity;
use crate::stack::{Spanned, Text};

fn wrong_type(entry: &KdlEntry, what: &str, expected: &'static str, d: &mut Diagnostics) {
    d.emit(
        WrongType {
            what: what.to_owned(),
            expected,
            found: type_name(entry.value()),
        },
        entry.span(),
    );
}

/// A string. Every string may end up in a unit file, where a line break or control
/// character would start a new line or key: those are refused here, once, for all.
pub fn string(entry: &KdlEntry, what: &str, d: &mut Diagnostics) -> Option<Text> {
    match entry.value() {
        KdlValue::String(s) => {
            if let Some(character) = s.chars().find(|c| c.is_control()) {
                d.emit(
                    ControlCharacter {
                        what: what.to_owned(),
                        character,
                    },
                    entry.span(),
                );
                return None;
            }
            Some(Spanned::new(s.clone(), entry.span()))
        }
        _ => {
            wrong_type(entry, what, "a string", d);
            None
        }
    }
}

/// A string or a number, kept as text (sysctl values: `"80"` or `80`).
pub fn scalar_text(entry: &KdlEntry, what: &str, d: &mut Diagnostics) -> Option<Text> {
    match entry.value() {
        KdlValue::Integer(i) => Some(Spanned::new(i.to_string(), entry.span())),
        _ => string(entry, what, d),
    }
}

/// `[a-z][a-z0-9-]*`: stack, agent, profile and runtime names become file and unit names,
/// so nothing else may pass. Model names never reach a file or unit name, and model
/// versions have dots (`qwen2.5-14b-awq`, as Hugging Face names them): `[a-z][a-z0-9.-]*`
/// there (`dots`).
fn is_valid(name: &str, dots: bool) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots && c == '.'))
        && name.len() <= 64
}

pub fn name(entry: &KdlEntry, thing: Thing, d: &mut Diagnostics) -> Option<Text> {
    let text = string(entry, &format!("a {} name", thing.noun()), d)?;
    if !is_valid(&text.value, thing == Thing::Model) {
        d.emit(
            InvalidName {
                thing,
                name: text.value.clone(),
            },
            text.span,
        );
        return None;
    }
    Some(text)
}

/// Names of `thing`s, each checked; the invalid ones are reported and left out.
pub fn names(entries: Vec<&KdlEntry>, thing: Thing, d: &mut Diagnostics) -> Vec<Text> {
    entries
        .into_iter()
        .filter_map(|e| name(e, thing, d))
        .collect()
}

/// `sysctl "K" "V"` and its kin: a string, then a string or number kept as text, each
/// named as `what` says in its diagnostics.
pub fn text_pair(
    first: &KdlEntry,
    second: &KdlEntry,
    what: (&str, &str),
    d: &mut Diagnostics,
) -> (Option<Text>, Option<Text>) {
    (string(first, what.0, d), scalar_text(second, what.1, d))
}

pub fn boolean(entry: &KdlEntry, what: &str, d: &mut Diagnostics) -> Option<Spanned<bool>> {
    match entry.value() {
        KdlValue::Bool(b) => Some(Spanned::new(*b, entry.span())),
        _ => {
            wrong_type(entry, what, "#true or #false", d);
            None
        }
    }
}

/// A whole number greater than zero (and at most 2^32 - 1).
pub fn positive(entry: &KdlEntry, what: &str, d: &mut Diagnostics) -> Option<Spanned<u64>> {
    positive_up_to(entry, what, u32::MAX.into(), d)
}

/// A whole number from 1 to `max`.
pub fn positive_up_to(
    entry: &KdlEntry,
    what: &str,
    max: u64,
    d: &mut Diagnostics,
) -> Option<Spanned<u64>> {
    match entry.value() {
        KdlValue::Integer(i) if *i <= 0 => {
            d.emit(
                NotPositive {
                    what: what.to_owned(),
                },
                entry.span(),
            );
            None
        }
        KdlValue::Integer(i) => match u64::try_from(*i) {
            Ok(n) if n <= max => Some(Spanned::new(n, entry.span())),
            _ => {
                d.emit(
                    OutOfRange {
                        what: what.to_owned(),
                        min: "1".into(),
                        max: max.to_string(),
                    },
                    entry.span(),
                );
                None
            }
        },
        _ => {
            wrong_type(entry, what, "a whole number", d);
            None
        }
    }
}

pub fn port(entry: &KdlEntry, d: &mut Diagnostics) -> Option<Spanned<u16>> {
    match entry.value() {
        KdlValue::Integer(i) => match u16::try_from(*i) {
            Ok(p) if p > 0 => Some(Spanned::new(p, entry.span())),
            _ => {
                d.emit(PortOutOfRange { port: *i }, entry.span());
                None
            }
        },
        _ => {
            wrong_type(entry, "a port", "a whole number", d);
            None
        }
    }
}

pub fn size(
    entry: &KdlEntry,
    what: &str,
    allow_zero: bool,
    d: &mut Diagnostics,
) -> Option<Spanned<u64>> {
    let text = match entry.value() {
        KdlValue::String(s) => s,
        KdlValue::Integer(i) if *i <= 0 && !allow_zero => {
            d.emit(
                NotPositive {
                    what: what.to_owned(),
                },
                entry.span(),
            );
            return None;
        }
        _ => {
            wrong_type(entry, what, "a size string like \"9.98GB\"", d);
            return None;
        }
    };
    if text.trim_start().starts_with('-') {
        d.emit(
            NotPositive {
                what: what.to_owned(),
            },
            entry.span(),
        );
        return None;
    }
    match quantity::parse_size(text) {
        Some(0) if !allow_zero => {
            d.emit(
                NotPositive {
                    what: what.to_owned(),
                },
                entry.span(),
            );
            None
        }
        Some(bytes) => Some(Spanned::new(bytes, entry.span())),
        None if quantity::size_too_large(text) => {
            d.emit(
                SizeTooLarge {
                    what: what.to_owned(),
                    value: text.clone(),
                },
                entry.span(),
            );
            None
        }
        None => {
            d.emit(
                InvalidSize {
                    what: what.to_owned(),
                    value: text.clone(),
                },
                entry.span(),
            );
            None
        }
    }
}

pub fn duration(entry: &KdlEntry, what: &str, d: &mut Diagnostics) -> Option<Spanned<u64>> {
    let KdlValue::String(text) = entry.value() else {
        wrong_type(entry, what, "a duration string like \"30s\"", d);
        return None;
    };
    match quantity::parse_duration(text) {
        Some(0) => {
            d.emit(
                NotPositive {
                    what: what.to_owned(),
                },
                entry.span(),
            );
            None
        }
        Some(ms) => Some(Spanned::new(ms, entry.span())),
        None => {
            d.emit(
                InvalidDuration {
                    what: what.to_owned(),
                    value: text.clone(),
                },
                entry.span(),
            );
            None
        }
    }
}

/// A fraction in (0, 1] with at most two decimals, as hundredths: the value is written
/// into `--gpu-memory-utilization` exactly.
pub fn fraction(entry: &KdlEntry, what: &str, d: &mut Diagnostics) -> Option<Spanned<u16>> {
    let value = match entry.value() {
        KdlValue::Float(f) => *f,
        KdlValue::Integer(i) => *i as f64,
        _ => {
            wrong_type(entry, what, "a fraction like 0.45", d);
            return None;
        }
    };
    let hundredths = (value * 100.0).round();
    if !(value > 0.0 && value <= 1.0) || (hundredths - value * 100.0).abs() > 1e-6 {
        d.emit(
            OutOfRange {
                what: what.to_owned(),
                min: "0.01".into(),
                max: "1.00 in steps of 0.01".into(),
            },
            entry.span(),
        );
        return None;
    }
    Some(Spanned::new(hundredths as u16, entry.span()))
}

pub fn ip_address(entry: &KdlEntry, d: &mut Diagnostics) -> Option<Spanned<IpAddr>> {
    let text = string(entry, "a listen address", d)?;
    match text.value.parse::<IpAddr>() {
        Ok(ip) => Some(Spanned::new(ip, text.span)),
        Err(_) => {
            d.emit(HostAddressInvalid { value: text.value }, text.span);
            None
        }
    }
}

/// Reports `value` (at `span`) as not a valid `what`: `expected` says what would be.
pub fn invalid(
    what: &str,
    value: &str,
    expected: &'static str,
    span: SourceSpan,
    d: &mut Diagnostics,
) {
    d.emit(
        InvalidValue {
            what: what.to_owned(),
            value: value.to_owned(),
            expected: vec![expected],
            suggestion: None,
        },
        span,
    );
}

/// `text` when `valid`; otherwise it is reported as an invalid `what`, saying what was
/// `expected`, and dropped.
pub fn checked(
    text: Text,
    valid: bool,
    what: &str,
    expected: &'static str,
    d: &mut Diagnostics,
) -> Option<Text> {
    if !valid {
        invalid(what, &text.value, expected, text.span, d);
        return None;
    }
    Some(text)
}

/// Whether `s` is a word: ASCII letters, digits and the characters of `extra`, at least one.
pub fn is_word(s: &str, extra: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// One of a fixed set of words, with "did you mean".
pub fn choice<T>(
    entry: &KdlEntry,
    what: &str,
    choices: &[&'static str],
    parse: impl Fn(&str) -> Option<T>,
    d: &mut Diagnostics,
) -> Option<Spanned<T>> {
    let text = string(entry, what, d)?;
    match parse(&text.value) {
        Some(value) => Some(Spanned::new(value, text.span)),
        None => {
            d.emit(
                InvalidValue {
                    what: what.to_owned(),
                    suggestion: crate::diagnostic::suggest::did_you_mean(
                        &text.value,
                        choices.iter().copied(),
                    )
                    .map(str::to_owned),
                    value: text.value,
                    expected: choices.to_vec(),
                },
                text.span,
            );
            None
        }
    }
}
