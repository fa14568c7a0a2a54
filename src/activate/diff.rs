//! `strixc diff` and `apply --dry-run`: unified diffs of files against what is installed,
//! and the unit actions `apply` would take.

use super::ApplyContext;
use super::switch::{Diff, from_plan, plan_switch};
use crate::activate::systemd::DbusSystemd;
use crate::error::Error;
use crate::tree::Tree;
use crate::tree::manifest::Manifest;

/// `strixc diff [--profile P]`: what `apply` of `tree` would change. Reads only; when the
/// bus cannot be reached the file diffs are still returned, with `note` saying why the unit
/// actions are missing.
pub fn diff(ctx: &ApplyContext, tree: &Tree, profile: Option<&str>) -> Result<Diff, Error> {
    let manifest: Manifest = Manifest::of_tree(tree)?;
    let name = profile.unwrap_or(&manifest.default_profile);
    let profile = manifest
        .profile(name)
        .ok_or_else(|| Error::Usage(format!("no profile {name:?} in stack {}", manifest.stack)))?;
    let mut plan = plan_switch(ctx, None, tree, &manifest, profile)?;
    let asked = if ctx.activate {
        DbusSystemd::connect(&ctx.bus).and_then(|sd| plan.plan_units(&sd))
    } else {
        Err(Error::Usage(
            "--root: no running system to compare units with".into(),
        ))
    };
    let mut diff = from_plan(&plan.install, None);
    match asked {
        Ok(()) => diff.actions = Some(plan.actions),
        Err(e) => diff.note = Some(format!("unit actions unknown: {e}")),
    }
    Ok(diff)
}
