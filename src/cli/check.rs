//! `strixc check`

use super::{Output, load};
use crate::cli::args::Cli;
use crate::error::{Error, ExitCode};

pub fn run(cli: &Cli, out: &Output) -> Result<ExitCode, Error> {
    let (source, checked) = match load(cli, out)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let stack = checked.stack();
    let count = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    out.note(&format!(
        "{}: stack `{}` is valid: {}, {}{}",
        source.name(),
        stack.name.value,
        count(stack.agents.len(), "agent"),
        count(stack.profiles.len(), "profile"),
        match checked.warnings.warning_count() {
            0 => String::new(),
            1 => ", 1 warning".into(),
            n => format!(", {n} warnings"),
        }
    ));
    Ok(ExitCode::Ok)
}
