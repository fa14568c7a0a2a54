//! `strixc build [-o DIR] [--check]`: compile, render, and write (or compare) the tree.

use std::fmt::Write as _;

use crate::cli::args::{BuildArgs, Cli};
use crate::compile::build_tree;
use crate::error::{Error, ExitCode};
use crate::source::Source;
use crate::tree::write::{compare, write_tree};

use super::{Output, print_bytes};

pub fn run(cli: &Cli, args: &BuildArgs, out: &Output) -> Result<ExitCode, Error> {
    crate::render::prepare();
    let source = Source::read(&cli.file)?;
    let tree = match build_tree(&source) {
        Ok((tree, warnings)) => {
            out.diagnostics(&warnings, &source);
            tree
        }
        Err(diagnostics) => {
            out.diagnostics(&diagnostics, &source);
            return Ok(ExitCode::StackErrors);
        }
    };
    let dir = args.out.display();
    if args.check {
        let changes = compare(&tree, &args.out)?;
        if changes.is_empty() {
            out.note(&format!("{dir} is up to date ({} files)", tree.len()));
            return Ok(ExitCode::Ok);
        }
        let mut report = String::new();
        for change in &changes {
            let _ = writeln!(report, "{:<8} {}", change.kind.as_str(), change.path);
        }
        for diff in changes.iter().filter_map(|c| c.diff.as_deref()) {
            report.push_str(diff);
        }
        print_bytes(report.as_bytes())?;
        out.error(&format!(
            "{dir} differs from what `strixc build` would write ({} files); run `strixc build -o {dir}`",
            changes.len()
        ));
        return Ok(ExitCode::StackErrors);
    }
    let summary = write_tree(&tree, &args.out)?;
    out.note(&format!(
        "{dir}: {} written, {} unchanged, {} removed",
        summary.written.len(),
        summary.unchanged,
        summary.removed.len()
    ));
    Ok(ExitCode::Ok)
}
