//! The apply lock: `STATE/lock` held with `flock(LOCK_EX)` for the whole of an apply,
//! rollback or switch, so two never interleave. The kernel drops it when the process dies.
//!
//! Policy: try without blocking; if another strixc holds it, either wait (saying so on
//! stderr, the default) or fail at once with `Error::Locked` (exit 3) when `no_wait`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::Error;

pub struct ApplyLock {
    _lock: Flock<File>,
}

pub fn acquire(state: &Path, no_wait: bool, quiet: bool) -> Result<ApplyLock, Error> {
    std::fs::create_dir_all(state).map_err(|source| Error::Io {
        what: "cannot create state directory",
        path: state.to_path_buf(),
        source,
    })?;
    let path = state.join("lock");
    let io = |what| {
        let path = path.clone();
        move |source| Error::Io { what, path, source }
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io("cannot open lock"))?;
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
                eprintln!(
                    "waiting for another strixc to finish (lock {}{holder})",
                    path.display()
                );
            }
            Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, errno)| io("cannot lock")(errno.into()))?
        }
        Err((_, errno)) => return Err(io("cannot lock")(errno.into())),
    };
    // Who holds it, for the message of whoever waits next.
    let _ = lock.set_len(0);
    let _ = lock.rewind();
    let _ = write!(lock, "{}", std::process::id());
    Ok(ApplyLock { _lock: lock })
}
