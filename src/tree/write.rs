//! Writing a generated tree to a directory (the only effects of `strixc build`).
//!
//! - Atomic per file: each file is written to a temporary file in its own directory and
//!   renamed over the old one, so a reader (or a failure half-way) sees the old file or
//!   the new one, never a mix. No fsync: the tree is reproducible from `stack.kdl` and
//!   `apply` installs from it, so after a power loss `strixc build` simply runs again;
//!   fsyncing 1,200 files would dominate a large build.
//! - Unchanged files are not touched (same bytes: no write, mtime kept).
//! - Pruning removes only files the *previous* `manifest.json` lists and the new tree
//!   lacks: a file strixc never wrote is never removed. Manifest paths must be safe
//!   relative paths, and no path is followed through a symlinked directory, so nothing
//!   outside DIR is ever written or removed.
//! - Order: files, then pruning, then the manifest last: an interrupted build leaves the
//!   old manifest, which still lists every file a later build may prune.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::tree::manifest::{MANIFEST_PATH, Manifest};
use crate::tree::{Tree, is_safe_relative};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub written: Vec<String>,
    pub unchanged: usize,
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Added,
    Changed,
    Removed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Changed => "changed",
            ChangeKind::Removed => "removed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    /// A unified diff (old → new) for changed text files.
    pub diff: Option<String>,
}

fn io(what: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// The files the manifest in `dir` says a previous build wrote (itself included), or none
/// when there is no manifest.
pub fn previous_files(dir: &Path) -> Result<BTreeSet<String>, Error> {
    let path = dir.join(MANIFEST_PATH);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(source) => return Err(Error::Read { path, source }),
    };
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|source| Error::Manifest {
        path: path.clone(),
        source,
    })?;
    let mut files = BTreeSet::new();
    for file in manifest.files.into_keys() {
        if !is_safe_relative(&file) {
            return Err(io(
                "refusing a manifest path that leaves the tree:",
                &path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{file:?}")),
            ));
        }
        files.insert(file);
    }
    files.insert(MANIFEST_PATH.to_owned());
    Ok(files)
}

/// `dir/rel`, if every directory on the way is a real directory (not a symlink).
/// `Ok(None)` when a directory on the way does not exist.
fn resolve(dir: &Path, rel: &str) -> Result<Option<PathBuf>, Error> {
    let mut path = dir.to_owned();
    let mut parts = rel.split('/').peekable();
    while let Some(part) = parts.next() {
        path.push(part);
        if parts.peek().is_none() {
            break;
        }
        if !is_real_dir(&path)? {
            return Ok(None);
        }
    }
    Ok(Some(path))
}

/// Whether `path` is a real directory (`false`: absent). Anything else, a symlink
/// included, is an error: a link planted in the tree is never followed out of it.
fn is_real_dir(path: &Path) -> Result<bool, Error> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(true),
        Ok(_) => Err(io(
            "not a directory (symlinks are not followed):",
            path,
            std::io::Error::from(std::io::ErrorKind::NotADirectory),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io("cannot inspect", path, e)),
    }
}

/// The bytes at `dir/rel` if it is a regular file.
fn existing(dir: &Path, rel: &str) -> Result<Option<Vec<u8>>, Error> {
    let Some(path) = resolve(dir, rel)? else {
        return Ok(None);
    };
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_file() => std::fs::read(&path)
            .map(Some)
            .map_err(|source| Error::Read { path, source }),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read { path, source }),
    }
}

/// What writing `tree` to `dir` would change, sorted by path. Writes nothing.
pub fn compare(tree: &Tree, dir: &Path) -> Result<Vec<Change>, Error> {
    let previous = previous_files(dir)?;
    let mut changes = Vec::new();
    for (path, bytes) in tree.iter() {
        match existing(dir, path)? {
            None => changes.push(Change {
                path: path.to_owned(),
                kind: ChangeKind::Added,
                diff: None,
            }),
            Some(old) if old != bytes => changes.push(Change {
                path: path.to_owned(),
                kind: ChangeKind::Changed,
                diff: unified_diff(path, &old, bytes),
            }),
            Some(_) => {}
        }
    }
    for path in previous.iter().filter(|p| tree.get(p).is_none()) {
        if existing(dir, path)?.is_some() {
            changes.push(Change {
                path: path.clone(),
                kind: ChangeKind::Removed,
                diff: None,
            });
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

fn unified_diff(path: &str, old: &[u8], new: &[u8]) -> Option<String> {
    let (old, new) = (
        std::str::from_utf8(old).ok()?,
        std::str::from_utf8(new).ok()?,
    );
    Some(
        similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(2)
            .header(&format!("a/{path}"), &format!("b/{path}"))
            .to_string(),
    )
}

/// Writes `tree` into `dir` (created if missing), prunes what the previous manifest owned
/// and the tree no longer has, and reports what it did.
pub fn write_tree(tree: &Tree, dir: &Path) -> Result<WriteSummary, Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(io(
            "cannot build into",
            dir,
            std::io::Error::from(std::io::ErrorKind::NotADirectory),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_owned(),
        source,
    })?;
    let previous = previous_files(dir)?;
    let mut summary = WriteSummary::default();
    let mut manifest = None;
    for (path, bytes) in tree.iter() {
        if path == MANIFEST_PATH {
            manifest = Some(bytes);
            continue;
        }
        write_file(dir, path, bytes, &mut summary)?;
    }
    for path in previous.iter().filter(|p| tree.get(p).is_none()) {
        let Some(full) = resolve(dir, path)? else {
            continue;
        };
        match std::fs::remove_file(&full) {
            Ok(()) => {
                summary.removed.push(path.clone());
                remove_empty_parents(dir, path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("cannot remove", &full, e)),
        }
    }
    if let Some(bytes) = manifest {
        write_file(dir, MANIFEST_PATH, bytes, &mut summary)?;
    }
    Ok(summary)
}

fn write_file(
    dir: &Path,
    rel: &str,
    bytes: &[u8],
    summary: &mut WriteSummary,
) -> Result<(), Error> {
    if existing(dir, rel)?.as_deref() == Some(bytes) {
        summary.unchanged += 1;
        return Ok(());
    }
    let target = create_parents(dir, rel)?;
    let parent = target.parent().unwrap_or(dir);
    let failed = |source: std::io::Error| Error::Write {
        path: target.clone(),
        source,
    };
    // Created 0644 (less the umask) in one step, as unit and config files are.
    let mut temp = tempfile::Builder::new()
        .prefix(".strixc-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o644))
        .tempfile_in(parent)
        .map_err(failed)?;
    temp.write_all(bytes).map_err(failed)?;
    // On error the temporary file is removed when `persist`'s error is dropped.
    temp.persist(&target).map_err(|e| failed(e.error))?;
    summary.written.push(rel.to_owned());
    Ok(())
}

/// Creates the directories of `rel` under `dir` (refusing symlinked ones); its full path.
fn create_parents(dir: &Path, rel: &str) -> Result<PathBuf, Error> {
    let mut path = dir.to_owned();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        path.push(part);
        if !is_real_dir(&path)? {
            std::fs::create_dir(&path).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
        }
    }
    path.push(parts[parts.len() - 1]);
    Ok(path)
}

/// Removes the directories a pruned file leaves empty, up to (not including) `dir`.
fn remove_empty_parents(dir: &Path, rel: &str) {
    let mut parts: Vec<&str> = rel.split('/').collect();
    parts.pop();
    while !parts.is_empty() {
        let path = dir.join(parts.join("/"));
        if std::fs::remove_dir(&path).is_err() {
            break;
        }
        parts.pop();
    }
}
