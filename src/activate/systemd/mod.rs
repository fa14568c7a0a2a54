//! The few things strixc asks of systemd, behind a trait so the planning logic can be tested
//! without a manager, and one real implementation over D-Bus (`dbus.rs`) on a small client
//! of our own: `address.rs` (where the bus is), `signature.rs` (types),
//! `wire.rs` (the marshalling of values),
//! `message.rs` (headers and bodies), `connection.rs` (authentication, calls, signals),
//! `removed.rs` (job results, from the manager's `JobRemoved` signals).
//!
//! Job waiting follows NixOS's switch-to-configuration: the JobRemoved stream is open (and
//! drained by a thread) before the first job is enqueued, every job of a transaction is kept
//! (`EnqueueUnitJob` returns them all, stops of conflicting units included), and anything but
//! `done` before the deadline is a failure.

mod address;
mod connection;
mod dbus;
mod message;
mod removed;
mod signature;
mod wire;

use std::time::Instant;

pub use address::Bus;
pub use connection::{DbusError, READER_THREAD};
pub use dbus::DbusSystemd;

use crate::error::Error;

/// One systemd job, as `EnqueueUnitJob` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The job's object path: the key JobRemoved reports it by.
    pub path: String,
    pub unit: String,
    /// `start`, `stop`, `restart`, ...
    pub kind: String,
}

/// How a job ended: systemd's result string (`done`, `failed`, `canceled`, `timeout`,
/// `dependency`, `skipped`, ...), or `deadline` when strixc stopped waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    pub job: Job,
    pub result: String,
}

impl JobOutcome {
    pub fn is_done(&self) -> bool {
        self.result == "done"
    }
}

/// The result strixc reports for a job still running at the deadline.
pub const DEADLINE: &str = "deadline";
/// The result strixc reports for a job it stopped waiting for (another unit failed).
pub const ABORTED: &str = "not waited for (another unit failed)";

/// The result strixc reports for a job whose result can no longer arrive: the D-Bus
/// connection to the manager dropped.
pub const LOST: &str = "unknown (the D-Bus connection to systemd was lost)";

/// One row of `ListUnitsByNames`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitStatus {
    pub name: String,
    /// `loaded`, `not-found`, `error`, `masked`, ...
    pub load_state: String,
    /// `active`, `inactive`, `failed`, `activating`, `deactivating`, `reloading`.
    pub active_state: String,
    pub sub_state: String,
    /// The unit's pending job, if any (`start`, `stop`, ...).
    pub job: Option<String>,
}

impl UnitStatus {
    pub fn is_active(&self) -> bool {
        self.active_state == "active"
    }
}

/// Properties of one unit (timestamps in µs since the epoch, 0 when never).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitDetails {
    pub status: UnitStatus,
    pub state_change_usec: u64,
    pub active_enter_usec: u64,
    pub inactive_enter_usec: u64,
    /// Service only: when the main process started.
    pub exec_main_start_usec: u64,
    /// Service only: bytes, `None` when systemd does not account it.
    pub memory_current: Option<u64>,
    /// Service only: `success`, `exit-code`, `timeout`, `start-limit-hit`, ...
    pub result: Option<String>,
    pub status_text: Option<String>,
    pub exec_main_status: Option<i32>,
    /// Service only: 0 when the main process is gone.
    pub main_pid: Option<u32>,
    pub n_restarts: Option<u32>,
}

/// Job modes of `EnqueueUnitJob` strixc uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobMode {
    /// Replace conflicting queued jobs; stop units that conflict with the new one.
    Replace,
}

impl JobMode {
    pub fn as_str(self) -> &'static str {
        match self {
            JobMode::Replace => "replace",
        }
    }
}

/// What strixc needs from a service manager.
pub trait Systemd {
    /// `daemon-reload`; returns once the manager has finished reloading (the D-Bus reply of
    /// `Reload` is sent only then), which reruns generators such as quadlet.
    fn reload(&self) -> Result<(), Error>;

    /// Enqueues `kind` (`start`, `stop`, `restart`, `try-restart`) for `unit` and returns
    /// every job of the transaction: the unit's own first, then the affected ones (starts of
    /// wanted units, stops of conflicting ones).
    fn enqueue(&self, unit: &str, kind: &str, mode: JobMode) -> Result<Vec<Job>, Error>;

    /// `GetUnitFileState`: `enabled`, `disabled`, `static`, `linked`, `masked`, ... (an
    /// error when no such unit file is installed).
    fn unit_file_state(&self, unit: &str) -> Result<String, Error>;

    /// `ResetFailedUnit`: forget a unit's failed state and its start-limit count, so a
    /// start after a crash loop is not refused as `start-limit-hit`.
    fn reset_failed(&self, unit: &str) -> Result<(), Error>;

    /// `EnableUnitFiles` (persistent, no force): the symlinks its `[Install]` section names.
    /// Like `systemctl enable --no-reload`: it changes what boot starts, nothing now.
    fn enable(&self, units: &[&str]) -> Result<(), Error>;

    /// `DisableUnitFiles` (persistent): removes the symlinks to the units.
    fn disable(&self, units: &[&str]) -> Result<(), Error>;

    /// Current state of each named unit, in order (unknown units come back `not-found`).
    fn units(&self, names: &[&str]) -> Result<Vec<UnitStatus>, Error>;

    /// Timestamps, memory, result and status text of one unit; an error when any of its
    /// properties cannot be read (never blank fields in their place).
    fn details(&self, unit: &str) -> Result<UnitDetails, Error>;

    /// Waits until every job has been removed or the deadline passed; `tick` is called about
    /// every 200 ms (progress, early failure detection) and stops the wait by returning
    /// `false`. Jobs still running at the deadline get `DEADLINE`, at a stop `ABORTED`.
    fn wait(
        &self,
        jobs: &[Job],
        deadline: Instant,
        tick: &mut dyn FnMut() -> bool,
    ) -> Vec<JobOutcome>;

    /// Whether the connection to the manager still stands. Once it dropped, no job result
    /// can arrive: `wait` returns at once with `LOST` for every unfinished job.
    fn connected(&self) -> bool {
        true
    }
}
