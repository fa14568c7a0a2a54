//! One function per subcommand: read the inputs, call the pure pipeline, print, and pick
//! the exit code. Nothing here decides anything the pipeline could.

mod activate;
pub mod args;
mod budget;
mod build;
mod check;
mod completions;
mod model;

pub use budget::{budget_json, budget_table};

use std::io::{IsTerminal, Write};

use crate::cli::args::{Cli, Color, Command};
use crate::compile::{Compiled, compile};
use crate::diagnostic::{Diagnostics, RenderStyle, render, render_summary};
use crate::error::{Error, ExitCode};
use crate::source::Source;

pub fn run(cli: Cli) -> ExitCode {
    let out = Output::new(cli.color);
    let result = match &cli.command {
        Command::Check => check::run(&cli, &out),
        Command::Budget(args) => budget::run(&cli, args, &out),
        Command::Build(args) => build::run(&cli, args, &out),
        Command::Apply(args) => activate::apply(&cli, args, &out),
        Command::Diff(args) => activate::diff(&cli, args, &out),
        Command::Status(args) => activate::status(args),
        Command::Rollback(args) => activate::rollback(args),
        Command::Generations(args) => activate::generations(args),
        Command::Serve(args) => activate::serve(args),
        Command::Model(command) => model::run(command),
        Command::Completions { shell } => {
            print_bytes(completions::script(*shell).as_bytes()).map(|()| ExitCode::Ok)
        }
        Command::CompleteProfiles => completions::profiles(&cli),
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|source| Error::Write {
                    path: "stdout".into(),
                    source,
                })
                .and_then(|()| print_bytes(&page))
                .map(|()| ExitCode::Ok)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            out.error(&error.to_string());
            error.exit_code()
        }
    }
}

/// How reports reach the user: diagnostics and messages go to stderr, results to stdout.
pub struct Output {
    style: RenderStyle,
}

impl Output {
    fn new(color: Color) -> Self {
        let colored = match color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Output {
            style: if colored {
                RenderStyle::Color
            } else {
                RenderStyle::Plain
            },
        }
    }

    pub fn diagnostics(&self, diagnostics: &Diagnostics, source: &Source) {
        if diagnostics.is_empty() {
            return;
        }
        let text = render(diagnostics, source, self.style);
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{text}");
        let _ = writeln!(stderr, "{}", render_summary(diagnostics, source));
    }

    pub fn error(&self, message: &str) {
        let _ = writeln!(std::io::stderr().lock(), "error: {message}");
    }

    pub fn note(&self, message: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{message}");
    }
}

/// Reads and compiles the stack file; on errors prints them and yields exit code 1.
pub fn load(cli: &Cli, out: &Output) -> Result<Result<(Source, Compiled), ExitCode>, Error> {
    let source = Source::read(&cli.file)?;
    match compile(&source) {
        Ok(checked) => {
            out.diagnostics(&checked.warnings, &source);
            Ok(Ok((source, checked)))
        }
        Err(diagnostics) => {
            out.diagnostics(&diagnostics, &source);
            Ok(Err(ExitCode::StackErrors))
        }
    }
}

/// Writes a command's result to stdout. A reader that went away (`strixc apply | head -1`:
/// a closed pipe) is not an error: what the command did is done, and its exit code says
/// how it went; any other write error is (exit 3).
pub fn print_bytes(bytes: &[u8]) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.map_err(|source| Error::Write {
            path: "stdout".into(),
            source,
        }),
    }
}
