//! Installing a tree: compare with what is on disk, write only what differs (atomically),
//! and remove only files the previous generation installed that the new one does not.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::layout::{Layout, Placement, host_units, place};
use crate::error::Error;
use crate::tree::Tree;

/// One file to write: `old` is what is there now (`None`: it does not exist).
#[derive(Debug, Clone)]
pub struct FileWrite {
    pub tree_path: String,
    pub dest: PathBuf,
    pub old: Option<Vec<u8>>,
    pub new: Vec<u8>,
}

/// One file to remove, with its current contents (for diffs).
#[derive(Debug, Clone)]
pub struct FileRemove {
    pub tree_path: String,
    pub dest: PathBuf,
    pub old: Vec<u8>,
}

/// A file of the tree `apply` did not install in this mode.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub tree_path: String,
    /// Where root would install it; `None` for the kernel command line.
    pub dest: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct InstallPlan {
    pub writes: Vec<FileWrite>,
    pub removes: Vec<FileRemove>,
    pub skipped: Vec<Skipped>,
}

impl InstallPlan {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.removes.is_empty()
    }

    /// Tree paths whose installed bytes change (written or removed).
    pub fn changed_paths(&self) -> BTreeSet<&str> {
        self.writes
            .iter()
            .map(|w| w.tree_path.as_str())
            .chain(self.removes.iter().map(|r| r.tree_path.as_str()))
            .collect()
    }
}

fn read_existing(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The installed destinations of a tree in this layout.
fn destinations(layout: &Layout, tree: &Tree) -> Vec<(String, PathBuf)> {
    let host = host_units(tree);
    tree.paths()
        .filter_map(|p| match place(layout, &host, p) {
            Placement::Install(dest) => Some((p.to_string(), dest)),
            _ => None,
        })
        .collect()
}

/// What installing `new` over the disk (installed by `old`, the current generation) takes.
pub fn plan(layout: &Layout, new: &Tree, old: Option<&Tree>) -> Result<InstallPlan, Error> {
    let host = host_units(new);
    let mut plan = InstallPlan::default();
    let mut installed = BTreeSet::new();
    for (path, bytes) in new.iter() {
        match place(layout, &host, path) {
            Placement::Install(dest) => {
                let old = read_existing(&dest)?;
                if old.as_deref() != Some(bytes) {
                    plan.writes.push(FileWrite {
                        tree_path: path.to_string(),
                        dest: dest.clone(),
                        old,
                        new: bytes.to_vec(),
                    });
                }
                installed.insert(dest);
            }
            Placement::NeedsRoot(dest) => plan.skipped.push(Skipped {
                tree_path: path.to_string(),
                dest,
            }),
            Placement::Kept => {}
        }
    }
    if let Some(old) = old {
        for (tree_path, dest) in destinations(layout, old) {
            if installed.contains(&dest) {
                continue;
            }
            if let Some(bytes) = read_existing(&dest)? {
                plan.removes.push(FileRemove {
                    tree_path,
                    dest,
                    old: bytes,
                });
            }
        }
    }
    Ok(plan)
}

/// Writes and removes; each write is a temporary file in the same directory renamed over
/// the destination, so a reader (systemd, quadlet) never sees half a file.
pub fn execute(plan: &InstallPlan) -> Result<(), Error> {
    for write in &plan.writes {
        write_atomic(&write.dest, &write.new)?;
    }
    for remove in &plan.removes {
        match std::fs::remove_file(&remove.dest) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Io {
                    what: "cannot remove",
                    path: remove.dest.clone(),
                    source,
                });
            }
        }
    }
    Ok(())
}

pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), Error> {
    let write_err = |source| Error::Write {
        path: dest.to_path_buf(),
        source,
    };
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        what: "cannot create directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".strixc-")
        .tempfile_in(dir)
        .map_err(write_err)?;
    tmp.write_all(bytes).map_err(write_err)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(dest).map_err(|e| write_err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Tree {
        let mut t = Tree::new();
        for (p, b) in files {
            t.insert(*p, *b);
        }
        t
    }

    #[test]
    fn writes_only_differences_and_prunes_only_owned_files() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::user(dir.path(), Path::new("/c"), Path::new("/s"));
        let old = tree(&[("systemd/a.service", "1"), ("systemd/b.service", "1")]);
        execute(&plan(&layout, &old, None).unwrap()).unwrap();
        // A file strixc never installed stays.
        write_atomic(&layout.unit_dir.join("mine.service"), b"x").unwrap();
        let new = tree(&[("systemd/a.service", "1"), ("systemd/c.service", "2")]);
        let p = plan(&layout, &new, Some(&old)).unwrap();
        assert_eq!(p.writes.len(), 1);
        assert_eq!(p.writes[0].tree_path, "systemd/c.service");
        assert_eq!(p.removes.len(), 1);
        assert_eq!(p.removes[0].tree_path, "systemd/b.service");
        execute(&p).unwrap();
        assert!(layout.unit_dir.join("mine.service").exists());
        assert!(!layout.unit_dir.join("b.service").exists());
        assert!(plan(&layout, &new, Some(&new)).unwrap().is_empty());
    }
}
