//! The one engine that puts files on disk: `strixc build` (write, `--check`, prune),
//! `apply` (install, remove what the previous generation installed), `diff`, and the state
//! folder's own files (`current`, the journal) all go through it, under one policy:
//!
//! - A destination is a [`Target`]: a `base` folder the caller names (`-o DIR`, the unit
//!   folder of a mode, the state folder; taken as it is, created when missing) and a safe
//!   relative path under it. Every folder on that path and the file itself must be real:
//!   a symbolic link there (planted, or left by someone) is never followed, and an error
//!   names it. Missing folders are created with mode 0755; folders a removal empties are
//!   removed again (never `base` itself).
//! - Planning reads only: which files to write (bytes differ or file missing), which to
//!   remove (files the previous tree owned that the new one does not), how many unchanged.
//! - Executing writes each file atomically: a temporary file in the same folder, mode 0644
//!   whatever the umask, renamed over the old one, so a reader sees the old file or the new
//!   one, never a mix; `apply`'s files are also flushed to disk first, and their folder
//!   after (the one choice a caller makes: [`Flush`]).
//! - One unified diff for every report of a change ([`unified_diff`], 3 lines of context).

use std::collections::BTreeSet;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::tree::is_safe_relative;

/// Folders strixc creates.
pub const DIR_MODE: u32 = 0o755;
/// Files strixc writes: read by systemd, quadlet and non-root `strixc status`; nothing
/// strixc writes is secret.
pub const FILE_MODE: u32 = 0o644;

/// Where one file goes: `rel` (a safe relative path) under the folder `base`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub base: PathBuf,
    pub rel: String,
}

impl Target {
    /// Panics on an unsafe `rel`: every target is made by strixc from checked names.
    pub fn new(base: impl Into<PathBuf>, rel: impl Into<String>) -> Self {
        let rel = rel.into();
        assert!(is_safe_relative(&rel), "unsafe target path {rel:?}");
        Self {
            base: base.into(),
            rel,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.base.join(&self.rel)
    }
}

/// One file to write: `old` is what is there now (`None`: nothing).
#[derive(Debug, Clone)]
pub struct FileWrite {
    pub tree_path: String,
    pub target: Target,
    /// `target.path()`, for reports.
    pub dest: PathBuf,
    pub old: Option<Vec<u8>>,
    pub new: Vec<u8>,
}

/// One file to remove, with what it holds now (for diffs).
#[derive(Debug, Clone)]
pub struct FileRemove {
    pub tree_path: String,
    pub target: Target,
    pub dest: PathBuf,
    pub old: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct DiskPlan {
    pub writes: Vec<FileWrite>,
    pub removes: Vec<FileRemove>,
    /// Files already holding their bytes.
    pub unchanged: usize,
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

/// One file a plan changes, with its bytes now and after (empty for none).
#[derive(Debug, Clone, Copy)]
pub struct FileChange<'p> {
    pub tree_path: &'p str,
    pub dest: &'p Path,
    pub kind: ChangeKind,
    pub old: &'p [u8],
    pub new: &'p [u8],
}

impl DiskPlan {
    /// Every file the plan changes, writes then removes: the one list behind every report
    /// of a plan (`build --check`, `diff`, `apply --dry-run`).
    pub fn changes(&self) -> Vec<FileChange<'_>> {
        let writes = self.writes.iter().map(|w| FileChange {
            tree_path: &w.tree_path,
            dest: &w.dest,
            kind: match w.old {
                Some(_) => ChangeKind::Changed,
                None => ChangeKind::Added,
            },
            old: w.old.as_deref().unwrap_or_default(),
            new: &w.new,
        });
        let removes = self.removes.iter().map(|r| FileChange {
            tree_path: &r.tree_path,
            dest: &r.dest,
            kind: ChangeKind::Removed,
            old: &r.old,
            new: &[],
        });
        writes.chain(removes).collect()
    }
}

/// What putting `files` (tree path, target, bytes) on disk takes, given the files a
/// previous tree put there (`owned`: tree path, target): owned files the new tree does not
/// write are removed, if they are still there. Reads only.
pub fn plan<'a>(
    files: impl IntoIterator<Item = (&'a str, Target, &'a [u8])>,
    owned: impl IntoIterator<Item = (String, Target)>,
) -> Result<DiskPlan, Error> {
    let mut plan = DiskPlan::default();
    let mut kept = BTreeSet::new();
    for (tree_path, target, bytes) in files {
        let old = read(&target)?;
        if old.as_deref() == Some(bytes) {
            plan.unchanged += 1;
        } else {
            plan.writes.push(FileWrite {
                tree_path: tree_path.to_owned(),
                dest: target.path(),
                target: target.clone(),
                old,
                new: bytes.to_vec(),
            });
        }
        kept.insert(target.path());
    }
    for (tree_path, target) in owned {
        let dest = target.path();
        if kept.contains(&dest) {
            continue;
        }
        if let Some(old) = read(&target)? {
            plan.removes.push(FileRemove {
                tree_path,
                target,
                dest,
                old,
            });
        }
    }
    Ok(plan)
}

/// Whether `execute` flushes each file to disk before going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// `apply`: each file flushed, renamed, and its folder flushed before the next file is
    /// written, so what systemd boots from is on disk and an interrupted apply leaves at most
    /// one temporary file.
    EachFile,
    /// `build`: renamed into place (atomic for readers) but not flushed. Its output is
    /// made again from the stack and `build --check` notices a stale file; flushing cost
    /// more than the rest of a build (460 files: 1.5 s against 0.6 s).
    Never,
}

/// Writes, then removes (see the module comment); `after_first_write` runs once, after the
/// first file is in place (the crash tests' kill point).
pub fn execute(
    writes: &[FileWrite],
    removes: &[FileRemove],
    flush: Flush,
    mut after_first_write: impl FnMut(),
) -> Result<(), Error> {
    for (i, write) in writes.iter().enumerate() {
        match flush {
            Flush::EachFile => write_atomic(&write.target, &write.new)?,
            Flush::Never => stage(&write.target, &write.new)?.place()?,
        }
        if i == 0 {
            after_first_write();
        }
    }
    remove_all(removes)
}

fn remove_all(removes: &[FileRemove]) -> Result<(), Error> {
    for remove in removes {
        remove_file(&remove.target)?;
    }
    Ok(())
}

/// A file written next to its destination, not yet in place.
struct Staged {
    temp: tempfile::TempPath,
    dest: PathBuf,
    folder: PathBuf,
}

impl Staged {
    /// Renames it over the destination (on error the temporary file is removed).
    fn place(self) -> Result<(), Error> {
        let dest = self.dest;
        self.temp.persist(&dest).map_err(|e| Error::Write {
            path: dest.clone(),
            source: e.error,
        })
    }
}

/// Writes `bytes` to a temporary file in `target`'s folder (created when missing), with
/// the file mode whatever the umask; not flushed.
fn stage(target: &Target, bytes: &[u8]) -> Result<Staged, Error> {
    let dest = create_parents(target)?;
    if kind(&dest)?.is_some_and(|k| k.is_dir()) {
        let err = std::io::Error::other("it is a directory");
        return Err(io("refusing to replace", &dest, err));
    }
    let folder = dest.parent().unwrap_or(&target.base).to_owned();
    let failed = |source| Error::Write {
        path: dest.clone(),
        source,
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".strixc-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(FILE_MODE))
        .tempfile_in(&folder)
        .map_err(failed)?;
    temp.write_all(bytes).map_err(failed)?;
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
        .map_err(failed)?;
    Ok(Staged {
        temp: temp.into_temp_path(),
        dest,
        folder,
    })
}

fn io(what: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

fn refuse_link(path: &Path) -> Error {
    io(
        "refusing to follow a symbolic link:",
        path,
        std::io::Error::other("strixc writes only real files and folders under its own"),
    )
}

/// What `path` is, without following a link: `None` when it does not exist.
fn kind(path: &Path) -> Result<Option<std::fs::FileType>, Error> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(refuse_link(path)),
        Ok(meta) => Ok(Some(meta.file_type())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("cannot inspect", path, e)),
    }
}

/// The folders of `target` under its base, outermost first.
fn folders(target: &Target) -> impl Iterator<Item = PathBuf> + '_ {
    let parts: Vec<&str> = target.rel.split('/').collect();
    (1..parts.len()).map(move |n| target.base.join(parts[..n].join("/")))
}

/// Whether `folder` exists as a real folder (`false`: missing; anything else is an error).
fn is_folder(folder: &Path) -> Result<bool, Error> {
    match kind(folder)? {
        Some(k) if k.is_dir() => Ok(true),
        Some(_) => {
            let err = std::io::Error::from(std::io::ErrorKind::NotADirectory);
            Err(io("not a directory:", folder, err))
        }
        None => Ok(false),
    }
}

/// Whether every folder of `target` exists (and is real: an error otherwise).
fn folders_exist(target: &Target) -> Result<bool, Error> {
    for folder in folders(target) {
        if !is_folder(&folder)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The bytes at `target` (`None`: it does not exist).
pub fn read(target: &Target) -> Result<Option<Vec<u8>>, Error> {
    if !folders_exist(target)? {
        return Ok(None);
    }
    let path = target.path();
    match kind(&path)? {
        None => Ok(None),
        Some(k) if k.is_file() => std::fs::read(&path)
            .map(Some)
            .map_err(|source| Error::Read { path, source }),
        Some(_) => {
            let err = std::io::Error::other("it is not a regular file");
            Err(io("refusing to replace", &path, err))
        }
    }
}

/// `mkdir -p` where every folder created gets exactly `mode`, whatever the umask. For a
/// base folder (links on the way are followed: the caller named it).
pub fn create_dir_all(path: &Path, mode: u32) -> Result<(), Error> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(parent, mode)?;
    }
    create_dir(path, mode)
}

fn create_dir(path: &Path, mode: u32) -> Result<(), Error> {
    let failed = |source| io("cannot create directory", path, source);
    match std::fs::DirBuilder::new().mode(mode).create(path) {
        // The umask took bits away (or, for 0000, none): set them as meant.
        Ok(()) => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(failed)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(failed(e)),
    }
}

/// Creates the base and the folders of `target` (refusing links below the base); the
/// full path of the file.
pub fn create_parents(target: &Target) -> Result<PathBuf, Error> {
    create_dir_all(&target.base, DIR_MODE)?;
    for folder in folders(target) {
        if !is_folder(&folder)? {
            create_dir(&folder, DIR_MODE)?;
        }
    }
    Ok(target.path())
}

/// Writes `bytes` to `target` atomically and durably (see the module comment): one file,
/// flushed on its own.
pub fn write_atomic(target: &Target, bytes: &[u8]) -> Result<(), Error> {
    let staged = stage(target, bytes)?;
    std::fs::File::open(&staged.temp)
        .and_then(|f| f.sync_all())
        .map_err(|source| Error::Write {
            path: staged.dest.clone(),
            source,
        })?;
    let folder = staged.folder.clone();
    staged.place()?;
    sync_dir(&folder)
}

/// Flushes a folder's entries (a rename or removal in it) to disk.
pub fn sync_dir(folder: &Path) -> Result<(), Error> {
    std::fs::File::open(folder)
        .and_then(|f| f.sync_all())
        .map_err(|source| io("cannot flush", folder, source))
}

/// Removes the file at `target` (gone already: fine) and the folders it leaves empty below
/// the base.
pub fn remove_file(target: &Target) -> Result<(), Error> {
    if !folders_exist(target)? {
        return Ok(());
    }
    let path = target.path();
    if kind(&path)?.is_none() {
        return Ok(());
    }
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("cannot remove", &path, e)),
    }
    let mut folders: Vec<PathBuf> = folders(target).collect();
    while let Some(folder) = folders.last() {
        if std::fs::remove_dir(folder).is_err() {
            break;
        }
        folders.pop();
    }
    sync_dir(folders.last().unwrap_or(&target.base))
}

/// `old` → `new` as a unified diff with 3 lines of context, headed `--- old_name` and
/// `+++ new_name` (bytes that are not UTF-8 are shown replaced).
pub fn unified_diff(old_name: &str, new_name: &str, old: &[u8], new: &[u8]) -> String {
    let (old, new) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
    similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn bytes(s: &str) -> &[u8] {
        s.as_bytes()
    }

    #[test]
    fn plans_writes_removals_and_unchanged_then_executes_them() {
        let dir = tempfile::tempdir().unwrap();
        let at = |rel: &str| Target::new(dir.path().join("base"), rel);
        let first = plan(
            [("a", at("x/a"), bytes("1")), ("b", at("x/b"), bytes("1"))],
            [],
        )
        .unwrap();
        assert_eq!((first.writes.len(), first.removes.len()), (2, 0));
        execute(&first.writes, &first.removes, Flush::Never, || {}).unwrap();
        let owned = [("a".to_owned(), at("x/a")), ("b".to_owned(), at("x/b"))];
        let next = plan([("a", at("x/a"), bytes("1"))], owned.clone()).unwrap();
        assert_eq!(next.unchanged, 1);
        assert!(next.writes.is_empty());
        assert_eq!(next.removes.len(), 1);
        assert_eq!(next.removes[0].dest, dir.path().join("base/x/b"));
        execute(&next.writes, &next.removes, Flush::Never, || {}).unwrap();
        assert!(!dir.path().join("base/x/b").exists());
        // Removing the last file of a folder removes the folder, never the base.
        remove_file(&at("x/a")).unwrap();
        assert!(!dir.path().join("base/x").exists());
        assert!(dir.path().join("base").is_dir());
    }

    #[test]
    fn symbolic_links_are_refused_for_folders_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("f"), "precious").unwrap();
        std::os::unix::fs::symlink(&elsewhere, base.join("linked")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("f"), base.join("f")).unwrap();
        for rel in ["linked/f", "linked/new", "f"] {
            let target = Target::new(&base, rel);
            let path = base.join(rel.split('/').next().unwrap());
            for err in [
                write_atomic(&target, b"x").unwrap_err(),
                read(&target).unwrap_err(),
                remove_file(&target).unwrap_err(),
            ] {
                let text = err.to_string();
                assert!(text.contains("symbolic link"), "{text}");
                assert!(text.contains(&path.display().to_string()), "{text}");
            }
        }
        assert_eq!(
            std::fs::read_to_string(elsewhere.join("f")).unwrap(),
            "precious"
        );
        assert!(!elsewhere.join("new").exists());
    }

    #[test]
    fn modes_do_not_follow_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
        let made = write_atomic(&Target::new(dir.path().join("a"), "b/c/f"), b"x");
        nix::sys::stat::umask(old);
        made.unwrap();
        for (path, want) in [
            ("a", 0o755),
            ("a/b", 0o755),
            ("a/b/c", 0o755),
            ("a/b/c/f", 0o644),
        ] {
            let mode = std::fs::metadata(dir.path().join(path)).unwrap().mode() & 0o7777;
            assert_eq!(mode, want, "{path}: {mode:o}");
        }
    }

    #[test]
    fn unified_diff_has_three_lines_of_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = old.replace('5', "five");
        let diff = unified_diff("a/f", "b/f", old.as_bytes(), new.as_bytes());
        assert!(
            diff.starts_with("--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n"),
            "{diff}"
        );
    }
}
