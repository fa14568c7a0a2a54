//! Writing a generated tree to a directory (the only effects of `strixc build`).
//!
//! - Through the disk engine (`tree::disk`, the one `apply` installs with): atomic per
//!   file, flushed, no symbolic link followed under DIR.
//! - Unchanged files are not touched (same bytes: no write, mtime kept).
//! - Pruning removes only files the *previous* `manifest.json` lists and the new tree
//!   lacks: a file strixc never wrote is never removed. Manifest paths must be safe
//!   relative paths, and no path is followed through a symbolic link, so nothing outside
//!   DIR is ever written or removed.
//! - Order: files, then pruning, then the manifest last: an interrupted build leaves the
//!   old manifest, which still lists every file a later build may prune.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::Error;
use crate::tree::Tree;
use crate::tree::disk::{self, ChangeKind, DiskPlan, Target};
use crate::tree::manifest::{MANIFEST_PATH, Manifest};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub written: Vec<String>,
    pub unchanged: usize,
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    /// A unified diff (old → new) for changed text files.
    pub diff: Option<String>,
}

/// The files the manifest in `dir` says a previous build wrote (itself included), or none
/// when there is no manifest.
pub fn previous_files(dir: &Path) -> Result<BTreeSet<String>, Error> {
    let Some(bytes) = disk::read(&Target::new(dir, MANIFEST_PATH))? else {
        return Ok(BTreeSet::new());
    };
    let manifest = Manifest::parse(&bytes, &dir.join(MANIFEST_PATH))?;
    let mut files: BTreeSet<String> = manifest.files.into_keys().collect();
    files.insert(MANIFEST_PATH.to_owned());
    Ok(files)
}

/// What writing `tree` into `dir` takes: the tree's files, and the removal of what the
/// previous manifest lists and the tree lacks.
fn plan(tree: &Tree, dir: &Path) -> Result<DiskPlan, Error> {
    let previous = previous_files(dir)?;
    disk::plan(
        tree.iter()
            .map(|(path, bytes)| (path, Target::new(dir, path), bytes)),
        previous
            .into_iter()
            .map(|path| (path.clone(), Target::new(dir, path))),
    )
}

/// What writing `tree` to `dir` would change, sorted by path. Writes nothing.
pub fn compare(tree: &Tree, dir: &Path) -> Result<Vec<Change>, Error> {
    let plan = plan(tree, dir)?;
    let is_text = |bytes: &[u8]| std::str::from_utf8(bytes).is_ok();
    let mut changes: Vec<Change> = plan
        .changes()
        .into_iter()
        .map(|c| Change {
            path: c.tree_path.to_owned(),
            kind: c.kind,
            diff: (c.kind == ChangeKind::Changed && is_text(c.old) && is_text(c.new)).then(|| {
                let (a, b) = (format!("a/{}", c.tree_path), format!("b/{}", c.tree_path));
                disk::unified_diff(&a, &b, c.old, c.new)
            }),
        })
        .collect();
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

/// Writes `tree` into `dir` (created if missing), prunes what the previous manifest owned
/// and the tree no longer has, and reports what it did.
pub fn write_tree(tree: &Tree, dir: &Path) -> Result<WriteSummary, Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Io {
            what: "cannot build into",
            path: dir.to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::NotADirectory),
        });
    }
    disk::create_dir_all(dir, disk::DIR_MODE)?;
    let plan = plan(tree, dir)?;
    let (manifest, files): (Vec<_>, Vec<_>) = plan
        .writes
        .into_iter()
        .partition(|w| w.tree_path == MANIFEST_PATH);
    disk::execute(&files, &plan.removes, disk::Flush::Never, || {})?;
    disk::execute(&manifest, &[], disk::Flush::Never, || {})?;
    Ok(WriteSummary {
        written: files
            .iter()
            .chain(&manifest)
            .map(|w| w.tree_path.clone())
            .collect(),
        unchanged: plan.unchanged,
        removed: plan.removes.into_iter().map(|r| r.tree_path).collect(),
    })
}
