//! Generations in the state directory:
//!
//! ```text
//! STATE/lock                          the apply lock (flock)
//! STATE/current                       number of the live generation
//! STATE/generations/N/generation.json {number, profile, created}
//! STATE/generations/N/tree/...        the tree as built (manifest.json included)
//! ```
//!
//! The time lives only here, never in generated files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fsmode;
use crate::error::Error;
use crate::tree::Tree;
use crate::tree::manifest::{MANIFEST_PATH, Manifest};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    pub number: u64,
    pub profile: String,
    /// Seconds since the Unix epoch.
    pub created: u64,
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Generation {
    pub fn tree_dir(&self) -> PathBuf {
        self.dir.join("tree")
    }

    /// The stored `manifest.json`, byte for byte (the cheap "same tree?" test: it holds
    /// every file's hash).
    pub fn manifest_bytes(&self) -> Option<Vec<u8>> {
        std::fs::read(self.tree_dir().join(MANIFEST_PATH)).ok()
    }

    /// The stored manifest, parsed. It alone says which units this generation runs, so an
    /// unreadable or damaged one is an error naming its file, never "no units".
    pub fn manifest(&self) -> Result<Manifest, Error> {
        let path = self.tree_dir().join(MANIFEST_PATH);
        let bytes = std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::NoManifest { path: path.clone() },
            _ => Error::Io {
                what: "cannot read",
                path: path.clone(),
                source,
            },
        });
        bytes
            .and_then(|bytes| Manifest::parse(&bytes, &path))
            .map_err(|why| self.damaged_manifest(why))
    }

    fn damaged_manifest(&self, why: Error) -> Error {
        let n = self.number;
        Error::Generation(format!(
            "the manifest of generation {n} is damaged: {why}\n  help: nothing was changed; \
             without it strixc cannot tell which units generation {n} runs, so it will not \
             switch to or away from it. Put a good copy there (`strixc build` of the stack it \
             was built from writes it as generated/manifest.json), or move {} out of the \
             generations folder; if it is the current generation, first stop that stack's \
             agents yourself (they all run in the stack's slice: `systemctl stop STACK.slice`), \
             and afterwards remove the file `current` beside that folder",
            self.dir.display(),
        ))
    }

    pub fn load_tree(&self) -> Result<Tree, Error> {
        load_tree_from(&self.tree_dir())
    }
}

pub(super) fn generations_dir(state: &Path) -> PathBuf {
    state.join("generations")
}

/// What to do about a damaged state folder (the help line of every corruption error).
const MOVE_IT_AWAY: &str = "nothing was changed; move the folder out of the generations \
                            folder (or delete it) and run the command again";

fn corrupt(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Generation(format!(
        "the generation record {} is damaged: {why}\n  help: {MOVE_IT_AWAY}",
        path.display()
    ))
}

/// Reads `dir/generation.json`, which must name the same number as the folder.
fn read_generation(dir: PathBuf, number: u64) -> Result<Generation, Error> {
    let meta = dir.join("generation.json");
    let text = std::fs::read(&meta).map_err(|e| corrupt(&meta, e))?;
    let mut generation: Generation =
        serde_json::from_slice(&text).map_err(|e| corrupt(&meta, e))?;
    if generation.number != number {
        return Err(corrupt(
            &meta,
            format_args!(
                "it says generation {} but its folder is {number}",
                generation.number
            ),
        ));
    }
    if !dir.join("tree").is_dir() {
        return Err(corrupt(&dir, "it has no tree folder"));
    }
    generation.dir = dir;
    Ok(generation)
}

/// Every recorded generation, oldest first. A folder named by a number must hold a
/// readable record of that number: anything else is an error naming its path, so a damaged
/// state folder stops strixc before it changes anything. Hidden folders (`.N.tmp`, left by
/// a record that was interrupted) and other names are not generations.
pub fn list(state: &Path) -> Result<Vec<Generation>, Error> {
    let dir = generations_dir(state);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Read { path: dir, source }),
    };
    let mut all = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Read {
            path: dir.clone(),
            source,
        })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let number = name.parse::<u64>().map_err(|e| {
            corrupt(
                &entry.path(),
                format_args!("{name} is not a generation number: {e}"),
            )
        })?;
        if name != number.to_string() {
            return Err(corrupt(
                &entry.path(),
                format_args!("{name} is not written as strixc writes numbers ({number})"),
            ));
        }
        all.push(read_generation(entry.path(), number)?);
    }
    all.sort_by_key(|g| g.number);
    Ok(all)
}

/// The number a new generation gets: one more than the highest recorded, checked (a record
/// numbered `u64::MAX` leaves none, it never wraps to 0).
pub fn next_number(state: &Path) -> Result<u64, Error> {
    let all = list(state)?;
    let Some(last) = all.last() else {
        return Ok(1);
    };
    last.number.checked_add(1).ok_or_else(|| {
        Error::Generation(format!(
            "generation {} in {} is the highest number there can be: no number is left \
             for a new one\n  help: {MOVE_IT_AWAY}",
            last.number,
            generations_dir(state).display()
        ))
    })
}

/// The live generation's number (`STATE/current`): `None` when nothing was applied; an
/// error naming the file when it cannot be read or holds no number.
pub fn current_number(state: &Path) -> Result<Option<u64>, Error> {
    let path = state.join("current");
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map(Some).map_err(|_| {
            corrupt(
                &path,
                format_args!("{:?} is not a generation number", text.trim()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(corrupt(&path, e)),
    }
}

/// The live generation: `None` when nothing was applied; an error naming the path when
/// `current` names a generation that is missing or damaged.
pub fn current(state: &Path) -> Result<Option<Generation>, Error> {
    let Some(n) = current_number(state)? else {
        return Ok(None);
    };
    let dir = generations_dir(state).join(n.to_string());
    if !dir.exists() {
        return Err(corrupt(
            &state.join("current"),
            format_args!(
                "it names generation {n}, but {} does not exist",
                dir.display()
            ),
        ));
    }
    read_generation(dir, n).map(Some)
}

/// Checks the whole state folder before anything changes: `current`, every record, and the
/// current generation's manifest.
pub fn check(state: &Path) -> Result<(), Error> {
    list(state)?;
    if let Some(current) = current(state)? {
        current.manifest()?;
    }
    Ok(())
}

pub fn set_current(state: &Path, number: u64) -> Result<(), Error> {
    let current = crate::tree::disk::Target::new(state, "current");
    crate::tree::disk::write_atomic(&current, format!("{number}\n").as_bytes())
}

/// Seconds since the epoch (0 before it): when a generation or a switch began.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Stores `tree` as generation `number` (the switch took it from [`next_number`] before it
/// began) and makes it current.
pub fn record(state: &Path, number: u64, tree: &Tree, profile: &str) -> Result<Generation, Error> {
    let dir = generations_dir(state).join(number.to_string());
    let tmp = generations_dir(state).join(format!(".{number}.tmp"));
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { what, path, source }
    };
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io("cannot remove", &tmp))?;
    }
    if dir.exists() {
        // Not a record (list() would have said so): never merge into it.
        return Err(corrupt(&dir, "it exists but is not a generation record"));
    }
    store_tree(&tmp.join("tree"), tree)?;
    let created = now_secs();
    let generation = Generation {
        number,
        profile: profile.to_string(),
        created,
        dir: dir.clone(),
    };
    let json = serde_json::to_vec_pretty(&generation).unwrap_or_default();
    fsmode::create_dir_all(&tmp, fsmode::DIR)?;
    fsmode::write_file(&tmp.join("generation.json"), &json)?;
    // The directory appears complete or not at all.
    std::fs::rename(&tmp, &dir).map_err(io("cannot rename to", &dir))?;
    super::kill_point("stored");
    set_current(state, number)?;
    prune(state, KEEP)?;
    Ok(generation)
}

/// Removes generation `number` unless it is current (a record of a switch that was undone
/// before it became current).
pub fn discard(state: &Path, number: u64) -> Result<(), Error> {
    if current_number(state)? == Some(number) {
        return Ok(());
    }
    let dir = generations_dir(state).join(number.to_string());
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            what: "cannot remove",
            path: dir,
            source,
        }),
    }
}

/// Writes every file of `tree` under `root` (folders 0755, files 0644, whatever the umask).
pub(super) fn store_tree(root: &Path, tree: &Tree) -> Result<(), Error> {
    fsmode::create_dir_all(root, fsmode::DIR)?;
    for (path, bytes) in tree.iter() {
        let dest = root.join(path);
        if let Some(parent) = dest.parent() {
            fsmode::create_dir_all(parent, fsmode::DIR)?;
        }
        fsmode::write_file(&dest, bytes)?;
    }
    Ok(())
}

/// Reads back a tree written by [`store_tree`].
pub(super) fn load_tree_from(root: &Path) -> Result<Tree, Error> {
    let mut tree = Tree::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry =
            entry.map_err(|e| Error::Generation(format!("cannot read {}: {e}", root.display())))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .ok()
            .and_then(Path::to_str)
            .filter(|p| crate::tree::is_safe_relative(p))
            .ok_or_else(|| {
                Error::Generation(format!("unexpected file {}", entry.path().display()))
            })?
            .to_string();
        let bytes = std::fs::read(entry.path()).map_err(|source| Error::Read {
            path: entry.path().to_path_buf(),
            source,
        })?;
        tree.insert(rel, bytes);
    }
    Ok(tree)
}

/// How many generations are kept: enough to roll back several times, bounded so a state
/// directory of a machine applied daily does not grow forever (each holds its tree).
pub const KEEP: usize = 10;

/// Removes all but the newest `keep` generations; the current one is always kept.
fn prune(state: &Path, keep: usize) -> Result<(), Error> {
    let all = list(state)?;
    let current = current_number(state)?;
    let excess = all.len().saturating_sub(keep);
    for generation in all.iter().take(excess) {
        if Some(generation.number) == current {
            continue;
        }
        std::fs::remove_dir_all(&generation.dir).map_err(|source| Error::Io {
            what: "cannot remove old generation",
            path: generation.dir.clone(),
            source,
        })?;
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for seconds since the epoch (RFC 3339 with a space, no
/// zone letter); past the year 9999, which RFC 3339 cannot write, `@SECONDS`.
pub fn format_time(secs: u64) -> String {
    use std::fmt::Write as _;
    let time = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs));
    let mut rfc3339 = String::new();
    match time.map(|t| write!(rfc3339, "{}", humantime::format_rfc3339_seconds(t))) {
        Some(Ok(())) => rfc3339.trim_end_matches('Z').replacen('T', " ", 1),
        _ => format!("@{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a switch does: the next number, then the record.
    fn record_next(state: &Path, tree: &Tree, profile: &str) -> Result<Generation, Error> {
        record(state, next_number(state)?, tree, profile)
    }

    #[test]
    fn records_and_lists_generations() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = Tree::new();
        tree.insert("manifest.json", "{}");
        tree.insert("systemd/a.service", "x");
        let g1 = record_next(dir.path(), &tree, "standard").unwrap();
        let g2 = record_next(dir.path(), &tree, "odin").unwrap();
        assert_eq!((g1.number, g2.number), (1, 2));
        assert_eq!(current_number(dir.path()).unwrap(), Some(2));
        assert_eq!(list(dir.path()).unwrap().len(), 2);
        assert_eq!(g1.load_tree().unwrap(), tree);
        assert_eq!(current(dir.path()).unwrap().unwrap().profile, "odin");
        for _ in 0..KEEP {
            record_next(dir.path(), &tree, "standard").unwrap();
        }
        let numbers: Vec<u64> = list(dir.path()).unwrap().iter().map(|g| g.number).collect();
        assert_eq!(
            numbers,
            (3..=12).collect::<Vec<u64>>(),
            "the newest {KEEP} are kept"
        );
        set_current(dir.path(), 3).unwrap();
        prune(dir.path(), 1).unwrap();
        let numbers: Vec<u64> = list(dir.path()).unwrap().iter().map(|g| g.number).collect();
        assert_eq!(numbers, [3, 12], "the current generation survives pruning");
    }

    fn tree() -> Tree {
        let mut tree = Tree::new();
        tree.insert("manifest.json", "{}");
        tree
    }

    fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
        result.expect_err("an error").to_string()
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_its_path() {
        let dir = tempfile::tempdir().unwrap();
        record_next(dir.path(), &tree(), "standard").unwrap();
        record_next(dir.path(), &tree(), "standard").unwrap();
        let meta = dir.path().join("generations/1/generation.json");
        for bad in [
            "{not json",
            r#"{"number": 7, "profile": "p", "created": 0}"#,
        ] {
            std::fs::write(&meta, bad).unwrap();
            for text in [
                message(list(dir.path())),
                message(check(dir.path())),
                message(next_number(dir.path())),
                message(record_next(dir.path(), &tree(), "x")),
            ] {
                assert!(text.contains(&meta.display().to_string()), "{text}");
                assert!(text.contains("damaged"), "{text}");
            }
        }
        // Nothing was recorded by the refused record().
        assert!(!dir.path().join("generations/3").exists());
        std::fs::remove_file(&meta).unwrap();
        assert!(message(list(dir.path())).contains("generation.json"));
        // `current` holding garbage, or naming a missing generation.
        std::fs::remove_dir_all(dir.path().join("generations/1")).unwrap();
        std::fs::write(dir.path().join("current"), "two\n").unwrap();
        assert!(message(current(dir.path())).contains("current"));
        std::fs::write(dir.path().join("current"), "9\n").unwrap();
        let text = message(current(dir.path()));
        assert!(
            text.contains("generation 9") && text.contains("current"),
            "{text}"
        );
    }

    #[test]
    fn numbering_follows_the_records_and_never_wraps() {
        let dir = tempfile::tempdir().unwrap();
        let generations = dir.path().join("generations");
        // Not generations: hidden leftovers and other names.
        std::fs::create_dir_all(generations.join(".4.tmp")).unwrap();
        std::fs::create_dir_all(generations.join("notes")).unwrap();
        assert_eq!(next_number(dir.path()).unwrap(), 1);
        // A number folder that is not a record is damage, not a number to follow.
        let max = generations.join(u64::MAX.to_string());
        std::fs::create_dir_all(&max).unwrap();
        let text = message(next_number(dir.path()));
        assert!(text.contains(&max.display().to_string()), "{text}");
        std::fs::remove_dir_all(&max).unwrap();
        // A real record numbered u64::MAX leaves no number: an error, not 0.
        let g = record_next(dir.path(), &tree(), "p").unwrap();
        assert_eq!(g.number, 1);
        std::fs::rename(g.dir, &max).unwrap();
        let meta = max.join("generation.json");
        let json = std::fs::read_to_string(&meta)
            .unwrap()
            .replace("\"number\": 1", &format!("\"number\": {}", u64::MAX));
        std::fs::write(&meta, json).unwrap();
        assert_eq!(list(dir.path()).unwrap().last().unwrap().number, u64::MAX);
        let text = message(next_number(dir.path()));
        assert!(text.contains("no number is left"), "{text}");
        assert!(message(record_next(dir.path(), &tree(), "p")).contains("no number is left"));
        assert!(!generations.join("0").exists());
    }

    #[test]
    fn formats_utc_time() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(format_time(253_402_300_799), "9999-12-31 23:59:59");
        assert_eq!(format_time(u64::MAX), format!("@{}", u64::MAX));
    }
}
