//! Operational errors: everything that can fail *outside* the stack's own text (files,
//! D-Bus, activation). Problems *in* `stack.kdl` are diagnostics (`diagnostic.rs`), which are
//! collected rather than returned one at a time. Every message lives here.
//!
//! A leaf: it imports nothing from the crate. The data of a failed activation (exit 4)
//! lives here too, so that activation and its callers name one type and no stage points
//! back up at another.

use std::fmt;
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
    #[error(
        "cannot read {path}: {source}: run strixc in the folder that holds the stack file, or name it with -f PATH"
    )]
    NoStack {
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
    /// A tree without its `manifest.json` (every tree strixc builds has one): a damaged
    /// stored tree, not a usage error (exit 3).
    #[error("{path} is missing: every tree strixc builds has one")]
    NoManifest { path: PathBuf },
    #[error("{0}")]
    Usage(String),
    /// `strixc model import` failed: a file that cannot be read (`unreadable`: exit 3), or a
    /// folder that is readable but not a model strixc understands (exit 1).
    #[error("{source}")]
    Import {
        source: Box<dyn std::error::Error + Send + Sync>,
        unreadable: bool,
    },
    /// A D-Bus call to systemd failed (`what` says which call, on which unit). The client
    /// decides `disconnected`: the connection itself is gone (the socket closed or broke),
    /// as opposed to systemd answering with an error.
    #[error("D-Bus: {what}: {source}")]
    Dbus {
        what: String,
        source: Box<dyn std::error::Error + Send + Sync>,
        disconnected: bool,
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
    UnitsFailed(Box<ActivationFailure>),
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
            Error::Import {
                unreadable: true, ..
            } => ExitCode::System,
            Error::Import { .. } => ExitCode::StackErrors,
            Error::UnitsFailed(_) | Error::Preflight(_) => ExitCode::UnitsFailed,
            Error::NothingApplied(_) => ExitCode::NothingApplied,
            _ => ExitCode::System,
        }
    }

    /// Whether the connection to the service manager is gone (the socket closed or broke,
    /// or it dropped in the middle of a switch), as opposed to the manager answering with
    /// an error.
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            Error::Dbus {
                disconnected: true,
                ..
            } | Error::BusLost(_)
        )
    }
}

/// One unit that did not reach its goal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFailure {
    pub agent: Option<String>,
    pub unit: String,
    /// `start`, `stop`, `restart`, or `verify` (the job was done but the unit is not active).
    pub job: String,
    /// systemd's job result (`failed`, `timeout`, `dependency`, ...), `deadline`, or the
    /// unit's state when it was not active at the end.
    pub result: String,
    pub log: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackOutcome {
    /// `--no-rollback`: the failed generation stays installed.
    Disabled,
    Restored {
        generation: u64,
        profile: String,
    },
    /// No earlier generation: the failed one's files were removed and its units stopped.
    Removed,
    Failed(String),
}

/// `Error::UnitsFailed`'s payload (exit 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationFailure {
    pub profile: String,
    pub failures: Vec<UnitFailure>,
    pub rollback: RollbackOutcome,
}

impl fmt::Display for UnitFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = self
            .agent
            .as_ref()
            .map_or_else(String::new, |a| format!("agent {a} "));
        writeln!(
            f,
            "  {who}({}): {} job {}",
            self.unit, self.job, self.result
        )?;
        if !self.log.is_empty() {
            writeln!(f, "    last log lines:")?;
            for line in &self.log {
                writeln!(f, "      {line}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for RollbackOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RollbackOutcome::Disabled => write!(
                f,
                "not rolled back (--no-rollback): the failed generation stays installed"
            ),
            RollbackOutcome::Restored {
                generation,
                profile,
            } => write!(
                f,
                "rolled back to generation {generation} (profile {profile})"
            ),
            RollbackOutcome::Removed => write!(
                f,
                "rolled back: no earlier generation, so its files were removed and its units stopped"
            ),
            RollbackOutcome::Failed(why) => write!(f, "ROLLBACK FAILED too: {why}"),
        }
    }
}

impl fmt::Display for ActivationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "activation of profile {} failed:", self.profile)?;
        for failure in &self.failures {
            write!(f, "{failure}")?;
        }
        write!(f, "{}", self.rollback)
    }
}
