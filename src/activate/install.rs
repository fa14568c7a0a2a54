//! Installing a tree with the disk engine (`tree::disk`): compare with what is on disk,
//! write only what differs (atomically), and remove only files the previous generation
//! installed that the new one does not. The layout maps tree paths to the mode's folders.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::layout::{Layout, Placement, host_units, place};
use crate::error::Error;
use crate::tree::Tree;
use crate::tree::disk::{self, DiskPlan, Target};
use crate::tree::manifest::Manifest;

/// A file of the tree `apply` did not install in this mode.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub tree_path: String,
    /// Where root would install it; `None` for the kernel command line.
    pub dest: Option<PathBuf>,
}

/// The disk engine's writes and removes, and the files this mode leaves to root.
#[derive(Debug, Clone, Default)]
pub struct InstallPlan {
    pub disk: DiskPlan,
    pub skipped: Vec<Skipped>,
}

impl InstallPlan {
    pub fn is_empty(&self) -> bool {
        self.disk.writes.is_empty() && self.disk.removes.is_empty()
    }

    /// Tree paths whose installed bytes change (written or removed).
    pub fn changed_paths(&self) -> BTreeSet<&str> {
        self.disk
            .writes
            .iter()
            .map(|w| w.tree_path.as_str())
            .chain(self.disk.removes.iter().map(|r| r.tree_path.as_str()))
            .collect()
    }

    /// Where the files it writes go.
    pub fn written(&self) -> Vec<PathBuf> {
        self.disk.writes.iter().map(|w| w.dest.clone()).collect()
    }

    /// Where the files it removes are.
    pub fn removed(&self) -> Vec<PathBuf> {
        self.disk.removes.iter().map(|r| r.dest.clone()).collect()
    }
}

/// The installed targets of a tree in this layout.
fn targets(layout: &Layout, tree: &Tree) -> Vec<(String, Target)> {
    let host = host_units(tree);
    tree.paths()
        .filter_map(|p| match place(layout, &host, p) {
            Placement::Install(target) => Some((p.to_string(), target)),
            _ => None,
        })
        .collect()
}

/// What installing `new` over the disk (installed by `old`, the current generation) takes.
pub fn plan(layout: &Layout, new: &Tree, old: Option<&Tree>) -> Result<InstallPlan, Error> {
    let host = host_units(new);
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for (path, bytes) in new.iter() {
        match place(layout, &host, path) {
            Placement::Install(target) => files.push((path, target, bytes)),
            Placement::NeedsRoot(dest) => skipped.push(Skipped {
                tree_path: path.to_string(),
                dest,
            }),
            Placement::Kept => {}
        }
    }
    let owned = old.map(|old| targets(layout, old)).unwrap_or_default();
    let disk = disk::plan(files, owned)?;
    Ok(InstallPlan { disk, skipped })
}

/// Writes and removes (see `tree::disk`): a reader (systemd, quadlet) never sees half a
/// file.
pub fn execute(plan: &InstallPlan) -> Result<(), Error> {
    disk::execute(
        &plan.disk.writes,
        &plan.disk.removes,
        disk::Flush::EachFile,
        || {
            super::kill_point("installing");
        },
    )
}

/// `--root`: the boot links `systemctl enable` makes from the default profile's target's
/// `[Install]` section (`WantedBy=` → `UNIT_DIR/X.wants/T`, `RequiredBy=` →
/// `UNIT_DIR/X.requires/T`), since there is no manager to ask. Links are relative
/// (`../T`), so they are right both inside the image and seen from outside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootLinks {
    /// (link, what it points to)
    pub create: Vec<(Target, PathBuf)>,
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
            disk::create_parents(link)?;
            let link = link.path();
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(to, &link).map_err(|source| Error::Io {
                what: "cannot create the boot link",
                path: link,
                source,
            })?;
        }
        Ok(())
    }
}

/// The links of the default target of `tree` (none when it has no manifest, no default
/// target or no `[Install]` section).
fn install_links(layout: &Layout, tree: &Tree) -> BTreeSet<(Target, PathBuf)> {
    let Ok(manifest) = Manifest::of_tree(tree) else {
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
            let link = format!("{by}.{suffix}/{target}");
            if crate::tree::is_safe_relative(&link) {
                links.insert((
                    layout.target(&layout.unit_dir, &link),
                    PathBuf::from("..").join(&target),
                ));
            }
        }
    }
    links
}

/// What makes the boot links of `new` current over those `old` made.
pub fn boot_links(layout: &Layout, new: &Tree, old: Option<&Tree>) -> BootLinks {
    let want = install_links(layout, new);
    let had = old.map(|t| install_links(layout, t)).unwrap_or_default();
    let wanted: BTreeSet<&Target> = want.iter().map(|(link, _)| link).collect();
    BootLinks {
        remove: had
            .iter()
            .filter(|(link, _)| !wanted.contains(link))
            .map(|(link, _)| link.path())
            .filter(|link| {
                link.symlink_metadata()
                    .is_ok_and(|m| m.file_type().is_symlink())
            })
            .collect(),
        create: want
            .into_iter()
            .filter(|(link, to)| std::fs::read_link(link.path()).ok().as_ref() != Some(to))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
        std::fs::write(layout.unit_dir.join("mine.service"), b"x").unwrap();
        let new = tree(&[("systemd/a.service", "1"), ("systemd/c.service", "2")]);
        let p = plan(&layout, &new, Some(&old)).unwrap();
        assert_eq!(p.disk.writes.len(), 1);
        assert_eq!(p.disk.writes[0].tree_path, "systemd/c.service");
        assert_eq!(p.disk.removes.len(), 1);
        assert_eq!(p.disk.removes[0].tree_path, "systemd/b.service");
        execute(&p).unwrap();
        assert!(layout.unit_dir.join("mine.service").exists());
        assert!(!layout.unit_dir.join("b.service").exists());
        assert!(plan(&layout, &new, Some(&new)).unwrap().is_empty());
    }

    #[test]
    fn a_symlinked_folder_or_file_under_the_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(root.join("c")).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        // `--root`: the image's unit folder points out of it.
        std::os::unix::fs::symlink(&elsewhere, root.join("c/systemd")).unwrap();
        let layout = Layout::user(&root, Path::new("/c"), Path::new("/s"));
        let new = tree(&[("systemd/a.service", "1")]);
        let err = plan(&layout, &new, None).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(
            err.contains(&root.join("c/systemd").display().to_string()),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        // A unit file that is a link is not written through either.
        std::fs::remove_file(root.join("c/systemd")).unwrap();
        std::fs::create_dir_all(&layout.unit_dir).unwrap();
        std::fs::write(elsewhere.join("victim"), "precious").unwrap();
        let link = layout.unit_dir.join("a.service");
        std::os::unix::fs::symlink(elsewhere.join("victim"), &link).unwrap();
        let err = plan(&layout, &new, None).unwrap_err().to_string();
        assert!(err.contains(&link.display().to_string()), "{err}");
        assert_eq!(
            std::fs::read_to_string(elsewhere.join("victim")).unwrap(),
            "precious"
        );
    }
}
