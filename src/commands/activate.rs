//! `strixc apply`, `diff`, `status`, `rollback`, `generations`: the thin layer between the
//! command line and `apply::*`.

use std::time::Duration;

use super::{Output, print_bytes};
use crate::apply::{self, ApplyContext, ApplyOptions, Mode};
use crate::build::build_tree;
use crate::cli::{ApplyArgs, Cli, DiffArgs, RollbackArgs, StatusArgs, SystemdArgs};
use crate::error::{Error, ExitCode};
use crate::source::Source;
use crate::tree::Tree;

fn context(args: &SystemdArgs) -> Result<ApplyContext, Error> {
    context_for(args, false)
}

/// `changes`: the command changes the system (apply, rollback). `--system` without
/// `--root` then needs root: it writes /etc and asks the system manager for jobs, which
/// polkit would refuse halfway through.
fn context_for(args: &SystemdArgs, changes: bool) -> Result<ApplyContext, Error> {
    if changes && args.system && args.root.is_none() && !nix::unistd::Uid::effective().is_root() {
        return Err(Error::Usage(
            "--system changes the system's units (/etc/systemd/system, /etc/containers/systemd) \
             and needs root: run it with sudo, or use --user for your own units, or \
             --root DIR to install into a folder"
                .into(),
        ));
    }
    let mode = if args.system {
        Mode::System
    } else if args.user {
        Mode::User
    } else if nix::unistd::Uid::effective().is_root() {
        Mode::System
    } else {
        Mode::User
    };
    ApplyContext::new(mode, args.root.as_deref())
}

fn timeout(text: Option<&str>) -> Result<Option<Duration>, Error> {
    text.map(|t| {
        apply::parse_timespan(t).ok_or_else(|| {
            Error::Usage(format!(
                "`{t}` is not a duration: write it like \"90s\", \"20m\" or \"1h\""
            ))
        })
    })
    .transpose()
}

/// Builds the tree of `-f FILE` in memory; on stack errors prints them (exit 1).
fn tree(cli: &Cli, out: &Output) -> Result<Result<Tree, ExitCode>, Error> {
    let source = Source::read(&cli.file)?;
    match build_tree(&source) {
        Ok((tree, warnings)) => {
            out.diagnostics(&warnings, &source);
            Ok(Ok(tree))
        }
        Err(diagnostics) => {
            out.diagnostics(&diagnostics, &source);
            Ok(Err(ExitCode::StackErrors))
        }
    }
}

pub fn apply(cli: &Cli, args: &ApplyArgs, out: &Output) -> Result<ExitCode, Error> {
    let ctx = context_for(&args.systemd, !args.dry_run)?;
    let tree = match tree(cli, out)? {
        Ok(tree) => tree,
        Err(code) => return Ok(code),
    };
    let options = ApplyOptions {
        dry_run: args.dry_run,
        no_rollback: args.no_rollback,
        timeout: timeout(args.timeout.as_deref())?,
        no_wait: args.no_wait,
        ..ApplyOptions::default()
    };
    let report = apply::apply(&ctx, &tree, args.profile.as_deref(), &options)?;
    print_bytes(report.render().as_bytes())?;
    Ok(ExitCode::Ok)
}

pub fn diff(cli: &Cli, args: &DiffArgs, out: &Output) -> Result<ExitCode, Error> {
    let ctx = context(&args.systemd)?;
    let tree = match tree(cli, out)? {
        Ok(tree) => tree,
        Err(code) => return Ok(code),
    };
    let diff = apply::diff(&ctx, &tree, args.profile.as_deref())?;
    print_bytes(diff.render().as_bytes())?;
    Ok(ExitCode::Ok)
}

pub fn status(args: &StatusArgs) -> Result<ExitCode, Error> {
    let status = apply::status(&context(&args.systemd)?)?;
    let text = if args.json {
        status.to_json()
    } else {
        status.render()
    };
    print_bytes(text.as_bytes())?;
    Ok(ExitCode::Ok)
}

pub fn rollback(args: &RollbackArgs) -> Result<ExitCode, Error> {
    let options = ApplyOptions {
        timeout: timeout(args.timeout.as_deref())?,
        no_wait: args.no_wait,
        ..ApplyOptions::default()
    };
    let report = apply::rollback(&context_for(&args.systemd, true)?, &options)?;
    print_bytes(report.render().as_bytes())?;
    Ok(ExitCode::Ok)
}

pub fn generations(args: &SystemdArgs) -> Result<ExitCode, Error> {
    let list = apply::generations(&context(args)?)?;
    print_bytes(apply::render_generations(&list).as_bytes())?;
    Ok(ExitCode::Ok)
}
