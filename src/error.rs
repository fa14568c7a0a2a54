//! Operational errors: everything that can fail *outside* the stack's own text (files,
//! D-Bus, activation). Problems *in* `stack.kdl` are diagnostics (`diagnostic.rs`), which are
//! collected rather than returned one at a time. Every message lives here.

use std::path::PathBuf;

use thiserror::Error;

/// Process exit codes (README, "Exit codes"; `strixc --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    /// The stack has errors; nothing was written or changed.
    StackErrors = 1,
    /// Bad command line (clap uses 2 too).
    Usage = 2,
    /// A system call or D-Bus call failed.
    System = 3,
    /// Activation ran but units failed (after rollback where enabled), or the machine
    /// cannot run them (a missing device: nothing was changed).
    UnitsFailed = 4,
    /// Nothing to act on: `status` or `rollback` with no generation applied yet, or
    /// `rollback` from the oldest generation. Nothing was changed.
    NothingApplied = 5,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

#[derive(Debug, Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid manifest: {source}")]
    Manifest {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    /// A D-Bus call to systemd failed (`what` says which call, on which unit).
    #[error("D-Bus: {what}: {source}")]
    Dbus {
        what: String,
        source: crate::activate::systemd::DbusError,
    },
    /// Any other file-system operation of `apply` (rename, remove, lock, mkdir).
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// Another `strixc apply` holds the lock and `--no-wait` was given.
    #[error("another strixc is applying (lock {path} held{holder}); retry later or drop --no-wait")]
    Locked { path: PathBuf, holder: String },
    /// Activation ran and units failed; the report says which and what was rolled back.
    #[error("{0}")]
    UnitsFailed(Box<crate::activate::ActivationFailure>),
    /// A generation record, `current` or the journal that cannot be read (the message
    /// names the path).
    #[error("{0}")]
    Generation(String),
    /// `status` or `rollback` with nothing applied yet, or `rollback` from the oldest
    /// generation (exit 5).
    #[error("{0}")]
    NothingApplied(String),
    /// The D-Bus connection to systemd dropped in the middle of a switch; the message says
    /// what was restored and what the next run will finish.
    #[error("{0}")]
    BusLost(String),
    /// The machine cannot run the profile (a missing device, a runtime that drops the
    /// GPU groups): found before anything changed.
    #[error("cannot switch, nothing was changed:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Preflight(Vec<String>),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) => ExitCode::Usage,
            // A file that cannot be read is a failed system call; a folder that is readable
            // but not a model strixc understands is bad input, like a broken stack.
            Error::Import(crate::import::ImportError::Read { .. }) => ExitCode::System,
            Error::Import(_) => ExitCode::StackErrors,
            Error::UnitsFailed(_) | Error::Preflight(_) => ExitCode::UnitsFailed,
            Error::NothingApplied(_) => ExitCode::NothingApplied,
            _ => ExitCode::System,
        }
    }
}
