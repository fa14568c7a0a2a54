//! `Systemd` over D-Bus: the handful of `org.freedesktop.systemd1` methods strixc calls, on
//! the project's own blocking client (`connection.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::address::Bus;
use super::connection::{Connection, DbusError};
use super::message::Message;
use super::removed::Removed;
use super::wire::{Value, signature_of};
use super::{ABORTED, DEADLINE, Job, JobMode, JobOutcome, LOST, Systemd, UnitDetails, UnitStatus};
use crate::error::Error;

pub(super) const SYSTEMD: &str = "org.freedesktop.systemd1";
pub(super) const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
pub(super) const MANAGER: &str = "org.freedesktop.systemd1.Manager";

pub struct DbusSystemd {
    connection: Connection,
    removed: Arc<Removed>,
    /// Set once the manager's job signals are routed here (`subscribe_jobs`): only a
    /// connection that starts jobs asks for them.
    subscribed: std::sync::OnceLock<()>,
}

fn dbus(what: impl Into<String>) -> impl FnOnce(DbusError) -> Error {
    let what = what.into();
    move |source| Error::Dbus {
        what,
        // The socket closed or broke, as opposed to systemd answering with an error.
        disconnected: source.is_disconnect(),
        source: Box::new(source),
    }
}

impl DbusSystemd {
    /// Connects, and checks systemd is on the bus. Read-only callers (status, diff) stop
    /// here; the job signals are subscribed to by the first `enqueue`.
    pub fn connect(bus: &Bus) -> Result<Self, Error> {
        let removed = Arc::new(Removed::default());
        let sink = Arc::clone(&removed);
        let connection = Connection::open(&bus.address(), move |event| sink.take(event)).map_err(
            dbus(format!(
                "cannot connect to the {} bus{}",
                bus_name(bus),
                connect_hint(bus)
            )),
        )?;
        let systemd = Self {
            connection,
            removed,
            subscribed: std::sync::OnceLock::new(),
        };
        systemd.require_manager(bus)?;
        Ok(systemd)
    }

    /// Asks the bus daemon whether systemd holds its name (systemd itself is sent
    /// nothing), so a bus without it fails here with the hint, not at the first call with
    /// D-Bus's bare ServiceUnknown.
    fn require_manager(&self, bus: &Bus) -> Result<(), Error> {
        let ask = bus_daemon("NameHasOwner").with_body(vec![Value::Str(SYSTEMD.into())]);
        let reply = self
            .call(ask, "b")
            .map_err(dbus(format!("NameHasOwner {SYSTEMD}")))?;
        if matches!(reply[0], Value::Bool(true)) {
            return Ok(());
        }
        let absent =
            DbusError::Connect(format!("nobody owns {SYSTEMD} there{}", connect_hint(bus)));
        Err(dbus(format!(
            "cannot reach systemd on the {} bus",
            bus_name(bus)
        ))(absent))
    }

    /// Listens for JobRemoved from the manager (and for who the manager is), once, before
    /// the first job is enqueued: a job's result cannot arrive unheard.
    fn subscribe_jobs(&self) -> Result<(), Error> {
        if self.subscribed.get().is_some() {
            return Ok(());
        }
        let owner_rule = format!(
            "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',\
             member='NameOwnerChanged',arg0='{SYSTEMD}'"
        );
        let jobs_rule = format!(
            "type='signal',sender='{SYSTEMD}',path='{MANAGER_PATH}',interface='{MANAGER}',\
             member='JobRemoved'"
        );
        for rule in [owner_rule, jobs_rule] {
            self.connection
                .add_match(&rule)
                .map_err(dbus("listen to JobRemoved"))?;
        }
        self.manager("Subscribe", vec![], "", "Subscribe")?;
        let ask = bus_daemon("GetNameOwner").with_body(vec![Value::Str(SYSTEMD.into())]);
        let owner = self
            .call(ask, "s")
            .map_err(dbus("GetNameOwner org.freedesktop.systemd1"))?;
        self.removed
            .set_owner(owner[0].as_str().map(str::to_string));
        let _ = self.subscribed.set(());
        Ok(())
    }

    /// A call whose reply must have signature `reply`.
    fn call(&self, message: Message, reply: &str) -> Result<Vec<Value>, DbusError> {
        let member = message.member.clone().unwrap_or_default();
        let body = self.connection.call(message)?;
        let got = signature_of(&body);
        if got != reply {
            return Err(DbusError::Protocol(format!(
                "{member} replied ({got}), expected ({reply})"
            )));
        }
        Ok(body)
    }

    /// A method of the manager; `what` names it in errors.
    fn manager(
        &self,
        member: &str,
        args: Vec<Value>,
        reply: &str,
        what: impl Into<String>,
    ) -> Result<Vec<Value>, Error> {
        let message = Message::call(SYSTEMD, MANAGER_PATH, MANAGER, member).with_body(args);
        self.call(message, reply).map_err(dbus(what))
    }

    /// All properties of one interface of `unit` (whose object is `path`).
    fn properties(
        &self,
        unit: &str,
        path: &str,
        interface: &str,
    ) -> Result<HashMap<String, Value>, Error> {
        let message = Message::call(SYSTEMD, path, "org.freedesktop.DBus.Properties", "GetAll")
            .with_body(vec![Value::Str(interface.into())]);
        let body = self
            .call(message, "a{sv}")
            .map_err(dbus(format!("GetAll {interface} of {unit}")))?;
        Ok(body[0]
            .items()
            .iter()
            .filter_map(|entry| match entry {
                Value::Entry(key, value) => match (key.as_ref(), value.as_ref()) {
                    (Value::Str(key), Value::Variant(value)) => {
                        Some((key.clone(), value.as_ref().clone()))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect())
    }
}

/// A call of `member` on the bus daemon itself.
fn bus_daemon(member: &str) -> Message {
    Message::call(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        member,
    )
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

/// One `(uosos)` job (id, job path, unit, unit path, type): its path, unit and type.
fn job_of(fields: &[Value]) -> Option<Job> {
    let [Value::U32(_), path, Value::Str(unit), _, Value::Str(kind)] = fields else {
        return None;
    };
    Some(Job {
        path: path.as_str()?.to_string(),
        unit: unit.clone(),
        kind: kind.clone(),
    })
}

/// One `(ssssssouso)` row of `ListUnitsByNames`.
fn unit_status(row: &Value) -> Option<UnitStatus> {
    let text = |i: usize| row.items().get(i)?.as_str().map(str::to_string);
    let job_id = row.items().get(7)?.as_u32()?;
    Some(UnitStatus {
        name: text(0)?,
        load_state: text(2)?,
        active_state: text(3)?,
        sub_state: text(4)?,
        job: (job_id != 0).then_some(text(8)?),
    })
}

impl Systemd for DbusSystemd {
    fn reload(&self) -> Result<(), Error> {
        self.manager("Reload", vec![], "", "Reload").map(drop)
    }

    fn enqueue(&self, unit: &str, kind: &str, mode: JobMode) -> Result<Vec<Job>, Error> {
        self.subscribe_jobs()?;
        let args = [unit, kind, mode.as_str()].map(|s| Value::Str(s.into()));
        let what = format!("{kind} {unit}");
        let reply = self.manager("EnqueueUnitJob", args.into(), "uososa(uosos)", &what)?;
        let malformed = || {
            dbus(what.clone())(DbusError::Protocol(
                "EnqueueUnitJob replied a malformed job".into(),
            ))
        };
        let mut jobs = vec![job_of(&reply[..5]).ok_or_else(malformed)?];
        for affected in reply[5].items() {
            let job = job_of(affected.items()).ok_or_else(malformed)?;
            if jobs.iter().all(|j| j.path != job.path) {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    fn unit_file_state(&self, unit: &str) -> Result<String, Error> {
        let args = vec![Value::Str(unit.into())];
        let what = format!("GetUnitFileState {unit}");
        let reply = self.manager("GetUnitFileState", args, "s", what)?;
        Ok(reply[0].as_str().unwrap_or_default().to_string())
    }

    fn reset_failed(&self, unit: &str) -> Result<(), Error> {
        let args = vec![Value::Str(unit.into())];
        let what = format!("ResetFailedUnit {unit}");
        self.manager("ResetFailedUnit", args, "", what).map(drop)
    }

    fn enable(&self, units: &[&str]) -> Result<(), Error> {
        let args = vec![
            Value::strings(units),
            Value::Bool(false),
            Value::Bool(false),
        ];
        let what = format!("EnableUnitFiles {}", units.join(" "));
        self.manager("EnableUnitFiles", args, "ba(sss)", what)
            .map(drop)
    }

    fn disable(&self, units: &[&str]) -> Result<(), Error> {
        let args = vec![Value::strings(units), Value::Bool(false)];
        let what = format!("DisableUnitFiles {}", units.join(" "));
        self.manager("DisableUnitFiles", args, "a(sss)", what)
            .map(drop)
    }

    fn units(&self, names: &[&str]) -> Result<Vec<UnitStatus>, Error> {
        let args = vec![Value::strings(names)];
        let what = "ListUnitsByNames";
        let reply = self.manager(what, args, "a(ssssssouso)", what)?;
        Ok(reply[0].items().iter().filter_map(unit_status).collect())
    }

    fn details(&self, unit: &str) -> Result<UnitDetails, Error> {
        let args = vec![Value::Str(unit.into())];
        let reply = self.manager("LoadUnit", args, "o", format!("LoadUnit {unit}"))?;
        let path = reply[0].as_str().unwrap_or_default();
        let u = self.properties(unit, path, "org.freedesktop.systemd1.Unit")?;
        let s = if unit.ends_with(".service") {
            self.properties(unit, path, "org.freedesktop.systemd1.Service")?
        } else {
            HashMap::new()
        };
        type Props = HashMap<String, Value>;
        let text = |p: &Props, k| p.get(k).and_then(Value::as_str).map(str::to_string);
        let usec = |p: &Props, k| p.get(k).and_then(Value::as_u64).unwrap_or(0);
        let u32_of = |p: &Props, k| p.get(k).and_then(Value::as_u32);
        Ok(UnitDetails {
            status: UnitStatus {
                name: unit.to_string(),
                load_state: text(&u, "LoadState").unwrap_or_default(),
                active_state: text(&u, "ActiveState").unwrap_or_default(),
                sub_state: text(&u, "SubState").unwrap_or_default(),
                job: None,
            },
            state_change_usec: usec(&u, "StateChangeTimestamp"),
            active_enter_usec: usec(&u, "ActiveEnterTimestamp"),
            inactive_enter_usec: usec(&u, "InactiveEnterTimestamp"),
            exec_main_start_usec: usec(&s, "ExecMainStartTimestamp"),
            // systemd reports "not accounted" as u64::MAX.
            memory_current: s
                .get("MemoryCurrent")
                .and_then(Value::as_u64)
                .filter(|&m| m != u64::MAX),
            result: text(&s, "Result"),
            status_text: text(&s, "StatusText").filter(|t| !t.is_empty()),
            exec_main_status: s.get("ExecMainStatus").and_then(Value::as_i32),
            main_pid: u32_of(&s, "MainPID"),
            n_restarts: u32_of(&s, "NRestarts"),
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

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixListener;
    use std::sync::mpsc::{Receiver, Sender, channel};

    use super::super::message::{Kind, NO_REPLY_EXPECTED};
    use super::*;

    /// How a fake bus answers a method call.
    type Replies = fn(&str) -> (Kind, Vec<Value>);

    /// The reply of a fake manager to `member`: `LoadUnit` and `EnqueueUnitJob` answer as
    /// systemd does, every `GetAll` is refused.
    fn fake_reply(member: &str) -> (Kind, Vec<Value>) {
        let s = |text: &str| Value::Str(text.into());
        let path = |text: &str| Value::Path(text.into());
        match member {
            "Hello" | "GetNameOwner" => (Kind::Return, vec![s(":1.0")]),
            "NameHasOwner" => (Kind::Return, vec![Value::Bool(true)]),
            "LoadUnit" => (Kind::Return, vec![path("/unit/t")]),
            "EnqueueUnitJob" => (
                Kind::Return,
                vec![
                    Value::U32(1),
                    path("/job/1"),
                    s("t.service"),
                    path("/unit/t"),
                    s("start"),
                    Value::Array("(uosos)".into(), vec![]),
                ],
            ),
            "GetAll" => (Kind::Error, vec![s("not for you")]),
            _ => (Kind::Return, vec![]),
        }
    }

    /// Serves one client on `listener` with `replies`, sending each member called.
    fn fake_manager(listener: UnixListener, seen: Sender<String>, replies: Replies) {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        reader.read_until(b'\n', &mut Vec::new()).unwrap();
        (&stream).write_all(b"OK 0123456789abcdef\r\n").unwrap();
        reader.read_until(b'\n', &mut Vec::new()).unwrap(); // BEGIN
        while let Ok(Ok(call)) = Message::read(&mut reader) {
            let member = call.member.clone().unwrap_or_default();
            let (kind, body) = replies(&member);
            let _ = seen.send(member);
            let reply = Message {
                kind: Some(kind),
                flags: NO_REPLY_EXPECTED,
                error_name: (kind == Kind::Error)
                    .then(|| "org.freedesktop.DBus.Error.AccessDenied".into()),
                reply_serial: Some(call.serial),
                body,
                ..Message::default()
            };
            (&stream).write_all(&reply.encode(1, false)).unwrap();
        }
    }

    /// A connection to a fresh fake bus answering with `replies`, and the members it is
    /// called with.
    fn connect_to(
        replies: Replies,
    ) -> (
        Result<DbusSystemd, Error>,
        Receiver<String>,
        tempfile::TempDir,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let listener = UnixListener::bind(&socket).unwrap();
        let (seen, calls) = channel();
        std::thread::spawn(move || fake_manager(listener, seen, replies));
        let bus = Bus::Address(super::super::address::unix_path(&socket));
        (DbusSystemd::connect(&bus), calls, dir)
    }

    /// A connection to a fresh fake manager, and the members it is called with.
    fn connect_to_fake() -> (DbusSystemd, Receiver<String>, tempfile::TempDir) {
        let (sd, calls, dir) = connect_to(fake_reply);
        (sd.unwrap(), calls, dir)
    }

    #[test]
    fn a_bus_without_systemd_fails_at_connect_asking_systemd_nothing() {
        let no_systemd: Replies = |member| match member {
            "NameHasOwner" => (Kind::Return, vec![Value::Bool(false)]),
            other => fake_reply(other),
        };
        let (sd, calls, _dir) = connect_to(no_systemd);
        let text = sd.err().expect("no systemd on the bus").to_string();
        assert!(
            text.contains("cannot reach systemd")
                && text.contains("nobody owns org.freedesktop.systemd1"),
            "{text}"
        );
        let calls: Vec<String> = calls.try_iter().collect();
        assert_eq!(calls, ["Hello", "NameHasOwner"]);
    }

    #[test]
    fn a_property_read_that_fails_is_an_error_not_a_blank_unit() {
        let (sd, _, _dir) = connect_to_fake();
        let e = sd
            .details("t-thor.service")
            .expect_err("GetAll was refused");
        let text = e.to_string();
        assert!(
            text.contains("org.freedesktop.systemd1.Unit of t-thor.service")
                && text.contains("not for you"),
            "{text}"
        );
    }

    #[test]
    fn only_a_connection_that_starts_jobs_subscribes_to_them() {
        let (sd, calls, _dir) = connect_to_fake();
        let _ = sd.details("t.service");
        let _ = sd.unit_file_state("t.service");
        sd.enqueue("t.service", "start", JobMode::Replace).unwrap();
        sd.enqueue("t.service", "stop", JobMode::Replace).unwrap();
        let calls: Vec<String> = calls.try_iter().collect();
        assert_eq!(
            calls,
            [
                "Hello",
                "NameHasOwner",
                "LoadUnit",
                "GetAll",
                "GetUnitFileState",
                "AddMatch",
                "AddMatch",
                "Subscribe",
                "GetNameOwner",
                "EnqueueUnitJob",
                "EnqueueUnitJob",
            ]
        );
    }
}
