//! Host units a system-mode switch brings up beside the agents: the swap file. Its failure
//! does not undo a profile that serves; it is reported in the apply's notes.

use std::time::{Duration, Instant};

use crate::activate::systemd::{JobMode, Systemd};
use crate::tree::manifest::{Manifest, ManifestSwap};

/// Creating a swap file as large as memory with fallocate takes seconds; mkswap of 128 GiB
/// a few more.
const SWAP_DEADLINE: Duration = Duration::from_secs(300);

/// Enables the stack's swap unit for boot and starts it now; returns what the user should
/// read (failures, a size that differs from the stack's).
pub fn activate_swap(sd: &dyn Systemd, manifest: &Manifest) -> Vec<String> {
    let Some(swap) = &manifest.swap else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    if let Some(note) = size_mismatch(swap, std::fs::metadata(&swap.path).ok().map(|m| m.len())) {
        notes.push(note);
    }
    let unit = swap.unit.as_str();
    if !super::switch::is_enabled(sd, unit)
        && let Err(e) = sd.enable(&[unit])
    {
        notes.push(format!("swap {}: not enabled for boot: {e}", swap.path));
    }
    let active = sd
        .units(&[unit])
        .ok()
        .and_then(|s| s.into_iter().next())
        .is_some_and(|s| s.is_active());
    if active {
        return notes;
    }
    let result = match sd.enqueue(unit, "start", JobMode::Replace) {
        Ok(jobs) => {
            let outcomes = sd.wait(&jobs, Instant::now() + SWAP_DEADLINE, &mut || true);
            match outcomes.iter().find(|o| !o.is_done()) {
                None => Ok(()),
                Some(o) => Err(format!("{} job {}", o.job.unit, o.result)),
            }
        }
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(()) => notes.push(format!("swap {} is on ({unit})", swap.path)),
        Err(why) => notes.push(format!(
            "swap {} did not start: {why} (journalctl -u {unit})",
            swap.path
        )),
    }
    notes
}

/// The file exists with another size than the stack's: the creator makes it only when
/// missing, and resizing an active swap file is the user's call.
fn size_mismatch(swap: &ManifestSwap, on_disk: Option<u64>) -> Option<String> {
    let (want, have) = (swap.size?, on_disk?);
    (want != have).then(|| {
        format!(
            "swap file {path} is {have} bytes but the stack says {want}: to resize it, run \
             `swapoff {path} && rm {path}`, then apply again",
            path = swap.path
        )
    })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::activate::systemd::{Job, JobOutcome, UnitDetails, UnitStatus};
    use crate::error::Error;

    /// A manager that records what it is asked and ends every job with `result`.
    struct Recorder {
        enabled: bool,
        active: bool,
        result: &'static str,
        calls: RefCell<Vec<String>>,
    }

    impl Systemd for Recorder {
        fn reload(&self) -> Result<(), Error> {
            unreachable!()
        }
        fn enqueue(&self, unit: &str, kind: &str, _: JobMode) -> Result<Vec<Job>, Error> {
            self.calls.borrow_mut().push(format!("{kind} {unit}"));
            Ok(vec![Job {
                path: "/job/1".into(),
                unit: unit.into(),
                kind: kind.into(),
            }])
        }
        fn unit_file_state(&self, _: &str) -> Result<String, Error> {
            Ok(if self.enabled { "enabled" } else { "disabled" }.into())
        }
        fn reset_failed(&self, _: &str) -> Result<(), Error> {
            Ok(())
        }
        fn enable(&self, units: &[&str]) -> Result<(), Error> {
            self.calls
                .borrow_mut()
                .push(format!("enable {}", units.join(" ")));
            Ok(())
        }
        fn disable(&self, _: &[&str]) -> Result<(), Error> {
            unreachable!()
        }
        fn units(&self, names: &[&str]) -> Result<Vec<UnitStatus>, Error> {
            let state = if self.active { "active" } else { "inactive" };
            Ok(names
                .iter()
                .map(|n| UnitStatus {
                    name: n.to_string(),
                    active_state: state.into(),
                    ..UnitStatus::default()
                })
                .collect())
        }
        fn details(&self, _: &str) -> Result<UnitDetails, Error> {
            unreachable!()
        }
        fn wait(&self, jobs: &[Job], _: Instant, _: &mut dyn FnMut() -> bool) -> Vec<JobOutcome> {
            jobs.iter()
                .map(|job| JobOutcome {
                    job: job.clone(),
                    result: self.result.into(),
                })
                .collect()
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            generator: "strixc".into(),
            stack: "t".into(),
            default_profile: "p".into(),
            profiles: Vec::new(),
            agents: Vec::new(),
            files: Default::default(),
            swap: Some(ManifestSwap {
                unit: "strixc-test-absent.swap".into(),
                path: "/strixc-test-absent".into(),
                size: Some(1 << 20),
            }),
            gateway: None,
        }
    }

    fn recorder(enabled: bool, active: bool, result: &'static str) -> Recorder {
        Recorder {
            enabled,
            active,
            result,
            calls: RefCell::new(Vec::new()),
        }
    }

    #[test]
    fn swap_is_enabled_for_boot_and_started_once() {
        let sd = recorder(false, false, "done");
        let notes = activate_swap(&sd, &manifest());
        assert_eq!(
            *sd.calls.borrow(),
            [
                "enable strixc-test-absent.swap",
                "start strixc-test-absent.swap"
            ]
        );
        assert_eq!(
            notes,
            ["swap /strixc-test-absent is on (strixc-test-absent.swap)"]
        );

        let sd = recorder(true, true, "done");
        assert!(activate_swap(&sd, &manifest()).is_empty());
        assert!(sd.calls.borrow().is_empty(), "nothing to do: no call");
    }

    #[test]
    fn a_swap_that_does_not_start_is_reported() {
        let sd = recorder(true, false, "failed");
        let notes = activate_swap(&sd, &manifest());
        assert_eq!(
            notes,
            [
                "swap /strixc-test-absent did not start: strixc-test-absent.swap job failed (journalctl -u strixc-test-absent.swap)"
            ]
        );
    }

    #[test]
    fn a_resized_swap_file_is_reported() {
        let swap = ManifestSwap {
            unit: "swap.img.swap".into(),
            path: "/swap.img".into(),
            size: Some(2048),
        };
        assert_eq!(size_mismatch(&swap, Some(2048)), None);
        assert_eq!(size_mismatch(&swap, None), None);
        let note = size_mismatch(&swap, Some(1024)).unwrap();
        assert!(
            note.contains("is 1024 bytes but the stack says 2048"),
            "{note}"
        );
    }
}
