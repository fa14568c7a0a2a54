//! Installing a tree: compare with what is on disk, write only what differs (atomically),
//! and remove only files the previous generation installed that the new one does not.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::fsmode;
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
    for (i, write) in plan.writes.iter().enumerate() {
        write_atomic(&write.dest, &write.new)?;
        if i == 0 {
            super::kill_point("installing");
        }
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
    fsmode::create_dir_all(dir, fsmode::DIR)?;
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

/// `--root`: the boot links `systemctl enable` makes from the default profile's target's
/// `[Install]` section (`WantedBy=` → `UNIT_DIR/X.wants/T`, `RequiredBy=` →
/// `UNIT_DIR/X.requires/T`), since there is no manager to ask. Links are relative
/// (`../T`), so they are right both inside the image and seen from outside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootLinks {
    /// (link, what it points to)
    pub create: Vec<(PathBuf, PathBuf)>,
    pub remove: Vec<PathBuf>,
}

impl BootLinks {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.remove.is_empty()
    }

    pub fn execute(&self) -> Result<(), Error> {
        for link in &self.remove {
            match std::fs::remove_file(link) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(Error::Io {
                        what: "cannot remove",
                        path: link.clone(),
                        source,
                    });
                }
            }
        }
        for (link, to) in &self.create {
            if let Some(dir) = link.parent() {
                fsmode::create_dir_all(dir, fsmode::DIR)?;
            }
            let _ = std::fs::remove_file(link);
            std::os::unix::fs::symlink(to, link).map_err(|source| Error::Io {
                what: "cannot create the boot link",
                path: link.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// The links of the default target of `tree` (none when it has no manifest, no default
/// target or no `[Install]` section).
fn install_links(layout: &Layout, tree: &Tree) -> BTreeSet<(PathBuf, PathBuf)> {
    let Ok(manifest) = super::manifest_of(tree) else {
        return BTreeSet::new();
    };
    let (Some(target), _) = super::units::boot_targets(tree, &manifest, None) else {
        return BTreeSet::new();
    };
    let Some(body) = tree.get(&format!("systemd/{target}")) else {
        return BTreeSet::new();
    };
    let mut links = BTreeSet::new();
    let mut in_install = false;
    for line in String::from_utf8_lossy(body).lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_install = line == "[Install]";
            continue;
        }
        let Some((key, value)) = line.split_once('=').filter(|_| in_install) else {
            continue;
        };
        let suffix = match key.trim() {
            "WantedBy" => "wants",
            "RequiredBy" => "requires",
            _ => continue,
        };
        for by in value.split_whitespace() {
            links.insert((
                layout.unit_dir.join(format!("{by}.{suffix}")).join(&target),
                PathBuf::from("..").join(&target),
            ));
        }
    }
    links
}

/// What makes the boot links of `new` current over those `old` made.
pub fn boot_links(layout: &Layout, new: &Tree, old: Option<&Tree>) -> BootLinks {
    let want = install_links(layout, new);
    let had = old.map(|t| install_links(layout, t)).unwrap_or_default();
    let wanted: BTreeSet<&PathBuf> = want.iter().map(|(link, _)| link).collect();
    BootLinks {
        create: want
            .iter()
            .filter(|(link, to)| std::fs::read_link(link).ok().as_ref() != Some(to))
            .cloned()
            .collect(),
        remove: had
            .into_iter()
            .map(|(link, _)| link)
            .filter(|link| !wanted.contains(link))
            .filter(|link| {
                link.symlink_metadata()
                    .is_ok_and(|m| m.file_type().is_symlink())
            })
            .collect(),
    }
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
