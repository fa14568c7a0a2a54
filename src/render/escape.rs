//! systemd's quoting rules, as the unit-file parser reads them back (systemd.syntax(7),
//! systemd.service(5) "Command lines", systemd-escape(1) `--path`).
//!
//! Specifiers (`%h`, `%n`, ...): systemd expands them in almost every value, so a literal
//! `%` must be written `%%`. strixc escapes them everywhere, except in the `env` and
//! `volume` values of *container* runtimes, where the stack means them (`%h/.cache/...`):
//! quadlet copies those into the generated `ExecStart=` and systemd expands them there.

/// Characters an `ExecStart=` word or an `Environment=` assignment may hold unquoted.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/._-:,+=@%$^~{}[]".contains(c)
}

/// `%` → `%%`: the value means no specifier.
pub fn escape_specifiers(value: &str) -> String {
    value.replace('%', "%%")
}

/// One word of an `ExecStart=`-style command line that reaches the program's argv exactly:
/// `%` doubled (no specifiers), `$` doubled (no environment expansion), and the word
/// double-quoted with C escapes when it holds anything but plain characters (spaces,
/// quotes, backslashes, `;`, control characters, or when it is empty).
pub fn exec_arg(arg: &str) -> String {
    let mut escaped = String::with_capacity(arg.len() + 2);
    for c in arg.chars() {
        match c {
            '%' => escaped.push_str("%%"),
            '$' => escaped.push_str("$$"),
            _ => escaped.push(c),
        }
    }
    quote_if_needed(&escaped)
}

/// `$` → `$$`: for values that end up in an `ExecStart=` line, where systemd expands
/// `${VAR}` (quadlet copies `Environment=` and `Volume=` values there verbatim).
pub fn escape_dollars(value: &str) -> String {
    value.replace('$', "$$")
}

/// An `Environment=` assignment `KEY=value`, quoted when the value needs it.
///
/// In a plain `.service` (`container == false`) the value's `%` is doubled (no specifiers)
/// and `$` kept: `Environment=` does no variable expansion. In a quadlet `.container`
/// (`container == true`), `%` is kept — the stack means specifiers there, such as `%h` —
/// and `$` is doubled, since quadlet turns the assignment into `--env` in `ExecStart=`.
pub fn env_assignment(key: &str, value: &str, container: bool) -> String {
    let value = if container {
        escape_dollars(value)
    } else {
        escape_specifiers(value)
    };
    quote_if_needed(&format!("{key}={value}"))
}

fn quote_if_needed(word: &str) -> String {
    if !word.is_empty() && word.chars().all(is_plain) {
        return word.to_owned();
    }
    let mut quoted = String::with_capacity(word.len() + 4);
    quoted.push('"');
    for c in word.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    quoted.push_str(&format!("\\x{byte:02x}"));
                }
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::quantity::go_duration;

    #[test]
    fn exec_args() {
        assert_eq!(exec_arg("--port"), "--port");
        assert_eq!(
            exec_arg("Qwen/Qwen2.5-14B-Instruct-AWQ"),
            "Qwen/Qwen2.5-14B-Instruct-AWQ"
        );
        assert_eq!(exec_arg("a b"), "\"a b\"");
        assert_eq!(exec_arg(""), "\"\"");
        assert_eq!(exec_arg(";"), "\";\"");
        assert_eq!(exec_arg(r#"say "hi" \o/"#), r#""say \"hi\" \\o/""#);
        assert_eq!(exec_arg("100%"), "100%%");
        assert_eq!(exec_arg("$HOME"), "$$HOME");
        assert_eq!(exec_arg("it's"), "\"it's\"");
        assert_eq!(exec_arg("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn env_assignments() {
        assert_eq!(
            env_assignment("VLLM_ROCM_USE_AITER", "0", false),
            "VLLM_ROCM_USE_AITER=0"
        );
        assert_eq!(env_assignment("HF_HOME", "%h/hf", true), "HF_HOME=%h/hf");
        assert_eq!(env_assignment("HF_HOME", "%h/hf", false), "HF_HOME=%%h/hf");
        assert_eq!(env_assignment("A", "x y\"z", false), "\"A=x y\\\"z\"");
        assert_eq!(env_assignment("A", "$HOME", false), "A=$HOME");
        assert_eq!(env_assignment("A", "${HOME} %h", true), "\"A=$${HOME} %h\"");
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(900_000), "15m");
        assert_eq!(go_duration(30_000), "30s");
        assert_eq!(go_duration(7_200_000), "2h");
        assert_eq!(go_duration(1_500), "1500ms");
    }
}
