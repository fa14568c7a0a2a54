//! Folders and files `apply` creates get fixed modes, whatever the umask says.
//!
//! - Folders (the state folder, generation trees, unit and quadlet folders): `0755`.
//!   systemd, quadlet and `strixc status --system` run by a non-root user read them; nobody
//!   but their owner may write there, because root installs a generation's tree again on
//!   rollback and reads `current` to decide what runs.
//! - Files (unit files, generation records, `current`, the journal, the lock): `0644`, for
//!   the same readers. Nothing strixc installs or records is secret: secrets reach agents
//!   through `LoadCredential=` from files strixc never copies.
//!
//! Folders that already exist keep their mode: only what strixc creates is set.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::Error;

pub const STATE_DIR: u32 = 0o755;
pub const DIR: u32 = 0o755;
pub const FILE: u32 = 0o644;

/// `mkdir -p` where every folder created gets exactly `mode`.
pub fn create_dir_all(path: &Path, mode: u32) -> Result<(), Error> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(parent, mode)?;
    }
    let io = |source| Error::Io {
        what: "cannot create directory",
        path: path.to_path_buf(),
        source,
    };
    match std::fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => {
            // The umask took bits away (or, for 0000, none): set them as meant.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(io(e)),
    }
}

/// Creates or replaces `path` with `bytes`, mode [`FILE`] (not atomic: for files inside a
/// folder that is renamed into place afterwards).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE)
        .open(path)
        .map_err(err)?;
    file.set_permissions(std::fs::Permissions::from_mode(FILE))
        .map_err(err)?;
    file.write_all(bytes).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn modes_do_not_follow_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o000));
        let made = create_dir_all(&deep, DIR).and_then(|()| write_file(&deep.join("f"), b"x"));
        nix::sys::stat::umask(old);
        made.unwrap();
        for d in ["a", "a/b", "a/b/c"] {
            let mode = std::fs::metadata(dir.path().join(d)).unwrap().mode() & 0o7777;
            assert_eq!(mode, 0o755, "{d}: {mode:o}");
        }
        let mode = std::fs::metadata(deep.join("f")).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o644, "{mode:o}");
    }
}
