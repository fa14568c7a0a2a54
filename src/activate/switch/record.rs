//! What a switch writes down: its intent in the journal before any unit folder changes,
//! and the generation it makes current once it succeeded (the commit point).

use std::path::Path;

use super::plan::{Record, SwitchPlan};
use crate::activate::{generations, journal};
use crate::error::Error;

/// The generation a switch makes current, its number fixed once, before anything changes:
/// the journal names it and the record stores it under that number.
pub enum Commit {
    /// `apply` of a new tree or profile: stored as generation N.
    New(u64),
    /// `apply` of the current generation's tree and profile: nothing to store; the
    /// current generation's number.
    Same(u64),
    /// `rollback` and the gateway's switch: generation N becomes current.
    Existing(u64),
}

impl Commit {
    /// Decides the commit of `record` for `plan` (a new generation takes the next number).
    pub fn of(state: &Path, plan: &SwitchPlan, record: &Record) -> Result<Self, Error> {
        Ok(match record {
            Record::New if plan.same_generation => {
                Commit::Same(plan.current.as_ref().map_or(0, |g| g.number))
            }
            Record::New => Commit::New(generations::next_number(state)?),
            Record::Existing { number, .. } => Commit::Existing(*number),
        })
    }
}

/// Writes the switch's intent to the journal (see `journal`).
pub fn begin(state: &Path, plan: &SwitchPlan, commit: &Commit) -> Result<(), Error> {
    let actions = &plan.actions;
    let (kind, target) = match *commit {
        Commit::New(n) => (journal::Kind::Apply, Some(n)),
        Commit::Same(_) => (journal::Kind::Apply, None),
        Commit::Existing(n) => (journal::Kind::Rollback, Some(n)),
    };
    let intent = journal::Intent {
        kind,
        pid: std::process::id(),
        started: generations::now_secs(),
        previous: plan.current.as_ref().map(|g| g.number),
        target,
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

/// Makes the switched-to generation current and returns its number.
pub fn record(state: &Path, plan: &SwitchPlan, commit: &Commit) -> Result<u64, Error> {
    Ok(match *commit {
        Commit::New(n) => generations::record(state, n, plan.tree, &plan.profile.name)?.number,
        Commit::Same(n) => n,
        Commit::Existing(n) => {
            generations::set_current(state, n)?;
            n
        }
    })
}
