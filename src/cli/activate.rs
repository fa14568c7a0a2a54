//! `strixc apply`, `diff`, `status`, `rollback`, `generations`: the thin layer between the
//! command line and `activate::*`.

use std::time::Duration;

use super::{Output, print_bytes};
use crate::activate::{self, ApplyContext, ApplyOptions, Mode};
use crate::cli::args::{
    ApplyArgs, Cli, DiffArgs, RollbackArgs, ServeArgs, StatusArgs, SystemdArgs,
};
use crate::compile::build_tree;
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
        let ms = crate::stack::quantity::parse_duration(t).filter(|&ms| ms > 0);
        ms.map(Duration::from_millis).ok_or_else(|| {
            Error::Usage(format!(
                "`{t}` is not a deadline: write a duration above zero, like \"90s\", \"20m\" or \"1h\""
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
    let report = activate::apply(&ctx, &tree, args.profile.as_deref(), &options)?;
    print_bytes(report.render().as_bytes())?;
    Ok(ExitCode::Ok)
}

pub fn diff(cli: &Cli, args: &DiffArgs, out: &Output) -> Result<ExitCode, Error> {
    let ctx = context(&args.systemd)?;
    let tree = match tree(cli, out)? {
        Ok(tree) => tree,
        Err(code) => return Ok(code),
    };
    let diff = activate::diff(&ctx, &tree, args.profile.as_deref())?;
    print_bytes(diff.render().as_bytes())?;
    Ok(ExitCode::Ok)
}

pub fn status(args: &StatusArgs) -> Result<ExitCode, Error> {
    let status = activate::status(&context(&args.systemd)?)?;
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
    let report = activate::rollback(&context_for(&args.systemd, true)?, &options)?;
    print_bytes(report.render().as_bytes())?;
    Ok(ExitCode::Ok)
}

pub fn generations(args: &SystemdArgs) -> Result<ExitCode, Error> {
    let list = activate::generations(&context(args)?)?;
    print_bytes(activate::render_generations(&list).as_bytes())?;
    Ok(ExitCode::Ok)
}

/// `strixc serve`: runs until stopped; returns only on a startup error.
pub fn serve(args: &ServeArgs) -> Result<ExitCode, Error> {
    // The generated unit names no mode (one tree serves both): a user manager gives its
    // services $XDG_RUNTIME_DIR, the system manager does not.
    let user = args.user || (!args.system && std::env::var_os("XDG_RUNTIME_DIR").is_some());
    let ctx = context(&SystemdArgs {
        user,
        system: args.system,
        root: None,
    })?;
    let options = crate::gateway::ServeOptions {
        mode: ctx.layout.mode,
        state_dir: args
            .state_dir
            .clone()
            .unwrap_or_else(|| ctx.layout.state_dir.clone()),
        listen: args.listen,
    };
    crate::gateway::serve(&options)?;
    Ok(ExitCode::Ok)
}
