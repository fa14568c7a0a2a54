//! A switch plan described as a diff: the files it writes and removes, each with its
//! unified text, and the unit actions; what `strixc diff` prints and `apply` reports.

use std::path::PathBuf;

use serde::Serialize;

use crate::activate::install::{InstallPlan, Skipped};
use crate::activate::render_skipped;
use crate::activate::units::UnitActions;
use crate::tree::disk::ChangeKind;

#[derive(Debug, Clone, Serialize)]
pub struct FileDiff {
    pub dest: PathBuf,
    /// `create`, `update` or `remove`.
    pub change: &'static str,
    pub unified: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub files: Vec<FileDiff>,
    pub skipped: Vec<Skipped>,
    /// `None` when systemd could not be asked (see `note`).
    pub actions: Option<UnitActions>,
    pub note: Option<String>,
}

/// The one unified diff of the disk engine, headed by the installed path.
fn unified(dest: &std::path::Path, old: &[u8], new: &[u8]) -> String {
    let name = dest.display().to_string();
    crate::tree::disk::unified_diff(&name, &name, old, new)
}

pub(crate) fn from_plan(plan: &InstallPlan, actions: Option<UnitActions>) -> Diff {
    let files = plan
        .disk
        .changes()
        .into_iter()
        .map(|c| FileDiff {
            dest: c.dest.to_path_buf(),
            change: match c.kind {
                ChangeKind::Added => "create",
                ChangeKind::Changed => "update",
                ChangeKind::Removed => "remove",
            },
            unified: unified(c.dest, c.old, c.new),
        })
        .collect();
    Diff {
        files,
        skipped: plan.skipped.clone(),
        actions,
        note: None,
    }
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.actions.as_ref().is_none_or(UnitActions::is_noop)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.files {
            out.push_str(&format!("{} {}\n", f.change, f.dest.display()));
            out.push_str(&f.unified);
        }
        if let Some(a) = &self.actions {
            for u in &a.stop {
                out.push_str(&format!("stop     {u}\n"));
            }
            for u in &a.restart {
                out.push_str(&format!("restart  {u}\n"));
            }
            for u in &a.host_restart {
                out.push_str(&format!("restart  {u} (host)\n"));
            }
            for u in &a.start {
                out.push_str(&format!("start    {u}\n"));
            }
            if a.start_target {
                out.push_str(&format!("start    {} (replace)\n", a.target));
            }
            for u in &a.enable {
                out.push_str(&format!("enable   {u} (boot)\n"));
            }
            for u in &a.disable {
                out.push_str(&format!("disable  {u} (boot)\n"));
            }
        }
        if let Some(note) = &self.note {
            out.push_str(&format!("note: {note}\n"));
        }
        if self.is_empty() {
            out.push_str("no changes\n");
        }
        out.push_str(&render_skipped(&self.skipped));
        out
    }
}
