//! Values: of the wrong type, not in the allowed set, not a size, a duration, a name or an
//! address strixc can use.

use std::fmt::Write as _;

use crate::diagnostic::{Thing, problem};

problem! {
    WrongType { what: String, expected: &'static str, found: &'static str },
    code: "strixc::decode::wrong_type",
    message: "{what} must be {expected}, not {found}",
    label: "expected {expected}",
    help: { wrong_type_help(expected, found) },
}

problem! {
    InvalidValue { what: String, value: String, expected: Vec<&'static str>, suggestion: Option<String> },
    code: "strixc::decode::invalid_value",
    message: "`{value}` is not a valid {what}",
    label: "not allowed",
    help: {
        let mut help = String::new();
        if let Some(s) = suggestion {
            let _ = write!(help, "did you mean `{s}`? ");
        }
        let _ = write!(help, "expected one of: {}", expected.join(", "));
        help
    },
}

problem! {
    InvalidSize { what: String, value: String },
    code: "strixc::decode::invalid_size",
    message: "{what} `{value}` is not a size",
    label: "expected a size like \"9.98GB\" or \"512MiB\"",
    help: "write a number and a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)",
}

problem! {
    SizeTooLarge { what: String, value: String },
    code: "strixc::decode::size_too_large",
    message: "{what} `{value}` is too large (more than 16 EiB)",
    label: "too large",
    help: "write a size below 16 EiB, such as \"124GiB\"",
}

problem! {
    InvalidDuration { what: String, value: String },
    code: "strixc::decode::invalid_duration",
    message: "{what} `{value}` is not a duration",
    label: "expected a duration like \"30s\" or \"15m\"",
    help: "write a number and a unit: ms, s, m or h",
}

problem! {
    NotPositive { what: String },
    code: "strixc::decode::not_positive",
    message: "{what} must be greater than zero",
    label: "must be > 0",
    help: "write a value greater than zero",
}

problem! {
    OutOfRange { what: String, min: String, max: String },
    code: "strixc::decode::out_of_range",
    message: "{what} must be between {min} and {max}",
    label: "out of range",
    help: {
        if max.contains("steps of 0.01") {
            "write a fraction of the GPU's memory with at most two decimals, like 0.45".into()
        } else {
            format!("write a value from {min} to {max}")
        }
    },
}

problem! {
    PortOutOfRange { port: i128 },
    code: "strixc::agent::port_out_of_range",
    message: "port {port} is out of range",
    label: "not in 1..=65535",
    help: "use a port between 1 and 65535; ports above 1023 need no root",
}

problem! {
    InvalidName { thing: Thing, name: String },
    code: "strixc::name::invalid",
    message: { format!("`{name}` is not a valid {} name", thing.noun()) },
    label: "invalid name",
    help: {
        match thing {
            Thing::Model => {
                "model names start with a lowercase letter and use only a-z, 0-9, '.' and '-'"
            }
            _ => {
                "names start with a lowercase letter and use only a-z, 0-9 and '-': they become unit and file names"
            }
        }
    },
}

problem! {
    ControlCharacter { what: String, character: char },
    code: "strixc::security::control_character",
    message: { format!("{what} contains {}", describe_control(*character)) },
    label: "control character in here",
    help: "unit files are line-based: a line break or control character could inject keys; remove it",
}

problem! {
    InvalidPodmanVersion { value: String },
    code: "strixc::host::invalid_podman_version",
    message: "`{value}` is not a podman version",
    label: "expected MAJOR.MINOR",
    help: "write it as `podman \"5.4\"`",
}

problem! {
    HostAddressInvalid { value: String },
    code: "strixc::agent::invalid_bind",
    message: "`{value}` is not an IP address",
    label: "expected an IPv4 or IPv6 address",
    help: "for example \"127.0.0.1\" or \"::1\"",
}

/// "a line break (\\n)", "the control character U+0007".
fn describe_control(c: char) -> String {
    match c {
        '\n' => "a line break (\\n)".into(),
        '\r' => "a carriage return (\\r)".into(),
        '\t' => "a tab (\\t)".into(),
        c => format!("the control character U+{:04X}", u32::from(c)),
    }
}

/// How to write a value of the expected type, given the type that was found.
fn wrong_type_help(expected: &str, found: &str) -> String {
    match (expected, found) {
        ("a whole number" | "a fraction like 0.45", "a string") => {
            "remove the quotes: KDL numbers are written bare, like `port 8001`".into()
        }
        ("a whole number", _) => "write a whole number, like `context 32768`".into(),
        ("a string", _) => "put the value in double quotes".into(),
        ("#true or #false", _) => "write #true or #false (KDL 2 keywords start with `#`)".into(),
        (e, _) if e.starts_with("a size") => {
            "write the size as a quoted string with a unit, like \"9.98GB\" or \"512MiB\"".into()
        }
        (e, _) if e.starts_with("a duration") => {
            "write the duration as a quoted string with a unit, like \"30s\" or \"15m\"".into()
        }
        (e, _) => format!("write {e}"),
    }
}
