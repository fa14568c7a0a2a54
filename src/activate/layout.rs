//! Where each file of the tree goes in user and system mode, under an optional `--root`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::tree::Tree;
use crate::tree::disk::Target;

/// `--user` or `--system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    User,
    System,
}

/// The directories of one mode, absolute, `--root` already applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub mode: Mode,
    /// `--root DIR` (`/` without it): nothing under a prefix is followed through a symbolic
    /// link (an image someone else prepared could point it anywhere).
    pub root: PathBuf,
    /// Quadlet's `.container` directory.
    pub quadlet_dir: PathBuf,
    /// The manager's unit directory.
    pub unit_dir: PathBuf,
    /// Generations, `current` and the lock.
    pub state_dir: PathBuf,
    /// Host tuning (installed in system mode; in user mode shown in the hint for root).
    pub sysctl_dir: PathBuf,
    pub modprobe_dir: PathBuf,
    pub earlyoom_file: PathBuf,
}

impl Layout {
    /// System mode: `/etc/containers/systemd`, `/etc/systemd/system`, `/var/lib/strixc`.
    pub fn system(root: &Path) -> Self {
        Self {
            mode: Mode::System,
            root: root.to_owned(),
            quadlet_dir: under(root, "/etc/containers/systemd"),
            unit_dir: under(root, "/etc/systemd/system"),
            state_dir: under(root, "/var/lib/strixc"),
            sysctl_dir: under(root, "/etc/sysctl.d"),
            modprobe_dir: under(root, "/etc/modprobe.d"),
            earlyoom_file: under(root, "/etc/default/earlyoom"),
        }
    }

    /// User mode from explicit base directories (`$XDG_CONFIG_HOME`, `$XDG_STATE_HOME`).
    pub fn user(root: &Path, config_home: &Path, state_home: &Path) -> Self {
        Self {
            mode: Mode::User,
            root: root.to_owned(),
            quadlet_dir: under(root, config_home).join("containers/systemd"),
            unit_dir: under(root, config_home).join("systemd/user"),
            state_dir: under(root, state_home).join("strixc"),
            ..Self::system(Path::new("/"))
        }
    }

    /// The file `name` in `dir`, one of this layout's folders: the folder is the target's
    /// base (taken as the system has it), or with `--root` the root is.
    pub fn target(&self, dir: &Path, name: &str) -> Target {
        match dir.strip_prefix(&self.root) {
            Ok(inside) if self.root != Path::new("/") && !inside.as_os_str().is_empty() => {
                Target::new(&self.root, format!("{}/{name}", inside.display()))
            }
            _ => Target::new(dir, name),
        }
    }

    /// User mode from the environment: `$XDG_CONFIG_HOME` (default `~/.config`) and
    /// `$XDG_STATE_HOME` (default `~/.local/state`).
    pub fn user_from_env(root: &Path) -> Result<Self, Error> {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| Error::Usage("--user needs $HOME to be set".into()))?;
        let base = |var: &str, default: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .unwrap_or_else(|| home.join(default))
        };
        Ok(Self::user(
            root,
            &base("XDG_CONFIG_HOME", ".config"),
            &base("XDG_STATE_HOME", ".local/state"),
        ))
    }
}

/// `root` + an absolute path.
fn under(root: &Path, path: impl AsRef<Path>) -> PathBuf {
    let path = path.as_ref();
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// What happens to one file of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A file name under one of the layout's folders.
    Install(Target),
    /// Host tuning in user mode: where root would put it.
    NeedsRoot(Option<PathBuf>),
    /// Not installed by `apply` in any mode (kernel arguments, OpenCode files, the manifest,
    /// which lives in the generation).
    Kept,
}

/// Unit files that only a system manager can use: `.swap` units and the services they
/// pull in (the swap file's creator).
pub fn host_units(tree: &Tree) -> BTreeSet<String> {
    let swaps: Vec<(&str, &[u8])> = tree
        .iter()
        .filter(|(p, _)| p.starts_with("systemd/") && p.ends_with(".swap"))
        .collect();
    let mut host: BTreeSet<String> = swaps.iter().map(|(p, _)| p.to_string()).collect();
    for (path, _) in tree.iter() {
        let Some(name) = path.strip_prefix("systemd/") else {
            continue;
        };
        if swaps
            .iter()
            .any(|(_, body)| String::from_utf8_lossy(body).contains(name))
        {
            host.insert(path.to_string());
        }
    }
    host
}

pub fn place(layout: &Layout, host_units: &BTreeSet<String>, path: &str) -> Placement {
    let system = layout.mode == Mode::System;
    let host = |target: Target| {
        if system {
            Placement::Install(target)
        } else {
            Placement::NeedsRoot(Some(target.path()))
        }
    };
    if let Some(name) = path.strip_prefix("containers/systemd/") {
        return Placement::Install(layout.target(&layout.quadlet_dir, name));
    }
    if let Some(name) = path.strip_prefix("systemd/") {
        if !system && host_units.contains(path) {
            return Placement::NeedsRoot(Some(Layout::system(Path::new("/")).unit_dir.join(name)));
        }
        return Placement::Install(layout.target(&layout.unit_dir, name));
    }
    if let Some(name) = path.strip_prefix("sysctl.d/") {
        return host(layout.target(&layout.sysctl_dir, name));
    }
    if let Some(name) = path.strip_prefix("modprobe.d/") {
        return host(layout.target(&layout.modprobe_dir, name));
    }
    if path == "earlyoom/earlyoom" {
        let file = &layout.earlyoom_file;
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("earlyoom");
        return host(layout.target(file.parent().unwrap_or(&layout.root), name));
    }
    if path.starts_with("kernel/") {
        return Placement::NeedsRoot(None);
    }
    Placement::Kept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where `path` is installed (`None`: it is not).
    fn installed_at(layout: &Layout, host: &BTreeSet<String>, path: &str) -> Option<PathBuf> {
        match place(layout, host, path) {
            Placement::Install(target) => Some(target.path()),
            _ => None,
        }
    }

    #[test]
    fn user_mode_installs_units_and_skips_host_tuning() {
        let layout = Layout::user(
            Path::new("/r"),
            Path::new("/h/.config"),
            Path::new("/h/.st"),
        );
        let mut tree = Tree::new();
        tree.insert(
            "systemd/swap.img.swap",
            "[Swap]\nRequires=s-mkswap.service\n",
        );
        tree.insert("systemd/s-mkswap.service", "x");
        let host = host_units(&tree);
        let at = |path| installed_at(&layout, &host, path);
        assert_eq!(
            at("containers/systemd/s-a.container"),
            Some("/r/h/.config/containers/systemd/s-a.container".into())
        );
        assert_eq!(
            at("systemd/s-p.target"),
            Some("/r/h/.config/systemd/user/s-p.target".into())
        );
        assert!(matches!(
            place(&layout, &host, "systemd/s-mkswap.service"),
            Placement::NeedsRoot(_)
        ));
        assert!(matches!(
            place(&layout, &host, "sysctl.d/90-s.conf"),
            Placement::NeedsRoot(_)
        ));
        assert_eq!(
            place(&layout, &host, "opencode/opencode.json"),
            Placement::Kept
        );
        assert_eq!(layout.state_dir, Path::new("/r/h/.st/strixc"));
    }

    #[test]
    fn system_mode_installs_host_tuning() {
        let layout = Layout::system(Path::new("/"));
        let at = |path| installed_at(&layout, &BTreeSet::new(), path);
        assert_eq!(
            at("earlyoom/earlyoom"),
            Some("/etc/default/earlyoom".into())
        );
        assert_eq!(
            at("modprobe.d/s.conf"),
            Some("/etc/modprobe.d/s.conf".into())
        );
    }
}
