//! The install step of a switch: the old default target's boot links go, then the plan's
//! files (and, with `--root`, its boot links) are put in place; on failure the current
//! generation's files come back.

use crate::activate::install::{self, BootLinks};
use crate::activate::systemd::Systemd;
use crate::activate::{ApplyContext, journal};
use crate::error::Error;

use super::plan::SwitchPlan;
use super::rollback::put_back_files;

pub fn install(
    ctx: &ApplyContext,
    sd: Option<&dyn Systemd>,
    plan: &SwitchPlan,
    root_boot: &BootLinks,
) -> Result<(), Error> {
    let state = &ctx.layout.state_dir;
    let disable = &plan.actions.disable;
    // The old default target's boot links go before its file changes or goes away.
    if let Some(sd) = sd
        && let Err(e) = disable_units(sd, disable)
    {
        journal::finish(state)?;
        return Err(e);
    }
    let Err(e) = install::execute(&plan.install).and_then(|()| root_boot.execute()) else {
        return Ok(());
    };
    // Put back what was there: the current generation's files (best effort).
    let undone = put_back_files(&ctx.layout, plan.current_tree.as_ref(), plan.tree);
    if let (Some(sd), false) = (sd, disable.is_empty()) {
        let names: Vec<&str> = disable.iter().map(String::as_str).collect();
        let _ = sd.enable(&names);
    }
    if undone.is_ok() && sd.is_some() {
        let _ = journal::finish(state);
    }
    Err(e)
}

/// `DisableUnitFiles` of `units`; no call when there is none.
pub fn disable_units(sd: &dyn Systemd, units: &[String]) -> Result<(), Error> {
    if units.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = units.iter().map(String::as_str).collect();
    sd.disable(&names)
}
