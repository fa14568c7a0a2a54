//! Undoing a switch that died: the journal it left names the previous generation and the
//! tree it was installing.

use super::rollback::{self, Failed};
use crate::activate::generations::{self, Generation};
use crate::activate::systemd::Systemd;
use crate::activate::{ApplyContext, ApplyOptions, ProgressMode, install, journal};
use crate::error::Error;
use crate::tree::Tree;

/// Finishes or undoes the switch a journal describes, left by a strixc that died (or by
/// `--no-rollback`). Called with the lock held, before anything else changes.
///
/// A switch whose generation was recorded (the record is the commit point) was complete:
/// only its journal is left to clear. Any other is undone, the way a failed apply rolls
/// back: its agents never proved healthy and the user never saw it succeed, while the
/// previous generation is the last one known to work; finishing it instead would mean
/// waiting for its agents inside whatever command came next, and make a switch nobody saw
/// succeed take effect.
pub fn recover(
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
    let failed_manifest = pending.manifest()?;
    let failed = Failed {
        tree: &pending.tree,
        manifest: &failed_manifest,
    };
    let previous = previous_generation(state, &pending)?;
    let back = match &previous {
        Some((g, _)) => format!("generation {} (profile {})", g.number, g.profile),
        None => "nothing applied".to_string(),
    };
    undo(
        ctx,
        sd,
        &pending,
        &failed,
        previous.as_ref().map(|(g, t)| (g, t)),
        opts,
    )?;
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

/// The generation current before the pending switch began, with its tree.
fn previous_generation(
    state: &std::path::Path,
    pending: &journal::Pending,
) -> Result<Option<(Generation, Tree)>, Error> {
    let Some(n) = pending.intent.previous else {
        return Ok(None);
    };
    let generation = generations::list(state)?
        .into_iter()
        .find(|g| g.number == n)
        .ok_or_else(|| {
            Error::Generation(format!(
                "the journal {} says generation {n} was current, but it is gone",
                pending.dir.display()
            ))
        })?;
    let tree = generation.load_tree()?;
    Ok(Some((generation, tree)))
}

/// Puts `previous` back over the pending switch and retires its journal: files and units
/// with a manager, files and boot links without one (`--root`).
fn undo(
    ctx: &ApplyContext,
    sd: Option<&dyn Systemd>,
    pending: &journal::Pending,
    failed: &Failed,
    previous: Option<(&Generation, &Tree)>,
    opts: &ApplyOptions,
) -> Result<(), Error> {
    let Some(sd) = sd else {
        let back = previous.map(|(_, t)| t);
        rollback::put_back_files(&ctx.layout, back, &pending.tree)?;
        let empty = Tree::new();
        install::boot_links(&ctx.layout, back.unwrap_or(&empty), Some(&pending.tree)).execute()?;
        return journal::finish(&ctx.layout.state_dir);
    };
    let quiet = ApplyOptions {
        progress: ProgressMode::Quiet,
        ..opts.clone()
    };
    let (outcome, undone) = rollback::roll_back(ctx, sd, failed, previous, &quiet)?;
    if undone {
        return Ok(());
    }
    Err(Error::Generation(format!(
        "could not undo the interrupted {}: {}\n  help: its journal {} stays; the next apply, \
         rollback or status tries again",
        pending.intent.describe(),
        outcome,
        pending.dir.display()
    )))
}
