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

use super::install::write_atomic;
use crate::error::Error;
use crate::manifest::MANIFEST_PATH;
use crate::tree::Tree;

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

    pub fn load_tree(&self) -> Result<Tree, Error> {
        let root = self.tree_dir();
        let mut tree = Tree::new();
        for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let entry = entry
                .map_err(|e| Error::Generation(format!("cannot read {}: {e}", root.display())))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(&root)
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
}

fn generations_dir(state: &Path) -> PathBuf {
    state.join("generations")
}

fn read_generation(dir: PathBuf) -> Option<Generation> {
    let text = std::fs::read(dir.join("generation.json")).ok()?;
    let mut generation: Generation = serde_json::from_slice(&text).ok()?;
    generation.dir = dir;
    Some(generation)
}

/// Every recorded generation, oldest first.
pub fn list(state: &Path) -> Result<Vec<Generation>, Error> {
    let dir = generations_dir(state);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Read { path: dir, source }),
    };
    let mut all: Vec<Generation> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u64>().is_ok())
        })
        .filter_map(|e| read_generation(e.path()))
        .collect();
    all.sort_by_key(|g| g.number);
    Ok(all)
}

/// The live generation's number (`STATE/current`).
pub fn current_number(state: &Path) -> Option<u64> {
    std::fs::read_to_string(state.join("current"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

pub fn current(state: &Path) -> Option<Generation> {
    let n = current_number(state)?;
    read_generation(generations_dir(state).join(n.to_string()))
}

pub fn set_current(state: &Path, number: u64) -> Result<(), Error> {
    write_atomic(&state.join("current"), format!("{number}\n").as_bytes())
}

/// Stores `tree` as a new generation (the next number) and makes it current.
pub fn record(state: &Path, tree: &Tree, profile: &str) -> Result<Generation, Error> {
    let number = list(state)?.last().map_or(1, |g| g.number + 1);
    let dir = generations_dir(state).join(number.to_string());
    let tmp = generations_dir(state).join(format!(".{number}.tmp"));
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { what, path, source }
    };
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io("cannot remove", &tmp))?;
    }
    for (path, bytes) in tree.iter() {
        let dest = tmp.join("tree").join(path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io("cannot create directory", parent))?;
        }
        std::fs::write(&dest, bytes).map_err(|source| Error::Write { path: dest, source })?;
    }
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let generation = Generation {
        number,
        profile: profile.to_string(),
        created,
        dir: dir.clone(),
    };
    let json = serde_json::to_vec_pretty(&generation).unwrap_or_default();
    let meta = tmp.join("generation.json");
    std::fs::create_dir_all(&tmp).map_err(io("cannot create directory", &tmp))?;
    std::fs::write(&meta, json).map_err(|source| Error::Write { path: meta, source })?;
    // The directory appears complete or not at all.
    std::fs::rename(&tmp, &dir).map_err(io("cannot rename to", &dir))?;
    set_current(state, number)?;
    prune(state, KEEP)?;
    Ok(generation)
}

/// How many generations are kept: enough to roll back several times, bounded so a state
/// directory of a machine applied daily does not grow forever (each holds its tree).
pub const KEEP: usize = 10;

/// Removes all but the newest `keep` generations; the current one is always kept.
fn prune(state: &Path, keep: usize) -> Result<(), Error> {
    let all = list(state)?;
    let current = current_number(state);
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

/// `YYYY-MM-DD HH:MM:SS` (UTC) for seconds since the epoch.
pub fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_lists_generations() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = Tree::new();
        tree.insert("manifest.json", "{}");
        tree.insert("systemd/a.service", "x");
        let g1 = record(dir.path(), &tree, "standard").unwrap();
        let g2 = record(dir.path(), &tree, "odin").unwrap();
        assert_eq!((g1.number, g2.number), (1, 2));
        assert_eq!(current_number(dir.path()), Some(2));
        assert_eq!(list(dir.path()).unwrap().len(), 2);
        assert_eq!(g1.load_tree().unwrap(), tree);
        assert_eq!(current(dir.path()).unwrap().profile, "odin");
        for _ in 0..KEEP {
            record(dir.path(), &tree, "standard").unwrap();
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

    #[test]
    fn formats_utc_time() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13:20");
    }
}
