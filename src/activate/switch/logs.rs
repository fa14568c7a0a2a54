//! A failed unit's last log lines, for the report of a failed switch.

use crate::activate::layout::Mode;
use crate::activate::systemd::Systemd;

/// The unit's last log lines: the journal when there is one, else what the manager knows
/// (result, exit status, status text) — a sandbox without journald has only that.
pub fn last_logs(sd: &dyn Systemd, mode: Mode, unit: &str) -> Vec<String> {
    let mut lines = manager_summary(sd, unit);
    let mut journal = std::process::Command::new("journalctl");
    if mode == Mode::User {
        journal.arg("--user");
    }
    journal.args([
        "-u",
        unit,
        "-n",
        "20",
        "--no-pager",
        "-q",
        "-o",
        "short-iso",
    ]);
    if let Ok(out) = journal.stderr(std::process::Stdio::null()).output()
        && out.status.success()
    {
        lines.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with("-- "))
                .map(str::to_string),
        );
    }
    lines
}

/// What the manager says of the unit: state, result, exit status, restarts, status text.
fn manager_summary(sd: &dyn Systemd, unit: &str) -> Vec<String> {
    let Ok(d) = sd.details(unit) else {
        return Vec::new();
    };
    let mut summary = format!(
        "systemd: {} ({}), result {}",
        d.status.active_state,
        d.status.sub_state,
        d.result.as_deref().unwrap_or("?")
    );
    if let Some(status) = d.exec_main_status {
        summary.push_str(&format!(", exit status {status}"));
    }
    if let Some(n) = d.n_restarts.filter(|&n| n > 0) {
        summary.push_str(&format!(", restarted {n} times"));
    }
    let mut lines = vec![summary];
    if let Some(text) = d.status_text {
        lines.push(format!("status: {text}"));
    }
    lines
}
