//! The activate step of a switch: reload (if files changed), enable boot links, enqueue the
//! jobs, wait for every one of them with a deadline, then verify every agent of the profile
//! is active.

use std::time::{Duration, Instant};

use super::logs::last_logs;
use crate::activate::layout::Mode;
use crate::activate::progress::{Progress, ProgressMode};
use crate::activate::systemd::{Job, JobMode, JobOutcome, Systemd};
use crate::activate::units::UnitActions;
use crate::error::{Error, UnitFailure};
use crate::tree::manifest::{Manifest, ManifestProfile};

/// One activation: what to ask `sd` for, and how long to wait.
pub struct Activation<'a> {
    pub sd: &'a dyn Systemd,
    pub mode: Mode,
    pub manifest: &'a Manifest,
    pub profile: &'a ManifestProfile,
    /// Files changed: `daemon-reload` first.
    pub reload: bool,
    pub actions: &'a UnitActions,
    /// For every job of the transaction, from the first enqueue.
    pub deadline: Duration,
    pub progress: ProgressMode,
}

/// The connection to the manager dropped: `e` says how (`None`: the JobRemoved stream
/// ended).
fn lost(e: Option<&Error>) -> Error {
    let why = e.map_or_else(
        || "the JobRemoved stream ended".to_string(),
        Error::to_string,
    );
    Error::BusLost(why)
}

impl Activation<'_> {
    /// Reload, enqueue, wait, verify. Returns the failures (empty: success), agents first,
    /// each service's with its last log lines; or an error when the D-Bus connection
    /// dropped: noticed at once (the JobRemoved stream ended, or a call failed on a closed
    /// connection), not at the deadline.
    pub fn run(&self) -> Result<Vec<UnitFailure>, Error> {
        if let Some(failure) = self.prepare()? {
            return Ok(vec![failure]);
        }
        let progress = Progress::new(self.progress, self.watched());
        // An agent that failed before (its start limit hit, say) would refuse this start.
        if let Ok(states) = self.sd.units(&progress.units()) {
            for s in states.iter().filter(|s| s.active_state == "failed") {
                let _ = self.sd.reset_failed(&s.name);
            }
        }
        let deadline = Instant::now() + self.deadline;
        let (jobs, mut failures) = self.enqueue()?;
        crate::activate::kill_point("started");
        failures.extend(self.wait(&jobs, deadline, progress)?);
        if failures.is_empty() {
            failures = self.verify()?;
        }
        // Agents first: they are what the user wants to read about.
        failures.sort_by_key(|f| f.agent.is_none());
        for f in failures.iter_mut().filter(|f| f.unit.ends_with(".service")) {
            f.log = last_logs(self.sd, self.mode, &f.unit);
        }
        Ok(failures)
    }

    /// Whether `e` means the connection is gone, as opposed to systemd answering.
    fn gone(&self, e: &Error) -> bool {
        !self.sd.connected() || e.is_disconnect()
    }

    fn failure(&self, unit: &str, job: &str, result: String) -> UnitFailure {
        UnitFailure {
            agent: self
                .manifest
                .agents
                .iter()
                .find(|a| a.unit == unit)
                .map(|a| a.name.clone()),
            unit: unit.to_string(),
            job: job.to_string(),
            result,
            log: Vec::new(),
        }
    }

    /// `daemon-reload` and boot links: a failure there ends the activation.
    fn prepare(&self) -> Result<Option<UnitFailure>, Error> {
        if self.reload
            && let Err(e) = self.sd.reload()
        {
            if self.gone(&e) {
                return Err(lost(Some(&e)));
            }
            return Ok(Some(self.failure("daemon-reload", "reload", e.to_string())));
        }
        let enable = &self.actions.enable;
        if !enable.is_empty() {
            let names: Vec<&str> = enable.iter().map(String::as_str).collect();
            if let Err(e) = self.sd.enable(&names) {
                if self.gone(&e) {
                    return Err(lost(Some(&e)));
                }
                return Ok(Some(self.failure(&enable[0], "enable", e.to_string())));
            }
        }
        Ok(None)
    }

    /// (agent, unit) of every agent whose progress is shown: the profile's and those
    /// stopped.
    fn watched(&self) -> Vec<(String, String)> {
        self.manifest
            .agents
            .iter()
            .filter(|a| {
                self.profile.agents.contains(&a.name) || self.actions.stop.contains(&a.unit)
            })
            .map(|a| (a.name.clone(), a.unit.clone()))
            .collect()
    }

    /// Enqueues every action; returns the jobs of all transactions, and a failure for each
    /// unit systemd cannot load (bad file, not found).
    fn enqueue(&self) -> Result<(Vec<Job>, Vec<UnitFailure>), Error> {
        let a = self.actions;
        let enqueues = a
            .stop_explicit
            .iter()
            .map(|u| (u, "stop"))
            .chain(a.restart.iter().map(|u| (u, "restart")))
            .chain(a.host_restart.iter().map(|u| (u, "try-restart")))
            .chain(a.start_target.then_some((&a.target, "start")));
        let mut jobs: Vec<Job> = Vec::new();
        let mut failures = Vec::new();
        for (unit, kind) in enqueues {
            match self.sd.enqueue(unit, kind, JobMode::Replace) {
                Ok(new) => {
                    for job in new {
                        if jobs.iter().all(|j| j.path != job.path) {
                            jobs.push(job);
                        }
                    }
                }
                Err(e) if self.gone(&e) => return Err(lost(Some(&e))),
                Err(e) => failures.push(self.failure(unit, kind, e.to_string())),
            }
        }
        Ok((jobs, failures))
    }

    /// Waits for `jobs` with progress; returns a failure per job not done.
    fn wait(
        &self,
        jobs: &[Job],
        deadline: Instant,
        mut progress: Progress,
    ) -> Result<Vec<UnitFailure>, Error> {
        let mut crashed: Vec<(String, String)> = Vec::new();
        let mut call_failed: Option<Error> = None;
        let outcomes: Vec<JobOutcome> = self.sd.wait(jobs, deadline, &mut || {
            let states = match self.sd.units(&progress.units()) {
                Ok(states) => states,
                // A call that fails on a dropped connection ends the wait now.
                Err(e) if self.gone(&e) => {
                    call_failed = Some(e);
                    return false;
                }
                Err(_) => return true,
            };
            progress.update(&states);
            crashed.extend(self.crashed(&states));
            crashed.is_empty()
        });
        if call_failed.is_some() || !self.sd.connected() {
            progress.finish();
            return Err(lost(call_failed.as_ref()));
        }
        if let Ok(states) = self.sd.units(&progress.units()) {
            progress.update(&states);
        }
        progress.finish();
        Ok(outcomes
            .iter()
            .filter(|o| !o.is_done())
            .map(|outcome| {
                let result = crashed
                    .iter()
                    .find(|(unit, _)| *unit == outcome.job.unit)
                    .map_or_else(|| outcome.result.clone(), |(_, why)| why.clone());
                self.failure(&outcome.job.unit, &outcome.job.kind, result)
            })
            .collect())
    }

    /// A native agent whose server dies while its ExecStartPost polls health: the generated
    /// wait exits 1 then (without it, and with hand-written units, the unit would stay
    /// "activating (start-post)" until TimeoutStartSec), and Restart=on-failure keeps the
    /// start job pending through "auto-restart" until the start limit is hit. Either way
    /// the main process is gone before the agent was ever healthy: fail at once, with its
    /// exit status. Returns (unit, result) of each such unit among `states`.
    fn crashed(&self, states: &[crate::activate::systemd::UnitStatus]) -> Vec<(String, String)> {
        let mut crashed = Vec::new();
        for s in states.iter().filter(|s| {
            s.active_state == "activating"
                && (s.sub_state == "start-post"
                    || (s.sub_state == "auto-restart" && s.job.is_some()))
        }) {
            if let Ok(d) = self.sd.details(&s.name)
                && d.main_pid == Some(0)
                && d.exec_main_start_usec > 0
            {
                let status = d.exec_main_status.unwrap_or(-1);
                let why =
                    format!("failed: the server exited (status {status}) before it was healthy");
                crashed.push((s.name.clone(), why));
            }
        }
        crashed
    }

    /// Every job done; now every agent of the profile (and the target) must be active.
    fn verify(&self) -> Result<Vec<UnitFailure>, Error> {
        let profile = self.profile;
        let mut expected: Vec<&str> = self
            .manifest
            .agents
            .iter()
            .filter(|a| profile.agents.contains(&a.name))
            .map(|a| a.unit.as_str())
            .collect();
        expected.push(&profile.target);
        match self.sd.units(&expected) {
            Ok(states) => Ok(states
                .iter()
                .filter(|s| !s.is_active())
                .map(|s| {
                    let state = format!("{} ({})", s.active_state, s.sub_state);
                    self.failure(&s.name, "verify", state)
                })
                .collect()),
            Err(e) if self.gone(&e) => Err(lost(Some(&e))),
            Err(e) => Ok(vec![self.failure(&profile.target, "verify", e.to_string())]),
        }
    }
}
