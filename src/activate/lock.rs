//! The apply lock: `STATE/lock` held with `flock(LOCK_EX)` for the whole of an apply,
//! rollback or switch, so two never interleave. The kernel drops it when the process dies.
//!
//! Policy: try without blocking; if another strixc holds it, either wait (saying so on
//! stderr, the default) or fail at once with `Error::Locked` (exit 3) when `no_wait`.
//!
//! It is a state file (`fsmode::open_state_file`): opened without following a symbolic
//! link, never truncated on open, not inherited, and refused unless it is a regular file
//! with one link owned by whoever runs strixc.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::fsmode;
use crate::error::Error;

pub struct ApplyLock {
    _lock: Flock<File>,
}

pub fn acquire(state: &Path, no_wait: bool, quiet: bool) -> Result<ApplyLock, Error> {
    fsmode::create_dir_all(state, fsmode::STATE_DIR)?;
    let path = state.join("lock");
    let io = |what| {
        let path = path.clone();
        move |source| Error::Io { what, path, source }
    };
    let file = fsmode::open_state_file(&path, "refusing to use the lock file")?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" by pid {pid}"),
            };
            if no_wait {
                return Err(Error::Locked { path, holder });
            }
            if !quiet {
                super::progress::note(&format!(
                    "waiting for another strixc to finish (lock {}{holder})",
                    path.display()
                ));
            }
            Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, errno)| io("cannot lock")(errno.into()))?
        }
        Err((_, errno)) => return Err(io("cannot lock")(errno.into())),
    };
    // Who holds it, for the message of whoever waits next: our own regular file, checked
    // above, so shortening it cannot touch anything else.
    let _ = lock.set_len(0);
    let _ = lock.rewind();
    let _ = write!(lock, "{}", std::process::id());
    Ok(ApplyLock { _lock: lock })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A state folder and, beside it, the file a planted link points at.
    fn state_and_victim() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        (dir, state, victim)
    }

    #[test]
    fn a_planted_symlink_is_refused_and_its_target_left_alone() {
        let (dir, state, victim) = state_and_victim();
        std::os::unix::fs::symlink(&victim, state.join("lock")).unwrap();
        let err = acquire(&state, true, true)
            .err()
            .expect("a symlink is refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(err.to_string().contains("lock"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        // A dangling link is not followed to create a file either.
        let state2 = dir.path().join("state2");
        std::fs::create_dir_all(&state2).unwrap();
        let nowhere = dir.path().join("created-by-strixc");
        std::os::unix::fs::symlink(&nowhere, state2.join("lock")).unwrap();
        assert!(acquire(&state2, true, true).is_err());
        assert!(!nowhere.exists());
    }

    #[test]
    fn a_hard_link_is_refused_and_its_target_left_alone() {
        let (_dir, state, victim) = state_and_victim();
        std::fs::hard_link(&victim, state.join("lock")).unwrap();
        let err = acquire(&state, true, true)
            .err()
            .expect("a hard link is refused");
        assert!(err.to_string().contains("hard link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }

    #[test]
    fn the_lock_file_holds_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let _lock = acquire(dir.path(), true, true).unwrap();
        let text = std::fs::read_to_string(dir.path().join("lock")).unwrap();
        assert_eq!(text, std::process::id().to_string());
    }
}
