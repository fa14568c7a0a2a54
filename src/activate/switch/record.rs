//! What a switch writes down: its intent in the journal before any unit folder changes,
//! and the generation it makes current once it succeeded (the commit point).

use std::path::Path;

use super::plan::{Record, SwitchPlan};
use crate::activate::{generations, journal};
use crate::error::Error;

/// Writes the switch's intent to the journal (see `journal`). A new generation needs a
/// number: it is known before anything changes.
pub fn begin(state: &Path, plan: &SwitchPlan, record: &Record) -> Result<(), Error> {
    let next = if matches!(record, Record::New) && !plan.same_generation {
        Some(generations::next_number(state)?)
    } else {
        None
    };
    let actions = &plan.actions;
    let intent = journal::Intent {
        kind: match record {
            Record::New => journal::Kind::Apply,
            Record::Existing { .. } => journal::Kind::Rollback,
        },
        pid: std::process::id(),
        started: generations::now_secs(),
        previous: plan.current.as_ref().map(|g| g.number),
        target: match record {
            Record::New => next,
            Record::Existing { number, .. } => Some(*number),
        },
        profile: plan.profile.name.clone(),
        write: plan.install.written(),
        remove: plan.install.removed(),
        stop: actions.stop.clone(),
        restart: actions.restart.clone(),
        start: actions.start.clone(),
        target_unit: actions.target.clone(),
        kept: false,
    };
    journal::begin(state, &intent, plan.tree)
}

/// Makes the switched-to generation current and returns its number: a new one for
/// `apply` (unless the tree and profile are the current generation's), the existing one
/// for `rollback`.
pub fn record(state: &Path, plan: &SwitchPlan, record: &Record) -> Result<u64, Error> {
    Ok(match record {
        Record::New if plan.same_generation => plan.current.as_ref().map_or(0, |g| g.number),
        Record::New => generations::record(state, plan.tree, &plan.profile.name)?.number,
        Record::Existing { number, .. } => {
            generations::set_current(state, *number)?;
            *number
        }
    })
}
