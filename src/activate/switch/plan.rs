//! The switch as a value: what installing a tree and switching to one of its profiles does
//! (files to write and remove, unit jobs, boot links), computed from the built tree and the
//! state found (the current generation, the installed files, what the manager runs) before
//! anything changes. `apply`, `rollback`, the gateway's switch and `diff` all plan with
//! [`plan_switch`].

use std::collections::HashMap;

use crate::activate::ApplyContext;
use crate::activate::generations::{self, Generation};
use crate::activate::install::{self, InstallPlan};
use crate::activate::systemd::{Systemd, UnitStatus};
use crate::activate::units::{self, UnitActions};
use crate::error::Error;
use crate::tree::Tree;
use crate::tree::manifest::{MANIFEST_PATH, Manifest, ManifestProfile};

/// How a generation becomes current after a successful switch.
pub enum Record {
    /// `apply`: a new generation (unless the tree and profile equal the current one's).
    New,
    /// `rollback` (and the gateway's switch): generation `number` becomes current, as
    /// decided while `current_was` was current. Should another switch have made another
    /// generation current meanwhile (while this one waited for the lock), it stops.
    Existing { number: u64, current_was: u64 },
}

/// What a switch to `profile` of `tree` does.
pub struct SwitchPlan<'t> {
    pub tree: &'t Tree,
    pub manifest: &'t Manifest,
    pub profile: ManifestProfile,
    /// The generation current now and its tree (`None`: nothing applied yet).
    pub current: Option<Generation>,
    pub current_tree: Option<Tree>,
    /// The current generation's manifest (`None`: nothing applied yet).
    pub old_manifest: Option<Manifest>,
    /// The files to write and remove.
    pub install: InstallPlan,
    /// The unit jobs and boot links; only the target when no manager was asked.
    pub actions: UnitActions,
    /// The tree and profile are the current generation's: no new generation to record.
    pub same_generation: bool,
}

/// Plans the switch to `profile` of `tree` (whose manifest is `manifest`): the files from
/// what is installed now, the unit actions from `sd`'s answers (without a manager, only the
/// target is named).
pub fn plan_switch<'t>(
    ctx: &ApplyContext,
    sd: Option<&dyn Systemd>,
    tree: &'t Tree,
    manifest: &'t Manifest,
    profile: &ManifestProfile,
) -> Result<SwitchPlan<'t>, Error> {
    let current = generations::current(&ctx.layout.state_dir)?;
    let current_tree = current.as_ref().map(Generation::load_tree).transpose()?;
    // Without it the units the current generation runs are unknown: never plan as if none.
    let old_manifest = current.as_ref().map(Generation::manifest).transpose()?;
    let install = install::plan(&ctx.layout, tree, current_tree.as_ref())?;
    let same_generation = current.as_ref().is_some_and(|g| {
        g.profile == profile.name && g.manifest_bytes().as_deref() == tree.get(MANIFEST_PATH)
    });
    let mut plan = SwitchPlan {
        tree,
        manifest,
        profile: profile.clone(),
        current,
        current_tree,
        old_manifest,
        install,
        actions: UnitActions {
            target: profile.target.clone(),
            ..UnitActions::default()
        },
        same_generation,
    };
    if let Some(sd) = sd {
        plan.plan_units(sd)?;
    }
    Ok(plan)
}

impl SwitchPlan<'_> {
    /// Asks `sd` what runs and which targets boot starts, and plans the unit actions.
    pub fn plan_units(&mut self, sd: &dyn Systemd) -> Result<(), Error> {
        let old = self.old_manifest.as_ref();
        let states = unit_states(sd, &units::relevant_units(self.manifest, old))?;
        let changed = self.install.changed_paths();
        let mut actions = units::plan(self.manifest, &self.profile, old, &changed, &states);
        plan_boot(sd, self.tree, self.manifest, old, &mut actions);
        self.actions = actions;
        Ok(())
    }

    /// The generation current now, with its tree.
    pub fn previous(&self) -> Option<(&Generation, &Tree)> {
        self.current.as_ref().zip(self.current_tree.as_ref())
    }

    /// Whether `record` already holds: the generation it makes current is current.
    pub fn is_recorded(&self, record: &Record) -> bool {
        match record {
            Record::New => self.same_generation,
            Record::Existing { number, .. } => {
                self.current.as_ref().is_some_and(|g| g.number == *number)
            }
        }
    }

    /// Nothing to write, no job, no boot link, and nothing to record.
    pub fn is_noop(&self, record: &Record) -> bool {
        self.install.is_empty() && self.actions.is_noop() && self.is_recorded(record)
    }
}

/// The profile `name` of `manifest`, or a usage error naming the profiles it has.
pub fn resolve_profile(manifest: &Manifest, name: &str) -> Result<ManifestProfile, Error> {
    manifest.profile(name).cloned().ok_or_else(|| {
        let known: Vec<&str> = manifest.profiles.iter().map(|p| p.name.as_str()).collect();
        Error::Usage(format!(
            "no profile {name:?} in stack {} (profiles: {})",
            manifest.stack,
            known.join(", ")
        ))
    })
}

/// Fills `actions.enable` and `actions.disable` (see [`units::boot_targets`]): the default
/// profile's target is enabled for boot unless it already is, and the previous default's
/// target is disabled when it is no longer the one; a no-op apply makes no call.
pub fn plan_boot(
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

pub fn is_enabled(sd: &dyn Systemd, unit: &str) -> bool {
    sd.unit_file_state(unit)
        .is_ok_and(|state| state == "enabled")
}

pub fn unit_states(
    sd: &dyn Systemd,
    units: &[String],
) -> Result<HashMap<String, UnitStatus>, Error> {
    let names: Vec<&str> = units.iter().map(String::as_str).collect();
    Ok(sd
        .units(&names)?
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect())
}
