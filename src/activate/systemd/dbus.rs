//! `Systemd` over D-Bus with zbus's blocking API: hand-declared proxies for the handful of
//! `org.freedesktop.systemd1` methods strixc calls.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use zbus::blocking::Connection;
use zbus::blocking::fdo::PropertiesProxy;
use zbus::names::InterfaceName;
use zbus::proxy;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use super::{ABORTED, DEADLINE, Job, JobMode, JobOutcome, LOST, Systemd, UnitDetails, UnitStatus};
use crate::error::Error;

type AffectedJob = (u32, OwnedObjectPath, String, OwnedObjectPath, String);
/// (type: `symlink`/`unlink`, file, destination) of `EnableUnitFiles`/`DisableUnitFiles`.
type UnitFileChange = (String, String, String);
type ListedUnit = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1",
    gen_async = false
)]
trait Manager {
    fn subscribe(&self) -> zbus::Result<()>;
    fn reload(&self) -> zbus::Result<()>;
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;
    #[allow(clippy::type_complexity)]
    fn enqueue_unit_job(
        &self,
        name: &str,
        job_type: &str,
        job_mode: &str,
    ) -> zbus::Result<(
        u32,
        OwnedObjectPath,
        String,
        OwnedObjectPath,
        String,
        Vec<AffectedJob>,
    )>;
    fn list_units_by_names(&self, names: &[&str]) -> zbus::Result<Vec<ListedUnit>>;
    fn get_unit_file_state(&self, file: &str) -> zbus::Result<String>;
    fn reset_failed_unit(&self, name: &str) -> zbus::Result<()>;
    fn enable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
        force: bool,
    ) -> zbus::Result<(bool, Vec<UnitFileChange>)>;
    fn disable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
    ) -> zbus::Result<Vec<UnitFileChange>>;
    #[zbus(signal)]
    fn job_removed(
        &self,
        id: u32,
        job: OwnedObjectPath,
        unit: String,
        result: String,
    ) -> zbus::Result<()>;
}

/// Which bus to reach the manager on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bus {
    /// The user's session bus (`--user`), from `DBUS_SESSION_BUS_ADDRESS`.
    Session,
    /// The system bus (`--system`).
    System,
    /// An explicit address (`unix:path=...`): tests and sandboxes.
    Address(String),
}

/// Results of removed jobs, keyed by job path, filled by the draining thread.
#[derive(Default)]
struct Removed {
    results: Mutex<HashMap<String, String>>,
    changed: Condvar,
    /// Set when the JobRemoved stream ended: the connection is gone.
    closed: std::sync::atomic::AtomicBool,
}

pub struct DbusSystemd {
    connection: Connection,
    manager: ManagerProxy<'static>,
    removed: Arc<Removed>,
}

fn dbus(what: impl Into<String>) -> impl FnOnce(zbus::Error) -> Error {
    let what = what.into();
    move |source| Error::Dbus {
        what,
        // The socket closed or broke, as opposed to systemd answering with an error.
        disconnected: matches!(source, zbus::Error::InputOutput(_)),
        source: Box::new(source),
    }
}

impl DbusSystemd {
    /// Connects, subscribes to the manager's signals and starts draining JobRemoved, all
    /// before any job can be enqueued.
    pub fn connect(bus: &Bus) -> Result<Self, Error> {
        let connection = match bus {
            Bus::Session => Connection::session(),
            Bus::System => Connection::system(),
            Bus::Address(address) => zbus::blocking::connection::Builder::address(address.as_str())
                .and_then(|b| b.build()),
        }
        .map_err(dbus(format!(
            "cannot connect to the {} bus{}",
            bus_name(bus),
            connect_hint(bus)
        )))?;
        let manager = ManagerProxy::new(&connection).map_err(dbus("systemd manager proxy"))?;
        // The stream's match rule is registered here, before Subscribe and before any job.
        let stream = manager
            .receive_job_removed()
            .map_err(dbus("listen to JobRemoved"))?;
        manager.subscribe().map_err(dbus("Subscribe"))?;
        let removed = Arc::new(Removed::default());
        let sink = Arc::clone(&removed);
        // Drain continuously: a full zbus queue would stop the connection reading replies.
        std::thread::Builder::new()
            .name("strixc-jobs".into())
            .spawn(move || {
                for signal in stream {
                    let Ok(args) = signal.args() else { continue };
                    let mut results = sink.results.lock().unwrap_or_else(|e| e.into_inner());
                    results.insert(args.job.to_string(), args.result.clone());
                    sink.changed.notify_all();
                }
                // The stream ends with the connection (the bus died, or we closed it):
                // whoever waits for a job must hear it now, not at its deadline.
                let _guard = sink.results.lock().unwrap_or_else(|e| e.into_inner());
                sink.closed.store(true, std::sync::atomic::Ordering::SeqCst);
                sink.changed.notify_all();
            })
            .map_err(|source| Error::Io {
                what: "cannot start a thread for",
                path: "JobRemoved".into(),
                source,
            })?;
        Ok(Self {
            connection,
            manager,
            removed,
        })
    }

    fn properties(
        &self,
        path: &OwnedObjectPath,
        interface: &'static str,
    ) -> HashMap<String, OwnedValue> {
        let Ok(proxy) = PropertiesProxy::builder(&self.connection)
            .destination("org.freedesktop.systemd1")
            .and_then(|b| b.path(path.clone()))
            .and_then(|b| b.build())
        else {
            return HashMap::new();
        };
        let Ok(interface) = InterfaceName::try_from(interface) else {
            return HashMap::new();
        };
        proxy.get_all(interface).unwrap_or_default()
    }
}

impl Drop for DbusSystemd {
    /// Closing the socket ends the JobRemoved stream, so the draining thread exits instead
    /// of keeping the connection (and itself) alive for the rest of the process.
    fn drop(&mut self) {
        let _ = self.connection.clone().close();
    }
}

/// What usually explains a failed connection, and what to do about it.
fn connect_hint(bus: &Bus) -> &'static str {
    match bus {
        Bus::Session => {
            " (is there a systemd user session? run it from a login session, or enable \
             lingering with `loginctl enable-linger`; or use --system as root)"
        }
        Bus::System => " (is systemd the init system here? --system needs it, and root)",
        Bus::Address(_) => "",
    }
}

fn bus_name(bus: &Bus) -> &str {
    match bus {
        Bus::Session => "session",
        Bus::System => "system",
        Bus::Address(address) => address,
    }
}

fn get<T>(props: &HashMap<String, OwnedValue>, key: &str) -> Option<T>
where
    T: TryFrom<OwnedValue>,
{
    props
        .get(key)
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| T::try_from(v).ok())
}

impl Systemd for DbusSystemd {
    fn reload(&self) -> Result<(), Error> {
        self.manager.reload().map_err(dbus("Reload"))
    }

    fn enqueue(&self, unit: &str, kind: &str, mode: JobMode) -> Result<Vec<Job>, Error> {
        let (id, path, unit_id, _, job_type, affected) = self
            .manager
            .enqueue_unit_job(unit, kind, mode.as_str())
            .map_err(dbus(format!("{kind} {unit}")))?;
        let mut jobs = vec![Job {
            id,
            path: path.to_string(),
            unit: unit_id,
            kind: job_type,
        }];
        for (id, path, unit, _, kind) in affected {
            let path = path.to_string();
            if jobs.iter().all(|j| j.path != path) {
                jobs.push(Job {
                    id,
                    path,
                    unit,
                    kind,
                });
            }
        }
        Ok(jobs)
    }

    fn unit_file_state(&self, unit: &str) -> Result<String, Error> {
        self.manager
            .get_unit_file_state(unit)
            .map_err(dbus(format!("GetUnitFileState {unit}")))
    }

    fn reset_failed(&self, unit: &str) -> Result<(), Error> {
        self.manager
            .reset_failed_unit(unit)
            .map_err(dbus(format!("ResetFailedUnit {unit}")))
    }

    fn enable(&self, units: &[&str]) -> Result<(), Error> {
        self.manager
            .enable_unit_files(units, false, false)
            .map(drop)
            .map_err(dbus(format!("EnableUnitFiles {}", units.join(" "))))
    }

    fn disable(&self, units: &[&str]) -> Result<(), Error> {
        self.manager
            .disable_unit_files(units, false)
            .map(drop)
            .map_err(dbus(format!("DisableUnitFiles {}", units.join(" "))))
    }

    fn units(&self, names: &[&str]) -> Result<Vec<UnitStatus>, Error> {
        let listed = self
            .manager
            .list_units_by_names(names)
            .map_err(dbus("ListUnitsByNames"))?;
        Ok(listed
            .into_iter()
            .map(
                |(name, _, load, active, sub, _, _, job_id, job_type, _)| UnitStatus {
                    name,
                    load_state: load,
                    active_state: active,
                    sub_state: sub,
                    job: (job_id != 0).then_some(job_type),
                },
            )
            .collect())
    }

    fn details(&self, unit: &str) -> Result<UnitDetails, Error> {
        let path = self
            .manager
            .load_unit(unit)
            .map_err(dbus(format!("LoadUnit {unit}")))?;
        let u = self.properties(&path, "org.freedesktop.systemd1.Unit");
        let s = if unit.ends_with(".service") {
            self.properties(&path, "org.freedesktop.systemd1.Service")
        } else {
            HashMap::new()
        };
        let text = |p: &HashMap<String, OwnedValue>, k| get::<String>(p, k).unwrap_or_default();
        let usec = |p: &HashMap<String, OwnedValue>, k| get::<u64>(p, k).unwrap_or(0);
        Ok(UnitDetails {
            status: UnitStatus {
                name: unit.to_string(),
                load_state: text(&u, "LoadState"),
                active_state: text(&u, "ActiveState"),
                sub_state: text(&u, "SubState"),
                job: None,
            },
            state_change_usec: usec(&u, "StateChangeTimestamp"),
            active_enter_usec: usec(&u, "ActiveEnterTimestamp"),
            active_exit_usec: usec(&u, "ActiveExitTimestamp"),
            inactive_enter_usec: usec(&u, "InactiveEnterTimestamp"),
            inactive_exit_usec: usec(&u, "InactiveExitTimestamp"),
            exec_main_start_usec: usec(&s, "ExecMainStartTimestamp"),
            // systemd reports "not accounted" as u64::MAX.
            memory_current: get::<u64>(&s, "MemoryCurrent").filter(|&m| m != u64::MAX),
            result: get::<String>(&s, "Result"),
            status_text: get::<String>(&s, "StatusText").filter(|t| !t.is_empty()),
            exec_main_status: get::<i32>(&s, "ExecMainStatus"),
            main_pid: get::<u32>(&s, "MainPID"),
            n_restarts: get::<u32>(&s, "NRestarts"),
        })
    }

    fn wait(
        &self,
        jobs: &[Job],
        deadline: Instant,
        tick: &mut dyn FnMut() -> bool,
    ) -> Vec<JobOutcome> {
        const TICK: Duration = Duration::from_millis(200);
        let mut next_tick = Instant::now() + TICK;
        let mut unfinished = DEADLINE;
        let mut results = self
            .removed
            .results
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        loop {
            if jobs.iter().all(|j| results.contains_key(&j.path)) {
                break;
            }
            if !self.connected() {
                unfinished = LOST;
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if now >= next_tick {
                drop(results);
                let go_on = tick();
                results = self
                    .removed
                    .results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if !go_on {
                    unfinished = if self.connected() { ABORTED } else { LOST };
                    break;
                }
                next_tick = Instant::now() + TICK;
                continue;
            }
            let wake = next_tick.min(deadline) - now;
            results = self
                .removed
                .changed
                .wait_timeout(results, wake)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        jobs.iter()
            .map(|job| JobOutcome {
                job: job.clone(),
                result: results
                    .get(&job.path)
                    .cloned()
                    .unwrap_or_else(|| unfinished.to_string()),
            })
            .collect()
    }

    fn connected(&self) -> bool {
        !self
            .removed
            .closed
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}
