//! The switch itself, as a value and its steps: [`plan_switch`] (what it does), then
//! install, activate (reload, enqueue, wait, verify) and record; on failure the previous
//! generation is put back (`rollback`), and a switch that died is undone by the next one
//! (`recover`).

mod activate;
mod diff;
mod install;
mod logs;
mod plan;
mod record;
mod recover;
mod rollback;

use std::time::{Duration, Instant};

use super::generations::{self, Generation};
use super::layout::Mode;
use super::{ApplyContext, ApplyOptions, ApplyReport, ProgressMode, host, journal, lock};
use super::{preflight, units};
use crate::activate::systemd::{DbusSystemd, Systemd};
use crate::error::{ActivationFailure, Error, RollbackOutcome};
use crate::tree::Tree;
use crate::tree::manifest::{Manifest, ManifestProfile};
pub use diff::Diff;
pub use diff::FileDiff;
pub use plan::{Record, SwitchPlan, is_enabled, plan_switch};
pub(super) use recover::recover;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Nothing written, nothing reloaded, no job.
    Unchanged,
    Applied,
    /// `--root`: installed and recorded, not activated.
    Installed,
    DryRun,
}

/// Switches to `profile` of `tree` (whose manifest is `manifest`): lock, undo a switch that
/// died, plan, then install, activate and record, or put the previous generation back.
/// With `opts.dry_run`, only [`preview`].
pub fn run(
    ctx: &ApplyContext,
    tree: &Tree,
    manifest: &Manifest,
    profile: &str,
    opts: &ApplyOptions,
    record: Record,
) -> Result<ApplyReport, Error> {
    if opts.dry_run {
        return preview(ctx, tree, manifest, profile).map(|preview| preview.report);
    }
    let started = Instant::now();
    // Holds the lock until the switch is recorded or rolled back.
    let mut setup = Setup::new(ctx, manifest, profile, opts, &record)?;
    let (plan, mut report) = setup.plan(ctx, tree, manifest)?;
    switch(ctx, setup.systemd(), &plan, opts, record, &mut report)?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// What `apply` of `tree` would do, changing nothing: `apply --dry-run` prints `report`,
/// `strixc diff` prints `diff`.
pub struct Preview {
    pub report: ApplyReport,
    pub diff: Diff,
}

/// The one plan behind `apply --dry-run` and `strixc diff`: the same profile check, state
/// checks and plan as `apply`, without the lock. When the bus cannot be reached the file
/// diffs are still there, and `diff.note` says why the unit actions are missing.
pub fn preview(
    ctx: &ApplyContext,
    tree: &Tree,
    manifest: &Manifest,
    profile: &str,
) -> Result<Preview, Error> {
    let started = Instant::now();
    let opts = ApplyOptions {
        dry_run: true,
        progress: ProgressMode::Quiet,
        ..ApplyOptions::default()
    };
    let mut setup = Setup::new(ctx, manifest, profile, &opts, &Record::New)?;
    let (plan, mut report) = setup.plan(ctx, tree, manifest)?;
    let units_unknown = ctx.activate && setup.systemd.is_none();
    let actions = (!units_unknown).then(|| plan.actions.clone());
    let mut diff = diff::from_plan(&plan.install, actions);
    diff.note = setup.units_note.take();
    if !plan.is_noop(&Record::New) || units_unknown {
        report.outcome = Outcome::DryRun;
        report.diff = Some(diff.clone());
    }
    report.elapsed = started.elapsed();
    Ok(Preview { report, diff })
}

/// What a switch settles before it plans: the profile (a usage error naming the stack's
/// profiles when there is none of that name), the lock (not for a dry run), a state folder
/// that reads, an interrupted switch undone (a dry run only names it), and the manager.
struct Setup {
    profile: ManifestProfile,
    _lock: Option<lock::ApplyLock>,
    notes: Vec<String>,
    systemd: Option<DbusSystemd>,
    /// Why a dry run shows no unit actions: `--root`, or a bus it could not reach.
    units_note: Option<String>,
}

impl Setup {
    fn new(
        ctx: &ApplyContext,
        manifest: &Manifest,
        profile: &str,
        opts: &ApplyOptions,
        record: &Record,
    ) -> Result<Self, Error> {
        let profile = plan::resolve_profile(manifest, profile)?;
        let state = &ctx.layout.state_dir;
        let quiet = opts.progress == ProgressMode::Quiet;
        let lock = if opts.dry_run {
            None
        } else {
            Some(lock::acquire(state, opts.no_wait, quiet)?)
        };
        // A damaged state folder stops everything before anything changes.
        generations::check(state)?;
        still_current(state, record)?;
        let mut notes = if ctx.activate && !opts.dry_run {
            preflight::check(ctx.layout.mode, manifest, &profile).into_result()?
        } else {
            Vec::new()
        };
        let pending = journal::pending(state)?;
        let (systemd, units_note) = connect(ctx, opts)?;
        let sd = systemd.as_ref().map(|sd| sd as &dyn Systemd);
        if let Some(pending) = pending {
            if opts.dry_run {
                notes.push(format!(
                    "an interrupted {} is pending: apply undoes it first",
                    pending.intent.describe()
                ));
            } else {
                notes.push(recover(ctx, sd, pending, opts)?);
            }
        }
        Ok(Self {
            profile,
            _lock: lock,
            notes,
            systemd,
            units_note,
        })
    }

    fn systemd(&self) -> Option<&dyn Systemd> {
        self.systemd.as_ref().map(|sd| sd as &dyn Systemd)
    }

    /// The switch's plan, and its report so far (the notes gathered here).
    fn plan<'t>(
        &mut self,
        ctx: &ApplyContext,
        tree: &'t Tree,
        manifest: &'t Manifest,
    ) -> Result<(SwitchPlan<'t>, ApplyReport), Error> {
        let plan = plan_switch(ctx, self.systemd(), tree, manifest, &self.profile)?;
        let report = unchanged_report(&plan, std::mem::take(&mut self.notes));
        Ok((plan, report))
    }
}

/// Switches to `profile` of an existing `generation`, which becomes current (`rollback`,
/// and the gateway's switch of the current generation to another profile): the same
/// activation as `apply`, installing nothing unless an installed file differs.
pub fn to_generation(
    ctx: &ApplyContext,
    generation: &Generation,
    profile: &str,
    opts: &ApplyOptions,
    current_was: u64,
) -> Result<ApplyReport, Error> {
    let tree = generation.load_tree()?;
    let manifest = generation.manifest()?;
    let record = Record::Existing {
        number: generation.number,
        current_was,
    };
    run(ctx, &tree, &manifest, profile, opts, record)
}

/// A switch to an existing generation was decided against the generation current then;
/// another switch that finished while this one waited for the lock (an `apply`) must not be
/// undone by it.
fn still_current(state: &std::path::Path, record: &Record) -> Result<(), Error> {
    if let Record::Existing { current_was, .. } = *record
        && generations::current_number(state)? != Some(current_was)
    {
        return Err(Error::Generation(format!(
            "generation {current_was} stopped being current while this switch waited for \
             another to finish: nothing was changed; run it again"
        )));
    }
    Ok(())
}

/// The manager's bus, unless `--root` (`None`: nothing runs in an offline prefix); a dry run
/// without a bus shows what it can and says why the unit actions are missing.
fn connect(
    ctx: &ApplyContext,
    opts: &ApplyOptions,
) -> Result<(Option<DbusSystemd>, Option<String>), Error> {
    if !ctx.activate {
        let why = "--root: nothing runs there, so no unit actions";
        return Ok((None, Some(why.into())));
    }
    match DbusSystemd::connect(&ctx.bus) {
        Ok(sd) => Ok((Some(sd), None)),
        Err(e) if opts.dry_run => Ok((None, Some(format!("unit actions unknown: {e}")))),
        Err(e) => Err(e),
    }
}

/// The report of a switch that changes nothing; the steps fill in what they did.
fn unchanged_report(plan: &SwitchPlan, notes: Vec<String>) -> ApplyReport {
    ApplyReport {
        profile: plan.profile.name.clone(),
        generation: plan.current.as_ref().map(|g| g.number),
        outcome: Outcome::Unchanged,
        written: plan.install.written(),
        removed: plan.install.removed(),
        skipped: plan.install.skipped.clone(),
        actions: plan.actions.clone(),
        diff: None,
        notes,
        elapsed: Duration::ZERO,
    }
}

/// The steps of a real switch: journal, install, activate (with rollback on failure),
/// record.
fn switch(
    ctx: &ApplyContext,
    sd: Option<&dyn Systemd>,
    plan: &SwitchPlan,
    opts: &ApplyOptions,
    record: Record,
    report: &mut ApplyReport,
) -> Result<(), Error> {
    let state = &ctx.layout.state_dir;
    // Boot links of `--root` (no manager to ask): what `systemctl enable` would make.
    let root_boot = if ctx.activate {
        super::install::BootLinks::default()
    } else {
        super::install::boot_links(&ctx.layout, plan.tree, plan.current_tree.as_ref())
    };
    if plan.is_noop(&record) && root_boot.is_empty() {
        return Ok(());
    }
    let commit = record::Commit::of(state, plan, &record)?;
    record::begin(state, plan, &commit)?;
    super::kill_point("journal");
    install::install(ctx, sd, plan, &root_boot)?;
    super::kill_point("installed");
    match sd {
        Some(sd) => {
            activate(ctx, sd, plan, opts)?;
            report.outcome = Outcome::Applied;
            if ctx.layout.mode == Mode::System {
                report.notes.extend(host::activate_swap(sd, plan.manifest));
            }
        }
        None => report.outcome = Outcome::Installed,
    }
    report.generation = Some(record::record(state, plan, &commit)?);
    super::kill_point("recorded");
    journal::finish(state)
}

/// Activates the installed plan; when units fail, rolls back (unless `--no-rollback`) and
/// returns `Error::UnitsFailed`; when the bus drops, restores what it can.
fn activate(
    ctx: &ApplyContext,
    sd: &dyn Systemd,
    plan: &SwitchPlan,
    opts: &ApplyOptions,
) -> Result<(), Error> {
    let state = &ctx.layout.state_dir;
    let activation = activate::Activation {
        sd,
        mode: ctx.layout.mode,
        manifest: plan.manifest,
        profile: &plan.profile,
        reload: !plan.install.is_empty(),
        actions: &plan.actions,
        deadline: opts
            .timeout
            .unwrap_or_else(|| units::default_deadline(plan.manifest, &plan.profile)),
        progress: opts.progress,
    };
    let failures = match activation.run() {
        Ok(failures) if failures.is_empty() => return Ok(()),
        Ok(failures) => failures,
        Err(lost) => return Err(rollback::bus_lost(ctx, plan, opts, lost)),
    };
    let previous = plan.previous();
    let rollback = if opts.no_rollback {
        journal::keep(state)?;
        RollbackOutcome::Disabled
    } else {
        let failed = rollback::Failed {
            tree: plan.tree,
            manifest: plan.manifest,
        };
        rollback::roll_back(ctx, sd, &failed, previous, opts)?.0
    };
    Err(Error::UnitsFailed(Box::new(ActivationFailure {
        profile: plan.profile.name.clone(),
        failures,
        rollback,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_decided_against_another_current_generation_stops() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = Tree::new();
        tree.insert("manifest.json", "{}");
        generations::record(dir.path(), 1, &tree, "standard").unwrap();
        generations::record(dir.path(), 2, &tree, "odin").unwrap();
        // Rolling back from 2 to 1 was decided while 2 was current: still so, it goes on.
        let rollback = Record::Existing {
            number: 1,
            current_was: 2,
        };
        assert!(still_current(dir.path(), &rollback).is_ok());
        // An apply recorded generation 3 meanwhile: the stale switch stops.
        generations::record(dir.path(), 3, &tree, "standard").unwrap();
        let err = still_current(dir.path(), &rollback).expect_err("stale");
        assert!(err.to_string().contains("nothing was changed"), "{err}");
        assert!(
            still_current(dir.path(), &Record::New).is_ok(),
            "apply always goes on"
        );
    }
}
