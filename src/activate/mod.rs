//! Activation: install a built tree, reload systemd, switch to a profile and wait until
//! every agent is up, or put the previous generation back.
//!
//! Entry points for the CLI: [`apply`], [`rollback`], [`generations`], [`status`],
//! [`diff`]. Each takes an [`ApplyContext`] (mode, `--root`, bus) built once from the
//! command line with [`ApplyContext::new`]. How the flags map:
//!
//! - `--user` / `--system` → `ApplyContext::new(Mode::User | Mode::System, root)`;
//!   `--root DIR` → `root = Some(DIR)`: install and record a generation, no D-Bus.
//! - `apply [--profile P] [--dry-run] [--no-rollback]` → `apply(&ctx, &tree, P, &opts)` with
//!   `tree` from `compile::build_tree`; print `report.render()` to stdout. Optional extras:
//!   `--timeout DURATION` (`stack::quantity::parse_duration`) → `opts.timeout`, `--no-wait` → `opts.no_wait`.
//! - `diff [--profile P]` → `diff(&ctx, &tree, P)?.render()`.
//! - `status [--json]` → `status(&ctx)?`, then `.to_json()` or `.render()` (with `--root`:
//!   the recorded generation only, no D-Bus).
//! - `rollback` → `rollback(&ctx, &opts)`; `generations` → `render_generations(&generations(&ctx)?)`.
//! - Errors: print `error` (its `Display` is the whole report: failing agent, unit, job result,
//!   log lines, what was rolled back) and exit with `error.exit_code()` (3 or 4; 2 for an
//!   unknown profile; 5 when there is no generation to show or roll back to).
//!
//! Crash safety: every switch writes its intent (`journal`) before it touches a unit
//! folder, and the next `apply`, `rollback` or `status` undoes a switch that died.

mod fsmode;
mod generations;
mod health;
mod host;
mod install;
mod journal;
mod layout;
mod load;
mod lock;
mod preflight;
mod progress;
mod status;
mod summon;
mod switch;
pub mod systemd;
mod units;

use std::path::Path;
use std::time::Duration;

pub use crate::error::{ActivationFailure, RollbackOutcome, UnitFailure};
pub use generations::{Generation, format_time};
pub use install::Skipped;
pub use layout::{Layout, Mode};
pub use load::AgentLoad;
pub use progress::ProgressMode;
pub use status::{AgentLive, AgentStatus, GpuMemory, HealthAnswer, Status, status};
pub use summon::{active_profile, installed_manifest, switch_profile};
pub use switch::Outcome;
pub use switch::{Diff, FileDiff};
pub use units::UnitActions;

use crate::activate::systemd::Bus;
use crate::error::Error;
use crate::tree::Tree;
use crate::tree::manifest::Manifest;

/// Where and how `apply` works: the directories of the mode, the bus, and whether to talk
/// to systemd at all.
#[derive(Debug, Clone)]
pub struct ApplyContext {
    pub layout: Layout,
    pub bus: Bus,
    /// `false` with `--root`: install and record a generation, start nothing (an image
    /// builder's root is not the running system).
    pub activate: bool,
}

impl ApplyContext {
    /// From the command line: `--user` → `Mode::User` (session bus, `$XDG_CONFIG_HOME`,
    /// `$XDG_STATE_HOME`), `--system` → `Mode::System` (system bus, `/etc`, `/var/lib`);
    /// `--root DIR` → `Some(DIR)` (install only, no D-Bus).
    pub fn new(mode: Mode, root: Option<&Path>) -> Result<Self, Error> {
        let prefix = root.unwrap_or(Path::new("/"));
        let (layout, bus) = match mode {
            Mode::User => (Layout::user_from_env(prefix)?, Bus::Session),
            Mode::System => (Layout::system(prefix), Bus::System),
        };
        Ok(Self {
            layout,
            bus,
            activate: root.is_none(),
        })
    }

    /// Explicit directories and bus (tests, sandboxes): activation on.
    pub fn with_layout(layout: Layout, bus: Bus) -> Self {
        Self {
            layout,
            bus,
            activate: true,
        }
    }
}

/// Flags of `apply` and `rollback`.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// `--dry-run`: compute the plan (files and unit actions), change nothing.
    pub dry_run: bool,
    /// `--no-rollback`: on failure leave the failed generation installed.
    pub no_rollback: bool,
    /// `--timeout DURATION`: deadline for all jobs; default: the sum of the profile's
    /// agents' start timeouts (the manifest's) plus 30 s.
    pub timeout: Option<Duration>,
    /// `--no-wait`: if another apply holds the lock, fail with exit 3 instead of waiting.
    pub no_wait: bool,
    pub progress: ProgressMode,
}

/// What an apply (or rollback) did; `render()` is the text the CLI prints.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    pub profile: String,
    /// The generation now current (`None` on a dry run with nothing applied yet).
    pub generation: Option<u64>,
    pub outcome: Outcome,
    pub written: Vec<std::path::PathBuf>,
    pub removed: Vec<std::path::PathBuf>,
    /// Host-tuning files not installed in user mode (or never installed: kernel arguments).
    pub skipped: Vec<Skipped>,
    pub actions: UnitActions,
    /// `--dry-run`: what would change, with unified diffs.
    pub diff: Option<Diff>,
    /// Things the user should know that did not stop the switch (the swap file, `%h` in
    /// system mode, an interrupted switch undone first).
    pub notes: Vec<String>,
    pub elapsed: Duration,
}

/// Test hook for crash safety: `STRIXC_TEST_KILL_AT=STEP` makes strixc kill itself with
/// SIGKILL at STEP of a switch: `journal` (intent written, nothing touched), `installing`
/// (first file written), `installed` (all files, before reload), `started` (jobs enqueued),
/// `stored` (generation folder in place, not yet current), `recorded` (generation current,
/// journal not yet retired). Unset: no effect.
pub(crate) fn kill_point(step: &str) {
    if std::env::var_os("STRIXC_TEST_KILL_AT").is_some_and(|s| s == step) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// `strixc apply [--profile P] [--dry-run] [--no-rollback]`: installs `tree` (the build of
/// `-f FILE`) and switches to `profile` (`--profile`; `None` = the stack's default).
/// Errors: `Error::UnitsFailed` (exit 4) after rollback; D-Bus/file errors (exit 3);
/// `Error::Locked` (exit 3) with `no_wait`; an unknown profile is `Error::Usage` (exit 2).
pub fn apply(
    ctx: &ApplyContext,
    tree: &Tree,
    profile: Option<&str>,
    opts: &ApplyOptions,
) -> Result<ApplyReport, Error> {
    let manifest = Manifest::of_tree(tree)?;
    let profile = profile.unwrap_or(&manifest.default_profile).to_string();
    switch::run(ctx, tree, &manifest, &profile, opts, switch::Record::New)
}

/// `strixc diff [--profile P]`: what `apply` of `tree` would change, from the very plan
/// `apply --dry-run` makes (same profile check, same state checks). Reads only; when the
/// bus cannot be reached the file diffs are still returned, with `note` saying why the
/// unit actions are missing.
pub fn diff(ctx: &ApplyContext, tree: &Tree, profile: Option<&str>) -> Result<Diff, Error> {
    let manifest = Manifest::of_tree(tree)?;
    let profile = profile.unwrap_or(&manifest.default_profile);
    Ok(switch::preview(ctx, tree, &manifest, profile)?.diff)
}

/// `strixc rollback`: switches to the generation before the current one (its tree and its
/// profile) and makes it current. Same errors as [`apply`]; `Error::NothingApplied` (exit 5)
/// when nothing was applied or there is no earlier generation.
pub fn rollback(ctx: &ApplyContext, opts: &ApplyOptions) -> Result<ApplyReport, Error> {
    let state = &ctx.layout.state_dir;
    let current = generations::current_number(state)?.ok_or_else(|| {
        Error::NothingApplied("nothing applied yet: no generation to roll back".into())
    })?;
    let previous = generations::list(state)?
        .into_iter()
        .rfind(|g| g.number < current)
        .ok_or_else(|| {
            Error::NothingApplied(format!(
                "generation {current} is the oldest: nothing to roll back to"
            ))
        })?;
    switch::to_generation(ctx, &previous, &previous.profile, opts, current)
}

/// One line of `strixc generations`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GenerationInfo {
    pub number: u64,
    pub profile: String,
    /// Seconds since the epoch.
    pub created: u64,
    pub current: bool,
}

/// `strixc generations`: every recorded generation, oldest first, the current one marked.
pub fn generations(ctx: &ApplyContext) -> Result<Vec<GenerationInfo>, Error> {
    let state = &ctx.layout.state_dir;
    let current = generations::current_number(state)?;
    Ok(generations::list(state)?
        .into_iter()
        .map(|g| GenerationInfo {
            current: Some(g.number) == current,
            number: g.number,
            profile: g.profile,
            created: g.created,
        })
        .collect())
}

/// The text of `strixc generations`.
pub fn render_generations(list: &[GenerationInfo]) -> String {
    if list.is_empty() {
        return "no generations yet\n".into();
    }
    list.iter()
        .map(|g| {
            format!(
                "{} {:>4}  {}  {}\n",
                if g.current { "*" } else { " " },
                g.number,
                format_time(g.created),
                g.profile
            )
        })
        .collect()
}

impl ApplyReport {
    /// Human-readable summary (stdout).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let notes: String = self.notes.iter().map(|n| format!("note: {n}\n")).collect();
        match self.outcome {
            Outcome::Unchanged => {
                out.push_str(&format!(
                    "nothing changed: profile {} is active (generation {})\n",
                    self.profile,
                    self.generation.unwrap_or(0)
                ));
                out.push_str(&notes);
                return out;
            }
            Outcome::DryRun => {
                out.push_str(&format!(
                    "dry run: switching to profile {} would\n",
                    self.profile
                ));
                if let Some(diff) = &self.diff {
                    out.push_str(&diff.render());
                }
                out.push_str(&notes);
                return out;
            }
            Outcome::Installed => out.push_str(&format!(
                "installed profile {} (generation {}); not activated (--root)\n",
                self.profile,
                self.generation.unwrap_or(0)
            )),
            Outcome::Applied => out.push_str(&format!(
                "switched to profile {} (generation {}) in {:.1}s\n",
                self.profile,
                self.generation.unwrap_or(0),
                self.elapsed.as_secs_f64()
            )),
        }
        for p in &self.written {
            out.push_str(&format!("  wrote     {}\n", p.display()));
        }
        for p in &self.removed {
            out.push_str(&format!("  removed   {}\n", p.display()));
        }
        let a = &self.actions;
        for (verb, units) in [
            ("stopped", &a.stop),
            ("restarted", &a.restart),
            ("restarted", &a.host_restart),
            ("started", &a.start),
        ] {
            for u in units {
                out.push_str(&format!("  {verb:<10}{u}\n"));
            }
        }
        for (verb, units) in [("enabled", &a.enable), ("disabled", &a.disable)] {
            for u in units {
                out.push_str(&format!("  {verb:<10}{u} (boot)\n"));
            }
        }
        out.push_str(&render_skipped(&self.skipped));
        out.push_str(&notes);
        out
    }
}

/// The user-mode note: what was not installed and what root runs to do it.
pub fn render_skipped(skipped: &[Skipped]) -> String {
    if skipped.is_empty() {
        return String::new();
    }
    let mut out = String::from("not installed (host tuning needs root):\n");
    let mut commands = Vec::new();
    for s in skipped {
        match &s.dest {
            Some(dest) => {
                out.push_str(&format!("  {} -> {}\n", s.tree_path, dest.display()));
                commands.push(format!(
                    "install -D -m 0644 generated/{} {}",
                    s.tree_path,
                    dest.display()
                ));
            }
            None => out.push_str(&format!(
                "  {} (add these kernel arguments to the boot loader)\n",
                s.tree_path
            )),
        }
    }
    if !commands.is_empty() {
        out.push_str("as root, run `strixc apply --system`, or:\n");
        for c in commands {
            out.push_str(&format!("  sudo {c}\n"));
        }
        out.push_str("  sudo sysctl --system   # then reboot for modprobe.d options\n");
    }
    out
}
