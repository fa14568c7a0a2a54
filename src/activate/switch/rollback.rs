//! The failure path of a switch: put the previous generation's files and profile back (or,
//! with none, remove the failed switch's files and stop its units), check nothing of the
//! failed switch is left, and say what happened when the bus dropped halfway.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::activate::Activation;
use super::install::disable_units;
use super::plan::{SwitchPlan, is_enabled, plan_boot, resolve_profile, unit_states};
use crate::activate::generations::Generation;
use crate::activate::install::InstallPlan;
use crate::activate::layout::Layout;
use crate::activate::systemd::{DbusSystemd, JobMode, Systemd};
use crate::activate::units::{self, UnitActions};
use crate::activate::{ApplyContext, ApplyOptions, ProgressMode, install, journal};
use crate::error::{Error, RollbackOutcome, UnitFailure};
use crate::tree::Tree;
use crate::tree::manifest::Manifest;

/// The switch being undone: its tree and manifest.
pub struct Failed<'a> {
    pub tree: &'a Tree,
    pub manifest: &'a Manifest,
}

/// Puts the previous generation's files and profile back over a failed switch and, once
/// nothing of the failed switch is left, retires the journal (else it stays for the next
/// command to try again). Returns what the restore did and whether it was fully undone.
pub fn roll_back(
    ctx: &ApplyContext,
    sd: &dyn Systemd,
    failed: &Failed,
    previous: Option<(&Generation, &Tree)>,
    opts: &ApplyOptions,
) -> Result<(RollbackOutcome, bool), Error> {
    let outcome = restore(ctx, sd, failed, previous, opts);
    let undone = undone(ctx, sd, failed, previous)?;
    if undone {
        journal::finish(&ctx.layout.state_dir)?;
    }
    Ok((outcome, undone))
}

/// Installs `previous`'s files over `failed`'s (with no previous generation, removes
/// `failed`'s): what the failed switch overwrote comes back, what it added goes. Returns
/// the plan carried out.
pub fn put_back_files(
    layout: &Layout,
    previous: Option<&Tree>,
    failed: &Tree,
) -> Result<InstallPlan, Error> {
    let nothing = Tree::new();
    let plan = install::plan(layout, previous.unwrap_or(&nothing), Some(failed))?;
    install::execute(&plan)?;
    Ok(plan)
}

/// Puts the previous generation's files and profile back after a failed switch (or, with
/// no previous generation, removes the failed one's files and stops its units).
fn restore(
    ctx: &ApplyContext,
    sd: &dyn Systemd,
    failed: &Failed,
    previous: Option<(&Generation, &Tree)>,
    opts: &ApplyOptions,
) -> RollbackOutcome {
    let Some((generation, tree)) = previous else {
        return remove(ctx, sd, failed, opts);
    };
    match reactivate(ctx, sd, failed, generation, tree, opts) {
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

/// No earlier generation: stop the failed switch's units and remove its files.
fn remove(
    ctx: &ApplyContext,
    sd: &dyn Systemd,
    failed: &Failed,
    opts: &ApplyOptions,
) -> RollbackOutcome {
    // Boot must not start what is being removed.
    let (want, _) = units::boot_targets(failed.tree, failed.manifest, None);
    if let Some(target) = want.filter(|t| is_enabled(sd, t)) {
        let _ = sd.disable(&[&target]);
    }
    let mut jobs = Vec::new();
    for unit in failed
        .manifest
        .profiles
        .iter()
        .map(|p| &p.target)
        .chain(failed.manifest.agents.iter().map(|a| &a.unit))
    {
        if let Ok(new) = sd.enqueue(unit, "stop", JobMode::Replace) {
            jobs.extend(new);
        }
    }
    let deadline = Instant::now() + opts.timeout.unwrap_or(Duration::from_secs(120));
    let stopped = sd.wait(&jobs, deadline, &mut || true);
    let result = put_back_files(&ctx.layout, None, failed.tree).and_then(|_| sd.reload());
    match (result, stopped.iter().find(|o| !o.is_done())) {
        (Err(e), _) => RollbackOutcome::Failed(e.to_string()),
        (Ok(()), Some(o)) => {
            RollbackOutcome::Failed(format!("stop of {} {}", o.job.unit, o.result))
        }
        (Ok(()), None) => RollbackOutcome::Removed,
    }
}

/// Installs `tree` (the previous `generation`'s) over the failed switch's files and
/// activates its profile again, quietly.
fn reactivate(
    ctx: &ApplyContext,
    sd: &dyn Systemd,
    failed: &Failed,
    generation: &Generation,
    tree: &Tree,
    opts: &ApplyOptions,
) -> Result<Vec<UnitFailure>, Error> {
    let manifest = generation.manifest()?;
    let profile = resolve_profile(&manifest, &generation.profile)?;
    let mut boot = UnitActions::default();
    plan_boot(sd, tree, &manifest, Some(failed.manifest), &mut boot);
    disable_units(sd, &boot.disable)?;
    let plan = put_back_files(&ctx.layout, Some(tree), failed.tree)?;
    let states = unit_states(sd, &units::relevant_units(&manifest, Some(failed.manifest)))?;
    // What differs between the two trees, not only what differs on disk now: a switch
    // interrupted halfway (killed, or its bus lost) may have restarted an agent with a
    // file that is already back, and systemd still runs what it loaded then.
    let mut changed = plan.changed_paths();
    changed.extend(tree_diff(tree, failed.tree));
    let mut actions = units::plan(
        &manifest,
        &profile,
        Some(failed.manifest),
        &changed,
        &states,
    );
    actions.enable = boot.enable;
    Activation {
        sd,
        mode: ctx.layout.mode,
        manifest: &manifest,
        profile: &profile,
        reload: !changed.is_empty(),
        actions: &actions,
        deadline: opts
            .timeout
            .unwrap_or_else(|| units::default_deadline(&manifest, &profile)),
        progress: ProgressMode::Quiet,
    }
    .run()
}

/// Tree paths whose bytes differ between `a` and `b` (or that only one has).
fn tree_diff<'t>(a: &'t Tree, b: &'t Tree) -> BTreeSet<&'t str> {
    a.iter()
        .filter(|(p, bytes)| b.get(p) != Some(*bytes))
        .map(|(p, _)| p)
        .chain(b.paths().filter(|p| a.get(p).is_none()))
        .collect()
}

/// Whether the switch to `failed` is fully undone: the installed files are `previous`'s
/// (none when there is no previous generation), and no unit only `failed` has is running.
/// Then nothing of it is left unrecorded, even if some of `previous`'s own units failed to
/// come back (the user sees those in `status`).
fn undone(
    ctx: &ApplyContext,
    sd: &dyn Systemd,
    failed: &Failed,
    previous: Option<(&Generation, &Tree)>,
) -> Result<bool, Error> {
    let nothing = Tree::new();
    let back = previous.map_or(&nothing, |(_, t)| t);
    if !install::plan(&ctx.layout, back, Some(failed.tree))?.is_empty() {
        return Ok(false);
    }
    let kept = previous.map(|(g, _)| g.manifest()).transpose()?;
    let ours = |m: &Manifest, u: &String| {
        m.agents.iter().any(|a| &a.unit == u) || m.profiles.iter().any(|p| &p.target == u)
    };
    let extra: Vec<String> = units::relevant_units(failed.manifest, None)
        .into_iter()
        .filter(|u| u.ends_with(".service") || u.ends_with(".target"))
        .filter(|u| kept.as_ref().is_none_or(|m| !ours(m, u)))
        .filter(|u| ours(failed.manifest, u))
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
pub fn bus_lost(ctx: &ApplyContext, plan: &SwitchPlan, opts: &ApplyOptions, cause: Error) -> Error {
    let state = &ctx.layout.state_dir;
    let previous = plan.previous();
    let failed = Failed {
        tree: plan.tree,
        manifest: plan.manifest,
    };
    let back = match previous {
        Some((g, _)) => format!("generation {} (profile {})", g.number, g.profile),
        None => "the state before it (nothing applied)".to_string(),
    };
    let head = format!(
        "lost the D-Bus connection to systemd in the middle of the switch to profile {}: {cause}",
        plan.profile.name
    );
    if let Ok(sd) = DbusSystemd::connect(&ctx.bus)
        && let Ok((outcome, true)) = roll_back(ctx, &sd, &failed, previous, opts)
    {
        return Error::BusLost(format!("{head}\n  reconnected: {outcome}"));
    }
    let files = put_back_files(&ctx.layout, plan.current_tree.as_ref(), plan.tree);
    let files = match files {
        Ok(_) => format!("put back the files of {back}"),
        Err(e) => format!("could not put back the files of {back} either: {e}"),
    };
    Error::BusLost(format!(
        "{head}\n  {files}; without the bus no unit could be stopped or started.\n  help: the \
         journal {} stays: once systemd's bus is back, `strixc status`, `apply` or `rollback` \
         stops what this switch started and restores {back}",
        journal::dir(state).display()
    ))
}
