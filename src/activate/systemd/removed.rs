//! The results of the manager's jobs, as its `JobRemoved` signals report them: filled by
//! the connection's reader thread, waited on by `DbusSystemd::wait`.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

use super::connection::Event;
use super::dbus::{MANAGER, MANAGER_PATH, SYSTEMD};
use super::wire::Value;

/// Results of removed jobs, keyed by job path, filled by the connection's reader thread.
#[derive(Default)]
pub(super) struct Removed {
    pub(super) results: Mutex<HashMap<String, String>>,
    pub(super) changed: Condvar,
    /// Set when the connection ended.
    pub(super) closed: std::sync::atomic::AtomicBool,
    /// The manager's unique bus name: only its signals count.
    owner: Mutex<Option<String>>,
}

impl Removed {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.results.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn set_owner(&self, owner: Option<String>) {
        *self.owner.lock().unwrap_or_else(|e| e.into_inner()) = owner;
    }

    /// What the reader thread hands on: a job's result, a new manager, the end.
    pub(super) fn take(&self, event: Event) {
        let signal = match event {
            Event::Signal(signal) => signal,
            Event::Closed => {
                // Whoever waits for a job must hear it now, not at its deadline.
                let _guard = self.lock();
                self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
                self.changed.notify_all();
                return;
            }
        };
        let member = signal.member.as_deref().unwrap_or("");
        match (signal.interface.as_deref(), member, signal.body.as_slice()) {
            (Some("org.freedesktop.DBus"), "NameOwnerChanged", [name, _, new])
                if signal.sender.as_deref() == Some("org.freedesktop.DBus")
                    && name.as_str() == Some(SYSTEMD) =>
            {
                self.set_owner(new.as_str().filter(|n| !n.is_empty()).map(str::to_string));
            }
            (Some(MANAGER), "JobRemoved", [Value::U32(_), job, _, Value::Str(result)])
                if signal.path.as_deref() == Some(MANAGER_PATH)
                    && signal.sender == *self.owner.lock().unwrap_or_else(|e| e.into_inner()) =>
            {
                let Some(job) = job.as_str() else { return };
                self.lock().insert(job.to_string(), result.clone());
                self.changed.notify_all();
            }
            _ => {}
        }
    }
}
