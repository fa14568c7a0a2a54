//! The switch itself: plan, install, reload, enqueue, wait, verify, and on failure put the
//! previous generation back.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use super::generations::{self, Generation};
use super::install;
use super::layout::Mode;
use super::progress::Progress;
use super::units::{self, UnitActions};
use super::{ApplyContext, ApplyOptions, ApplyReport, diff, journal, lock, manifest_of};
use super::{host, preflight};
use crate::activate::systemd::{DbusSystemd, Job, JobMode, JobOutcome, Systemd, UnitStatus};
use crate::error::Error;
use crate::tree::Tree;
use crate::tree::manifest::{MANIFEST_PATH, Manifest, ManifestProfile};

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

/// How a generation becomes current after a successful switch.
pub enum Record {
    /// `apply`: a new generation (unless the tree and profile equal the current one's).
    New,
    /// `rollback`: an existing generation becomes current again.
    Existing(u64),
}

/// One unit that did not reach its goal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFailure {
    pub agent: Option<String>,
    pub unit: String,
    /// `start`, `stop`, `restart`, or `verify` (the job was done but the unit is not active).
    pub job: String,
    /// systemd's job result (`failed`, `timeout`, `dependency`, ...), `deadline`, or the
    /// unit's state when it was not active at the end.
    pub result: String,
    pub log: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackOutcome {
    /// `--no-rollback`: the failed generation stays installed.
    Disabled,
    Restored {
        generation: u64,
        profile: String,
    },
    /// No earlier generation: the failed one's files were removed and its units stopped.
    Removed,
    Failed(String),
}

/// `Error::UnitsFailed`'s payload (exit 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationFailure {
    pub profile: String,
    pub failures: Vec<UnitFailure>,
    pub rollback: RollbackOutcome,
}

impl fmt::Display for ActivationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "activation of profile {} failed:", self.profile)?;
        for failure in &self.failures {
            let who = failure
                .agent
                .as_ref()
                .map_or_else(String::new, |a| format!("agent {a} "));
            writeln!(
                f,
                "  {who}({}): {} job {}",
                failure.unit, failure.job, failure.result
            )?;
            if !failure.log.is_empty() {
                writeln!(f, "    last log lines:")?;
                for line in &failure.log {
                    writeln!(f, "      {line}")?;
                }
            }
        }
        match &self.rollback {
            RollbackOutcome::Disabled => write!(
                f,
                "not rolled back (--no-rollback): the failed generation stays installed"
            ),
            RollbackOutcome::Restored {
                generation,
                profile,
            } => {
                write!(
                    f,
                    "rolled back to generation {generation} (profile {profile})"
                )
            }
            RollbackOutcome::Removed => {
                write!(
                    f,
                    "rolled back: no earlier generation, so its files were removed and its units stopped"
                )
            }
            RollbackOutcome::Failed(why) => write!(f, "ROLLBACK FAILED too: {why}"),
        }
    }
}

fn resolve_profile(manifest: &Manifest, name: &str) -> Result<ManifestProfile, Error> {
    manifest.profile(name).cloned().ok_or_else(|| {
        let known: Vec<&str> = manifest.profiles.iter().map(|p| p.name.as_str()).collect();
        Error::Usage(format!(
            "no profile {name:?} in stack {} (profiles: {})",
            manifest.stack,
            known.join(", ")
        ))
    })
}

pub fn run(
    ctx: &ApplyContext,
    tree: &Tree,
    manifest: &Manifest,
    profile: &str,
    opts: &ApplyOptions,
    record: Record,
) -> Result<ApplyReport, Error> {
    let started = Instant::now();
    let profile = resolve_profile(manifest, profile)?;
    let layout = &ctx.layout;
    let state = &layout.state_dir;
    let quiet = opts.progress == super::ProgressMode::Quiet;
    let _lock = if opts.dry_run {
        None
    } else {
        Some(lock::acquire(state, opts.no_wait, quiet)?)
    };
    // A damaged state folder stops everything before anything changes.
    generations::check(state)?;
    let mut notes = if ctx.activate && !opts.dry_run {
        preflight::check(layout.mode, manifest, &profile).into_result()?
    } else {
        Vec::new()
    };
    let pending = journal::pending(state)?;
    let mut bus_note = None;
    let systemd = if ctx.activate {
        match DbusSystemd::connect(&ctx.bus) {
            Ok(sd) => Some(sd),
            // A dry run without a bus shows what it can, like `diff`.
            Err(e) if opts.dry_run => {
                bus_note = Some(format!("unit actions unknown: {e}"));
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    let sd_dyn = systemd.as_ref().map(|sd| sd as &dyn Systemd);
    if let Some(pending) = pending {
        if opts.dry_run {
            notes.push(format!(
                "an interrupted {} is pending: apply undoes it first",
                pending.intent.describe()
            ));
        } else {
            notes.push(recover(ctx, sd_dyn, pending, opts)?);
        }
    }
    let current = generations::current(state)?;
    let current_tree = current.as_ref().map(Generation::load_tree).transpose()?;
    let old_manifest = current_tree.as_ref().and_then(|t| manifest_of(t).ok());
    let install = install::plan(layout, tree, current_tree.as_ref())?;
    let changed = install.changed_paths();
    let states = match &systemd {
        Some(sd) => unit_states(sd, &units::relevant_units(manifest, old_manifest.as_ref()))?,
        None => HashMap::new(),
    };
    let mut actions = units::plan(manifest, &profile, old_manifest.as_ref(), &changed, &states);
    if let Some(sd) = &systemd {
        plan_boot(sd, tree, manifest, old_manifest.as_ref(), &mut actions);
    }
    if systemd.is_none() {
        actions = UnitActions {
            target: profile.target.clone(),
            ..UnitActions::default()
        };
    }
    let same_generation = current.as_ref().is_some_and(|g| {
        g.profile == profile.name && g.manifest_bytes().as_deref() == tree.get(MANIFEST_PATH)
    });
    let mut report = ApplyReport {
        profile: profile.name.clone(),
        generation: current.as_ref().map(|g| g.number),
        outcome: Outcome::Unchanged,
        written: install.writes.iter().map(|w| w.dest.clone()).collect(),
        removed: install.removes.iter().map(|r| r.dest.clone()).collect(),
        skipped: install.skipped.clone(),
        actions: actions.clone(),
        plan: None,
        notes,
        elapsed: Duration::ZERO,
    };
    let record_matches = match record {
        Record::New => same_generation,
        Record::Existing(n) => current.as_ref().is_some_and(|g| g.number == n),
    };
    let units_unknown = ctx.activate && systemd.is_none();
    if opts.dry_run {
        if install.is_empty() && actions.is_noop() && record_matches && !units_unknown {
            report.elapsed = started.elapsed();
            return Ok(report);
        }
        report.outcome = Outcome::DryRun;
        let mut plan = diff::from_plan(&install, (!units_unknown).then_some(actions));
        plan.note = bus_note;
        report.plan = Some(plan);
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    // Boot links of `--root` (no manager to ask): what `systemctl enable` would make.
    let root_boot = if ctx.activate {
        install::BootLinks::default()
    } else {
        install::boot_links(layout, tree, current_tree.as_ref())
    };
    if install.is_empty() && actions.is_noop() && record_matches && root_boot.is_empty() {
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    // A new generation needs a number: know there is one before changing anything.
    let next = if matches!(record, Record::New) && !same_generation {
        Some(generations::next_number(state)?)
    } else {
        None
    };

    // The intent goes to disk before any unit folder changes (see `journal`).
    journal::begin(
        state,
        &journal::Intent {
            kind: match record {
                Record::New => journal::Kind::Apply,
                Record::Existing(_) => journal::Kind::Rollback,
            },
            pid: std::process::id(),
            started: now_secs(),
            previous: current.as_ref().map(|g| g.number),
            target: match record {
                Record::New => next,
                Record::Existing(n) => Some(n),
            },
            profile: profile.name.clone(),
            write: report.written.clone(),
            remove: report.removed.clone(),
            stop: actions.stop.clone(),
            restart: actions.restart.clone(),
            start: actions.start.clone(),
            target_unit: actions.target.clone(),
            kept: false,
        },
        tree,
    )?;
    super::kill_point("journal");

    // The old default target's boot links go before its file changes or goes away.
    if let Some(sd) = &systemd {
        if let Err(e) = disable(sd, &actions.disable) {
            journal::finish(state)?;
            return Err(e);
        }
    }
    if let Err(e) = install::execute(&install).and_then(|()| root_boot.execute()) {
        // Put back what was there: the current generation's files (best effort).
        let back = current_tree.clone().unwrap_or_default();
        let undone =
            install::plan(layout, &back, Some(tree)).and_then(|undo| install::execute(&undo));
        if let (Some(sd), false) = (&systemd, actions.disable.is_empty()) {
            let names: Vec<&str> = actions.disable.iter().map(String::as_str).collect();
            let _ = sd.enable(&names);
        }
        if undone.is_ok() && systemd.is_some() {
            let _ = journal::finish(state);
        }
        return Err(e);
    }
    super::kill_point("installed");

    if let Some(sd) = &systemd {
        let deadline = opts
            .timeout
            .unwrap_or_else(|| units::default_deadline(manifest, &profile));
        let previous = current.as_ref().zip(current_tree.as_ref());
        let failures = match activate(
            sd,
            layout.mode,
            manifest,
            &profile,
            !install.is_empty(),
            &actions,
            deadline,
            opts,
        ) {
            Ok(failures) => failures,
            Err(lost) => {
                return Err(bus_lost(
                    ctx, tree, manifest, &profile, previous, opts, lost,
                ));
            }
        };
        if !failures.is_empty() {
            let rollback = if opts.no_rollback {
                journal::keep(state)?;
                RollbackOutcome::Disabled
            } else {
                let outcome = restore(sd, ctx, tree, manifest, previous, opts);
                if undone(ctx, sd, tree, manifest, previous.map(|(_, t)| t))? {
                    journal::finish(state)?;
                }
                outcome
            };
            return Err(Error::UnitsFailed(Box::new(ActivationFailure {
                profile: profile.name.clone(),
                failures,
                rollback,
            })));
        }
        report.outcome = Outcome::Applied;
        if layout.mode == Mode::System {
            report.notes.extend(host::activate_swap(sd, manifest));
        }
    } else {
        report.outcome = Outcome::Installed;
    }
    report.generation = Some(match record {
        Record::New if same_generation => current.as_ref().map_or(0, |g| g.number),
        Record::New => generations::record(state, tree, &profile.name)?.number,
        Record::Existing(n) => {
            generations::set_current(state, n)?;
            n
        }
    });
    super::kill_point("recorded");
    journal::finish(state)?;
    report.elapsed = started.elapsed();
    Ok(report)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether the switch to `failed` is fully undone: the installed files are `previous`'s
/// (none when there is no previous generation), and no unit only `failed` has is running.
/// Then nothing of it is left unrecorded, even if some of `previous`'s own units failed to
/// come back (the user sees those in `status`).
fn undone(
    ctx: &ApplyContext,
    sd: &dyn Systemd,
    failed: &Tree,
    failed_manifest: &Manifest,
    previous: Option<&Tree>,
) -> Result<bool, Error> {
    let back = previous.cloned().unwrap_or_default();
    if !install::plan(&ctx.layout, &back, Some(failed))?.is_empty() {
        return Ok(false);
    }
    let kept = previous.and_then(|t| manifest_of(t).ok());
    let extra: Vec<String> = units::relevant_units(failed_manifest, None)
        .into_iter()
        .filter(|u| u.ends_with(".service") || u.ends_with(".target"))
        .filter(|u| {
            kept.as_ref().is_none_or(|m| {
                m.agents.iter().all(|a| &a.unit != u) && m.profiles.iter().all(|p| &p.target != u)
            })
        })
        .filter(|u| {
            failed_manifest.agents.iter().any(|a| &a.unit == u)
                || failed_manifest.profiles.iter().any(|p| &p.target == u)
        })
        .collect();
    if extra.is_empty() {
        return Ok(true);
    }
    let names: Vec<&str> = extra.iter().map(String::as_str).collect();
    Ok(sd
        .units(&names)?
        .iter()
        .all(|s| matches!(s.active_state.as_str(), "inactive" | "failed")))
}

/// The connection to systemd dropped during activation: say so at once, and restore what
/// can be: everything over a new connection if the bus is back, else the previous
/// generation's files. The journal stays until the units are known to be undone.
fn bus_lost(
    ctx: &ApplyContext,
    failed: &Tree,
    failed_manifest: &Manifest,
    profile: &ManifestProfile,
    previous: Option<(&Generation, &Tree)>,
    opts: &ApplyOptions,
    cause: Error,
) -> Error {
    let state = &ctx.layout.state_dir;
    let back = match previous {
        Some((g, _)) => format!("generation {} (profile {})", g.number, g.profile),
        None => "the state before it (nothing applied)".to_string(),
    };
    let head = format!(
        "lost the D-Bus connection to systemd in the middle of the switch to profile {}: {cause}",
        profile.name
    );
    if let Ok(sd) = DbusSystemd::connect(&ctx.bus) {
        let outcome = restore(&sd, ctx, failed, failed_manifest, previous, opts);
        if undone(ctx, &sd, failed, failed_manifest, previous.map(|(_, t)| t)).unwrap_or(false) {
            let _ = journal::finish(state);
            return Error::BusLost(format!(
                "{head}\n  reconnected and put back {back}: {}",
                describe(&outcome)
            ));
        }
    }
    let files = install::plan(
        &ctx.layout,
        &previous.map(|(_, t)| t.clone()).unwrap_or_default(),
        Some(failed),
    )
    .and_then(|plan| install::execute(&plan));
    let files = match files {
        Ok(()) => format!("put back the files of {back}"),
        Err(e) => format!("could not put back the files of {back} either: {e}"),
    };
    Error::BusLost(format!(
        "{head}\n  {files}; without the bus no unit could be stopped or started.\n  help: the \
         journal {} stays: once systemd's bus is back, `strixc status`, `apply` or `rollback` \
         stops what this switch started and restores {back}",
        journal::dir(state).display()
    ))
}

fn describe(outcome: &RollbackOutcome) -> String {
    match outcome {
        RollbackOutcome::Disabled => "not rolled back".into(),
        RollbackOutcome::Restored {
            generation,
            profile,
        } => format!("generation {generation} (profile {profile}) is running again"),
        RollbackOutcome::Removed => "its files were removed and its units stopped".into(),
        RollbackOutcome::Failed(why) => format!("restoring failed: {why}"),
    }
}

/// Finishes or undoes the switch a journal describes, left by a strixc that died (or by
/// `--no-rollback`). Called with the lock held, before anything else changes.
///
/// A switch whose generation was recorded (the record is the commit point) was complete:
/// only its journal is left to clear. Any other is undone, the way a failed apply rolls
/// back: its agents never proved healthy and the user never saw it succeed, while the
/// previous generation is the last one known to work; finishing it instead would mean
/// waiting for its agents inside whatever command came next, and make a switch nobody saw
/// succeed take effect.
pub(super) fn recover(
    ctx: &ApplyContext,
    sd: Option<&dyn Systemd>,
    pending: journal::Pending,
    opts: &ApplyOptions,
) -> Result<String, Error> {
    let state = &ctx.layout.state_dir;
    let intent = &pending.intent;
    let current = generations::current_number(state)?;
    let committed = !intent.kept
        && match intent.kind {
            journal::Kind::Apply => current != intent.previous,
            journal::Kind::Rollback => current == intent.target && intent.previous != intent.target,
        };
    if committed {
        journal::finish(state)?;
        return Ok(format!(
            "the interrupted {} had completed (generation {}); cleared its journal",
            intent.describe(),
            current.unwrap_or(0)
        ));
    }
    // Killed between storing its generation and making it current: that record is of a
    // switch being undone, and must not become a rollback target later.
    if let (journal::Kind::Apply, Some(n)) = (intent.kind, intent.target) {
        generations::discard(state, n)?;
    }
    let failed_manifest = manifest_of(&pending.tree)?;
    let previous_gen = match intent.previous {
        None => None,
        Some(n) => Some(
            generations::list(state)?
                .into_iter()
                .find(|g| g.number == n)
                .ok_or_else(|| {
                    Error::Generation(format!(
                        "the journal {} says generation {n} was current, but it is gone",
                        pending.dir.display()
                    ))
                })?,
        ),
    };
    let previous_tree = previous_gen
        .as_ref()
        .map(Generation::load_tree)
        .transpose()?;
    let previous = previous_gen.as_ref().zip(previous_tree.as_ref());
    let back = match &previous_gen {
        Some(g) => format!("generation {} (profile {})", g.number, g.profile),
        None => "nothing applied".to_string(),
    };
    let quiet = ApplyOptions {
        progress: super::ProgressMode::Quiet,
        ..opts.clone()
    };
    match sd {
        Some(sd) => {
            let outcome = restore(sd, ctx, &pending.tree, &failed_manifest, previous, &quiet);
            if !undone(
                ctx,
                sd,
                &pending.tree,
                &failed_manifest,
                previous_tree.as_ref(),
            )? {
                return Err(Error::Generation(format!(
                    "could not undo the interrupted {}: {}\n  help: its journal {} stays; the \
                     next apply, rollback or status tries again",
                    intent.describe(),
                    describe(&outcome),
                    pending.dir.display()
                )));
            }
        }
        None => {
            let empty = Tree::new();
            let back_tree = previous_tree.as_ref().unwrap_or(&empty);
            install::execute(&install::plan(&ctx.layout, back_tree, Some(&pending.tree))?)?;
            install::boot_links(&ctx.layout, back_tree, Some(&pending.tree)).execute()?;
        }
    }
    journal::finish(state)?;
    let what = if intent.kept {
        "failed switch --no-rollback kept"
    } else {
        "interrupted switch"
    };
    Ok(format!(
        "undid the {what}, the {}: back to {back}",
        intent.describe()
    ))
}

/// Fills `actions.enable` and `actions.disable` (see [`units::boot_targets`]): the default
/// profile's target is enabled for boot unless it already is, and the previous default's
/// target is disabled when it is no longer the one; a no-op apply makes no call.
pub(super) fn plan_boot(
    sd: &dyn Systemd,
    tree: &Tree,
    manifest: &Manifest,
    old: Option<&Manifest>,
    actions: &mut UnitActions,
) {
    let (want, stale) = units::boot_targets(tree, manifest, old);
    // Not installed yet (an error): it will need enabling.
    if let Some(target) = want.filter(|t| !is_enabled(sd, t)) {
        actions.enable.push(target);
    }
    if let Some(target) = stale.filter(|t| is_enabled(sd, t)) {
        actions.disable.push(target);
    }
}

fn is_enabled(sd: &dyn Systemd, unit: &str) -> bool {
    sd.unit_file_state(unit)
        .is_ok_and(|state| state == "enabled")
}

fn disable(sd: &dyn Systemd, units: &[String]) -> Result<(), Error> {
    if units.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = units.iter().map(String::as_str).collect();
    sd.disable(&names)
}

fn unit_states(sd: &dyn Systemd, units: &[String]) -> Result<HashMap<String, UnitStatus>, Error> {
    let names: Vec<&str> = units.iter().map(String::as_str).collect();
    Ok(sd
        .units(&names)?
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect())
}

/// Reload (if files changed), enqueue, wait, verify. Returns the failures (empty: success),
/// or an error when the D-Bus connection dropped: noticed at once (the JobRemoved stream
/// ended, or a call failed on a closed connection), not at the deadline.
#[allow(clippy::too_many_arguments)]
fn activate(
    sd: &dyn Systemd,
    mode: Mode,
    manifest: &Manifest,
    profile: &ManifestProfile,
    reload: bool,
    actions: &UnitActions,
    deadline: Duration,
    opts: &ApplyOptions,
) -> Result<Vec<UnitFailure>, Error> {
    let lost = |e: Option<&Error>| {
        let why = e.map_or_else(
            || "the JobRemoved stream ended".to_string(),
            Error::to_string,
        );
        Error::BusLost(why)
    };
    let agent_of = |unit: &str| {
        manifest
            .agents
            .iter()
            .find(|a| a.unit == unit)
            .map(|a| a.name.clone())
    };
    let failure = |unit: &str, job: &str, result: String| UnitFailure {
        agent: agent_of(unit),
        unit: unit.to_string(),
        job: job.to_string(),
        result,
        log: Vec::new(),
    };
    if reload {
        if let Err(e) = sd.reload() {
            if !sd.connected() || is_disconnect(&e) {
                return Err(lost(Some(&e)));
            }
            return Ok(vec![failure("daemon-reload", "reload", e.to_string())]);
        }
    }
    if !actions.enable.is_empty() {
        let names: Vec<&str> = actions.enable.iter().map(String::as_str).collect();
        if let Err(e) = sd.enable(&names) {
            if !sd.connected() || is_disconnect(&e) {
                return Err(lost(Some(&e)));
            }
            return Ok(vec![failure(&actions.enable[0], "enable", e.to_string())]);
        }
    }
    let mut progress = Progress::new(
        opts.progress,
        manifest
            .agents
            .iter()
            .filter(|a| profile.agents.contains(&a.name) || actions.stop.contains(&a.unit))
            .map(|a| (a.name.clone(), a.unit.clone()))
            .collect(),
    );
    // An agent that failed before (its start limit hit, say) would refuse this start.
    if let Ok(states) = sd.units(&progress.units()) {
        for s in states.iter().filter(|s| s.active_state == "failed") {
            let _ = sd.reset_failed(&s.name);
        }
    }
    let deadline = Instant::now() + deadline;
    let mut jobs: Vec<Job> = Vec::new();
    let mut failures = Vec::new();
    let enqueues = actions
        .stop_explicit
        .iter()
        .map(|u| (u, "stop"))
        .chain(actions.restart.iter().map(|u| (u, "restart")))
        .chain(actions.host_restart.iter().map(|u| (u, "try-restart")))
        .chain(actions.start_target.then_some((&actions.target, "start")));
    for (unit, kind) in enqueues {
        match sd.enqueue(unit, kind, JobMode::Replace) {
            Ok(new) => {
                for job in new {
                    if jobs.iter().all(|j| j.path != job.path) {
                        jobs.push(job);
                    }
                }
            }
            Err(e) if !sd.connected() || is_disconnect(&e) => return Err(lost(Some(&e))),
            // A unit systemd cannot load (bad file, not found) fails the activation.
            Err(e) => failures.push(failure(unit, kind, e.to_string())),
        }
    }
    super::kill_point("started");
    // A native agent whose server dies while its ExecStartPost polls health: the generated
    // wait exits 1 then (without it, and with hand-written units, the unit would stay
    // "activating (start-post)" until TimeoutStartSec), and Restart=on-failure keeps the
    // start job pending through "auto-restart" until the start limit is hit. Either way
    // the main process is gone before the agent was ever healthy: fail at once, with its
    // exit status.
    let mut crashed: Vec<(String, String)> = Vec::new();
    let mut call_failed: Option<Error> = None;
    let outcomes: Vec<JobOutcome> = sd.wait(&jobs, deadline, &mut || {
        let states = match sd.units(&progress.units()) {
            Ok(states) => states,
            // A call that fails on a dropped connection ends the wait now.
            Err(e) if !sd.connected() || is_disconnect(&e) => {
                call_failed = Some(e);
                return false;
            }
            Err(_) => return true,
        };
        progress.update(&states);
        for s in states.iter().filter(|s| {
            s.active_state == "activating"
                && (s.sub_state == "start-post"
                    || (s.sub_state == "auto-restart" && s.job.is_some()))
        }) {
            if let Ok(d) = sd.details(&s.name) {
                if d.main_pid == Some(0) && d.exec_main_start_usec > 0 {
                    let status = d.exec_main_status.unwrap_or(-1);
                    let why = format!(
                        "failed: the server exited (status {status}) before it was healthy"
                    );
                    crashed.push((s.name.clone(), why));
                }
            }
        }
        crashed.is_empty()
    });
    if call_failed.is_some() || !sd.connected() {
        progress.finish();
        return Err(lost(call_failed.as_ref()));
    }
    if let Ok(states) = sd.units(&progress.units()) {
        progress.update(&states);
    }
    progress.finish();
    for outcome in outcomes.iter().filter(|o| !o.is_done()) {
        let result = crashed
            .iter()
            .find(|(unit, _)| *unit == outcome.job.unit)
            .map_or_else(|| outcome.result.clone(), |(_, why)| why.clone());
        failures.push(failure(&outcome.job.unit, &outcome.job.kind, result));
    }
    if failures.is_empty() {
        // Every job done; now every agent of the profile (and the target) must be active.
        let mut expected: Vec<&str> = manifest
            .agents
            .iter()
            .filter(|a| profile.agents.contains(&a.name))
            .map(|a| a.unit.as_str())
            .collect();
        expected.push(&profile.target);
        match sd.units(&expected) {
            Ok(states) => {
                for s in states.iter().filter(|s| !s.is_active()) {
                    failures.push(failure(
                        &s.name,
                        "verify",
                        format!("{} ({})", s.active_state, s.sub_state),
                    ));
                }
            }
            Err(e) if !sd.connected() || is_disconnect(&e) => return Err(lost(Some(&e))),
            Err(e) => failures.push(failure(&profile.target, "verify", e.to_string())),
        }
    }
    // Agents first: they are what the user wants to read about.
    failures.sort_by_key(|f| f.agent.is_none());
    for f in failures.iter_mut().filter(|f| f.unit.ends_with(".service")) {
        f.log = last_logs(sd, mode, &f.unit);
    }
    Ok(failures)
}

/// A D-Bus error that means the connection is gone (the socket closed or broke), as
/// opposed to systemd answering with an error.
fn is_disconnect(e: &Error) -> bool {
    match e {
        Error::Dbus { source, .. } => matches!(source, zbus::Error::InputOutput(_)),
        Error::BusLost(_) => true,
        _ => false,
    }
}

/// The unit's last log lines: the journal when there is one, else what the manager knows
/// (result, exit status, status text) — a sandbox without journald has only that.
fn last_logs(sd: &dyn Systemd, mode: Mode, unit: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if let Ok(d) = sd.details(unit) {
        let mut summary = format!(
            "systemd: {} ({}), result {}",
            d.status.active_state,
            d.status.sub_state,
            d.result.as_deref().unwrap_or("?")
        );
        if let Some(status) = d.exec_main_status {
            summary.push_str(&format!(", exit status {status}"));
        }
        if let Some(n) = d.n_restarts.filter(|&n| n > 0) {
            summary.push_str(&format!(", restarted {n} times"));
        }
        lines.push(summary);
        if let Some(text) = d.status_text {
            lines.push(format!("status: {text}"));
        }
    }
    let mut journal = std::process::Command::new("journalctl");
    if mode == Mode::User {
        journal.arg("--user");
    }
    journal.args([
        "-u",
        unit,
        "-n",
        "20",
        "--no-pager",
        "-q",
        "-o",
        "short-iso",
    ]);
    if let Ok(out) = journal.stderr(std::process::Stdio::null()).output() {
        if out.status.success() {
            lines.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.starts_with("-- "))
                    .map(str::to_string),
            );
        }
    }
    lines
}

/// Tree paths whose bytes differ between `a` and `b` (or that only one has).
fn tree_diff<'t>(a: &'t Tree, b: &'t Tree) -> BTreeSet<&'t str> {
    a.iter()
        .filter(|(p, bytes)| b.get(p) != Some(*bytes))
        .map(|(p, _)| p)
        .chain(b.paths().filter(|p| a.get(p).is_none()))
        .collect()
}

/// Puts the previous generation's files and profile back after a failed switch to `failed`
/// (or, with no previous generation, removes the failed one's files and stops its units).
fn restore(
    sd: &dyn Systemd,
    ctx: &ApplyContext,
    failed: &Tree,
    failed_manifest: &Manifest,
    previous: Option<(&Generation, &Tree)>,
    opts: &ApplyOptions,
) -> RollbackOutcome {
    let layout = &ctx.layout;
    let Some((generation, tree)) = previous else {
        // Boot must not start what is being removed.
        let (want, _) = units::boot_targets(failed, failed_manifest, None);
        if let Some(target) = want.filter(|t| is_enabled(sd, t)) {
            let _ = sd.disable(&[&target]);
        }
        let mut jobs = Vec::new();
        for unit in failed_manifest
            .profiles
            .iter()
            .map(|p| &p.target)
            .chain(failed_manifest.agents.iter().map(|a| &a.unit))
        {
            if let Ok(new) = sd.enqueue(unit, "stop", JobMode::Replace) {
                jobs.extend(new);
            }
        }
        let deadline = Instant::now() + opts.timeout.unwrap_or(Duration::from_secs(120));
        let stopped = sd.wait(&jobs, deadline, &mut || true);
        let result = install::plan(layout, &Tree::new(), Some(failed))
            .and_then(|plan| install::execute(&plan))
            .and_then(|()| sd.reload());
        return match (result, stopped.iter().find(|o| !o.is_done())) {
            (Err(e), _) => RollbackOutcome::Failed(e.to_string()),
            (Ok(()), Some(o)) => {
                RollbackOutcome::Failed(format!("stop of {} {}", o.job.unit, o.result))
            }
            (Ok(()), None) => RollbackOutcome::Removed,
        };
    };
    let attempt = || -> Result<Vec<UnitFailure>, Error> {
        let manifest = manifest_of(tree)?;
        let profile = resolve_profile(&manifest, &generation.profile)?;
        let mut boot = UnitActions::default();
        plan_boot(sd, tree, &manifest, Some(failed_manifest), &mut boot);
        disable(sd, &boot.disable)?;
        let plan = install::plan(layout, tree, Some(failed))?;
        install::execute(&plan)?;
        let states = unit_states(sd, &units::relevant_units(&manifest, Some(failed_manifest)))?;
        // What differs between the two trees, not only what differs on disk now: a switch
        // interrupted halfway (killed, or its bus lost) may have restarted an agent with a
        // file that is already back, and systemd still runs what it loaded then.
        let mut changed = plan.changed_paths();
        changed.extend(tree_diff(tree, failed));
        let mut actions = units::plan(
            &manifest,
            &profile,
            Some(failed_manifest),
            &changed,
            &states,
        );
        actions.enable = boot.enable;
        let deadline = opts
            .timeout
            .unwrap_or_else(|| units::default_deadline(&manifest, &profile));
        let quiet = ApplyOptions {
            progress: super::ProgressMode::Quiet,
            ..opts.clone()
        };
        activate(
            sd,
            layout.mode,
            &manifest,
            &profile,
            !changed.is_empty(),
            &actions,
            deadline,
            &quiet,
        )
    };
    match attempt() {
        Ok(failures) if failures.is_empty() => RollbackOutcome::Restored {
            generation: generation.number,
            profile: generation.profile.clone(),
        },
        Ok(failures) => RollbackOutcome::Failed(
            failures
                .iter()
                .map(|f| format!("{} {} {}", f.unit, f.job, f.result))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(e) => RollbackOutcome::Failed(e.to_string()),
    }
}
