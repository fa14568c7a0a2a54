//! Host units a system-mode switch brings up beside the agents: the swap file. Its failure
//! does not undo a profile that serves; it is reported in the apply's notes.

use std::time::{Duration, Instant};

use crate::manifest::{Manifest, ManifestSwap};
use crate::systemd::{JobMode, Systemd};

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
    if !sd.unit_file_state(unit).is_ok_and(|s| s == "enabled") {
        if let Err(e) = sd.enable(&[unit]) {
            notes.push(format!("swap {}: not enabled for boot: {e}", swap.path));
        }
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
    use super::*;

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
