//! The transaction journal: what an apply or rollback is about to do, written before it
//! touches a unit folder and retired once the new generation is recorded (or the old one
//! restored). A strixc killed in between (SIGKILL, power loss, a lost terminal) leaves it
//! behind, and the next `apply`, `rollback` or `status` sees it and undoes the switch (see
//! `switch::recover`), so no agent it started keeps running unrecorded.
//!
//! ```text
//! STATE/transaction/intent.json   previous and new generation, profile, files, units
//! STATE/transaction/tree/...      the tree being installed (its units are the ones to stop)
//! ```
//!
//! It appears complete or not at all (written as `.transaction.tmp`, then renamed) and goes
//! away the same way (renamed to `.transaction.done`, then removed).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fsmode;
use super::generations::{load_tree_from, store_tree};
use crate::error::Error;
use crate::tree::Tree;
use crate::tree::manifest::{MANIFEST_PATH, Manifest};

/// `apply` or `rollback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Apply,
    Rollback,
}

/// `STATE/transaction/intent.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub kind: Kind,
    /// The strixc that wrote it.
    pub pid: u32,
    /// Seconds since the epoch.
    pub started: u64,
    /// The generation current when the switch began (`None`: nothing applied yet). Undoing
    /// the switch puts this one back.
    pub previous: Option<u64>,
    /// The generation that becomes current: `rollback`'s, or the number `apply` records
    /// (`None` when the tree equals the current generation's and none is recorded).
    pub target: Option<u64>,
    /// The profile switched to.
    pub profile: String,
    /// Files about to be written and removed.
    pub write: Vec<PathBuf>,
    pub remove: Vec<PathBuf>,
    /// Units about to be stopped, restarted and started (the target pulls in `start`).
    pub stop: Vec<String>,
    pub restart: Vec<String>,
    pub start: Vec<String>,
    pub target_unit: String,
    /// `--no-rollback` left the failed switch installed on purpose: `status` shows it; the
    /// next `apply` or `rollback` undoes it first.
    #[serde(default)]
    pub kept: bool,
}

/// A journal found on disk.
#[derive(Debug, Clone)]
pub struct Pending {
    pub intent: Intent,
    pub tree: Tree,
    pub dir: PathBuf,
}

impl Pending {
    /// The manifest of the tree being installed. It alone says which units the switch may
    /// have started, so a damaged one is an error naming its file.
    pub fn manifest(&self) -> Result<Manifest, Error> {
        Manifest::of_tree(&self.tree).map_err(|why| {
            Error::Generation(format!(
                "the interrupted switch's manifest ({}) is damaged: {why}\n  help: nothing \
                 was changed; without it strixc cannot tell which units that switch started. \
                 Stop the stack's agents yourself (they all run in the stack's slice: \
                 `systemctl stop STACK.slice`), then remove {}: the next apply starts from \
                 the current generation",
                self.dir.join("tree").join(MANIFEST_PATH).display(),
                self.dir.display(),
            ))
        })
    }
}

pub fn dir(state: &Path) -> PathBuf {
    state.join("transaction")
}

fn tmp_dir(state: &Path) -> PathBuf {
    state.join(".transaction.tmp")
}

fn done_dir(state: &Path) -> PathBuf {
    state.join(".transaction.done")
}

fn remove_if_there(path: &Path) -> Result<(), Error> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            what: "cannot remove",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes the journal (durably: a power loss right after must not lose it).
pub fn begin(state: &Path, intent: &Intent, tree: &Tree) -> Result<(), Error> {
    let tmp = tmp_dir(state);
    remove_if_there(&tmp)?;
    remove_if_there(&done_dir(state))?;
    store_tree(&tmp.join("tree"), tree)?;
    write_intent(&tmp, intent)?;
    let target = dir(state);
    std::fs::rename(&tmp, &target).map_err(|source| Error::Io {
        what: "cannot rename to",
        path: target.clone(),
        source,
    })?;
    // Best effort: the rename is done; a failed flush only weakens crash safety.
    let _ = crate::tree::disk::sync_dir(state);
    Ok(())
}

fn write_intent(dir: &Path, intent: &Intent) -> Result<(), Error> {
    let path = dir.join("intent.json");
    let json = serde_json::to_vec_pretty(intent).unwrap_or_default();
    fsmode::write_file(&path, &json)?;
    std::fs::File::open(&path)
        .and_then(|f| f.sync_all())
        .map_err(|source| Error::Write { path, source })
}

/// Marks the journal as left installed on purpose (`--no-rollback`).
pub fn keep(state: &Path) -> Result<(), Error> {
    let Some(mut pending) = pending(state)? else {
        return Ok(());
    };
    pending.intent.kept = true;
    let json = serde_json::to_vec_pretty(&pending.intent).unwrap_or_default();
    let intent = crate::tree::disk::Target::new(&pending.dir, "intent.json");
    crate::tree::disk::write_atomic(&intent, &json)
}

/// Retires the journal: the switch is recorded, or undone.
pub fn finish(state: &Path) -> Result<(), Error> {
    let done = done_dir(state);
    remove_if_there(&done)?;
    match std::fs::rename(dir(state), &done) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Io {
                what: "cannot retire the journal",
                path: dir(state),
                source,
            });
        }
    }
    // Best effort: the rename is done; a failed flush only weakens crash safety.
    let _ = crate::tree::disk::sync_dir(state);
    remove_if_there(&done)
}

/// The journal left by an interrupted (or `--no-rollback`) switch, if any. A journal that
/// cannot be read is an error naming it: strixc does not guess what a switch was doing.
pub fn pending(state: &Path) -> Result<Option<Pending>, Error> {
    let dir = dir(state);
    let path = dir.join("intent.json");
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() => return Ok(None),
        Err(e) => return Err(damaged(&path, e)),
    };
    let intent: Intent = serde_json::from_slice(&text).map_err(|e| damaged(&path, e))?;
    let tree = load_tree_from(&dir.join("tree"))?;
    Ok(Some(Pending { intent, tree, dir }))
}

fn damaged(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Generation(format!(
        "the journal of an interrupted switch, {}, cannot be read: {why}\n  help: nothing \
         was changed; compare the installed units with `strixc diff`, then remove {} and \
         run the command again",
        path.display(),
        path.parent().unwrap_or(path).display()
    ))
}

impl Intent {
    /// One line for humans: what was interrupted.
    pub fn describe(&self) -> String {
        let what = match self.kind {
            Kind::Apply => format!("apply of profile {}", self.profile),
            Kind::Rollback => format!(
                "rollback to generation {} (profile {})",
                self.target.unwrap_or(0),
                self.profile
            ),
        };
        format!(
            "{what} by pid {} at {}",
            self.pid,
            super::format_time(self.started)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent() -> Intent {
        Intent {
            kind: Kind::Apply,
            pid: 1,
            started: 0,
            previous: Some(3),
            target: None,
            profile: "odin".into(),
            write: vec!["/x/a.service".into()],
            remove: vec![],
            stop: vec![],
            restart: vec![],
            start: vec!["a.service".into()],
            target_unit: "t-odin.target".into(),
            kept: false,
        }
    }

    #[test]
    fn begins_reads_keeps_and_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = Tree::new();
        tree.insert("systemd/a.service", "x");
        assert!(pending(dir.path()).unwrap().is_none());
        begin(dir.path(), &intent(), &tree).unwrap();
        let p = pending(dir.path()).unwrap().unwrap();
        assert_eq!(p.intent, intent());
        assert_eq!(p.tree, tree);
        keep(dir.path()).unwrap();
        assert!(pending(dir.path()).unwrap().unwrap().intent.kept);
        finish(dir.path()).unwrap();
        assert!(pending(dir.path()).unwrap().is_none());
        assert!(!done_dir(dir.path()).exists());
        // A damaged journal is named, not ignored.
        begin(dir.path(), &intent(), &tree).unwrap();
        std::fs::write(super::dir(dir.path()).join("intent.json"), "{").unwrap();
        let err = pending(dir.path()).unwrap_err().to_string();
        assert!(err.contains("intent.json"), "{err}");
    }

    #[test]
    fn a_damaged_manifest_in_the_journal_is_named_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        for manifest in [None, Some("{")] {
            let mut tree = Tree::new();
            tree.insert("systemd/a.service", "x");
            if let Some(text) = manifest {
                tree.insert(MANIFEST_PATH, text);
            }
            begin(dir.path(), &intent(), &tree).unwrap();
            let err = pending(dir.path())
                .unwrap()
                .unwrap()
                .manifest()
                .unwrap_err();
            let text = err.to_string();
            assert!(text.contains("transaction/tree/manifest.json"), "{text}");
            assert!(text.contains("STACK.slice"), "{text}");
            finish(dir.path()).unwrap();
        }
    }
}
