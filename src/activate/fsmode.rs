//! The state folder's files and folders: fixed modes, whatever the umask, and never through
//! a link someone planted.
//!
//! - Folders (the state folder, generation trees, unit and quadlet folders): `0755`.
//!   systemd, quadlet and `strixc status --system` run by a non-root user read them; nobody
//!   but their owner may write there, because root installs a generation's tree again on
//!   rollback and reads `current` to decide what runs.
//! - Files (unit files, generation records, `current`, the journal, the lock): `0644`, for
//!   the same readers. Nothing strixc installs or records is secret: secrets reach agents
//!   through `LoadCredential=` from files strixc never copies.
//! - The state folder may sit where another user can write (`--root` of an image someone
//!   else prepared, a shared `$XDG_STATE_HOME`), so a state file is opened without
//!   following a symbolic link (`O_NOFOLLOW`), without truncating on open, not inherited by
//!   the processes strixc runs (`O_CLOEXEC`), and it must be a regular file with one link
//!   owned by whoever runs strixc: otherwise strixc refuses before writing a byte to it.
//!
//! Folders that already exist keep their mode: only what strixc creates is set.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::errno::Errno;

use crate::error::Error;
pub use crate::tree::disk::create_dir_all;

pub const STATE_DIR: u32 = 0o755;
pub const DIR: u32 = crate::tree::disk::DIR_MODE;
pub const FILE: u32 = crate::tree::disk::FILE_MODE;

/// `O_NOFOLLOW | O_CLOEXEC` (std sets `O_CLOEXEC` itself; said here so it stays).
pub(super) fn open_flags() -> i32 {
    (nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_CLOEXEC).bits()
}

/// Opens `path` for reading and writing (see the module comment), created with mode
/// [`FILE`] when missing; an existing one gets that mode too. `refusing` heads the error
/// when the file is not one strixc may use ("refusing to use the lock file").
pub fn open_state_file(path: &Path, refusing: &'static str) -> Result<File, Error> {
    let refuse = |why: String| Error::Io {
        what: refusing,
        path: path.to_path_buf(),
        source: std::io::Error::other(why),
    };
    let io = |what| {
        move |source| Error::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE)
        .custom_flags(open_flags())
        .open(path)
        .map_err(|source| match source.raw_os_error() {
            Some(errno) if errno == Errno::ELOOP as i32 => refuse("it is a symbolic link".into()),
            _ => io("cannot open")(source),
        })?;
    let meta = file.metadata().map_err(io("cannot inspect"))?;
    if !meta.file_type().is_file() {
        return Err(refuse("it is not a regular file".into()));
    }
    if meta.nlink() != 1 {
        let links = meta.nlink();
        return Err(refuse(format!(
            "it has {links} hard links (a state file has one)"
        )));
    }
    let me = nix::unistd::Uid::effective().as_raw();
    if meta.uid() != me {
        let owner = meta.uid();
        return Err(refuse(format!(
            "it belongs to uid {owner}, not to uid {me} who runs strixc"
        )));
    }
    file.set_permissions(std::fs::Permissions::from_mode(FILE))
        .map_err(io("cannot set the mode of"))?;
    Ok(file)
}

/// Creates or replaces `path` with `bytes` (not atomic: for files inside a folder that is
/// renamed into place afterwards).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut file = open_state_file(path, "refusing to write the state file")?;
    file.set_len(0)
        .and_then(|()| file.write_all(bytes))
        .map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
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

    #[test]
    fn a_state_file_is_replaced_whole_and_never_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        write_file(&file, b"longer text").unwrap();
        write_file(&file, b"short").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "short");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("link")).unwrap();
        let err = write_file(&dir.path().join("link"), b"x").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
