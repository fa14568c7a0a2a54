//! The real runtime for the end-to-end suite (tests/e2e.rs): a systemd *system* manager booted
//! as PID 1 of its own namespaces on a per-test overlay of the Debian 13 root that
//! `scripts/e2e-roots` caches (podman 5.4 with quadlet, runc, journald), holding the images
//! `localhost/vllm-standin` and `localhost/llama-cpp` and a native `llama-server`. The shell
//! steps live in `tests/e2e/sandbox`; this drives them, copies in this build's `strixc`, and
//! always halts and cleans up on drop (also when a test panics).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Where `scripts/e2e-roots` builds: `$STRIXC_E2E_CACHE` or `/var/cache/strixc-e2e`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("STRIXC_E2E_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/strixc-e2e"))
}

fn sandbox_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/sandbox")
}

/// The cached root, or why the suite cannot run here. Under CI (`CI=true`) a missing
/// runtime is a failure, not a skip: the README's test command builds it.
pub fn lower_root() -> Result<PathBuf, String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Err("the end-to-end suite needs root (mount and PID namespaces, podman)".into());
    }
    let root = cache_dir().join("current/trixie");
    if !root.join("usr/bin/podman").exists() {
        return Err(format!(
            "no end-to-end root at {} (run scripts/e2e-roots)",
            root.display()
        ));
    }
    let built = std::fs::read_to_string(root.join("root/.vllm-standin.sha256"))
        .unwrap_or_default()
        .trim()
        .to_string();
    let ours = format!(
        "{:x}",
        Sha256::digest(std::fs::read(super::test_server()).expect("read the test server"))
    );
    if built != ours {
        return Err(format!(
            "the vllm-standin image in {} holds another build of strixc-test-server \
             (run scripts/e2e-roots {})",
            root.display(),
            super::test_server()
        ));
    }
    Ok(root)
}

/// The cached root, or `None` after printing why the suite is skipped; panics under CI.
pub fn available() -> Option<PathBuf> {
    match lower_root() {
        Ok(root) => Some(root),
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("end-to-end runtime missing under CI: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED (end-to-end runtime unavailable): {why}");
            None
        }
    }
}

/// Which systemd instance strixc drives: the system manager, or root's user manager
/// (`user@0.service`, started on demand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    System,
    User,
}

impl Mode {
    pub fn flag(self) -> &'static str {
        match self {
            Mode::System => "--system",
            Mode::User => "--user",
        }
    }

    /// `systemctl` (or `systemctl --user`) and friends' extra argument.
    pub fn scope(self) -> &'static [&'static str] {
        match self {
            Mode::System => &[],
            Mode::User => &["--user"],
        }
    }

    /// Where quadlet files of this mode live.
    pub fn quadlet_dir(self) -> &'static str {
        match self {
            Mode::System => "/etc/containers/systemd",
            Mode::User => "/root/.config/containers/systemd",
        }
    }
}

/// One booted root. Dropping it kills its PID 1: every process inside ends with the PID
/// namespace, every mount with the mount namespace; then the folder goes.
pub struct Runtime {
    dir: tempfile::TempDir,
    pub pid: u32,
    pub mode: Mode,
    pub boot_time: Duration,
}

impl Runtime {
    /// Boots a fresh root (with this build's `strixc` as /usr/local/bin/strixc); in
    /// [`Mode::User`] also root's user manager.
    pub fn boot(lower: &Path, mode: Mode) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("strixc-e2e-")
            .tempdir_in(std::env::var_os("STRIXC_E2E_TMP").unwrap_or_else(|| "/var/tmp".into()))
            .expect("tempdir");
        let upper = dir.path().join("upper");
        let bin = upper.join("usr/local/bin");
        std::fs::create_dir_all(&bin).expect("mkdir upper");
        std::fs::copy(super::strixc_bin(), bin.join("strixc")).expect("copy strixc");
        let t0 = Instant::now();
        let out = Command::new(sandbox_script())
            .arg("boot")
            .arg(dir.path())
            .arg(lower)
            .stdin(Stdio::null())
            .output()
            .expect("run tests/e2e/sandbox");
        let mut runtime = Runtime {
            pid: 0,
            mode,
            boot_time: t0.elapsed(),
            dir,
        };
        assert!(
            out.status.success(),
            "boot failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        runtime.pid = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("PID 1's host PID");
        if mode == Mode::User {
            let out = runtime.sh("systemctl start user@0.service && \
                 for i in $(seq 100); do with-user-manager busctl --user status org.freedesktop.systemd1 >/dev/null 2>&1 && exit 0; sleep 0.05; done; exit 1");
            assert!(
                out.status.success(),
                "root's user manager did not start: {}",
                text(&out)
            );
            // rootful podman under a user manager: the health-check timers go to the
            // system manager, which this root has, so nothing else is needed
        }
        runtime
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `args` inside the root (as root, with the user manager's environment in user
    /// mode); stdout and stderr captured.
    pub fn exec(&self, args: &[&str]) -> Output {
        self.exec_with_input(args, None)
    }

    pub fn exec_with_input(&self, args: &[&str], input: Option<&[u8]>) -> Output {
        let mut cmd = Command::new(sandbox_script());
        cmd.arg("exec").arg(self.dir.path());
        if self.mode == Mode::User {
            cmd.arg("/usr/local/bin/with-user-manager");
        }
        cmd.args(args);
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run tests/e2e/sandbox exec");
        if let Some(input) = input {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input)
                .expect("write stdin");
        }
        child.wait_with_output().expect("wait for sandbox exec")
    }

    /// `sh -c script` inside.
    pub fn sh(&self, script: &str) -> Output {
        self.exec(&["/bin/sh", "-c", script])
    }

    /// Writes a file inside the root (through the namespace's root, seen from here).
    pub fn write(&self, path: &str, contents: &str) {
        let host = PathBuf::from(format!("/proc/{}/root{}", self.pid, path));
        std::fs::create_dir_all(host.parent().expect("parent")).expect("mkdir inside");
        std::fs::write(&host, contents).expect("write inside");
    }

    /// `strixc ARGS` inside, with this runtime's mode flag added after the subcommand when
    /// it takes one.
    pub fn strixc(&self, args: &[&str]) -> Output {
        let mut all = vec!["/usr/local/bin/strixc"];
        all.extend_from_slice(args);
        if matches!(
            args.first(),
            Some(&("apply" | "rollback" | "status" | "generations" | "diff"))
        ) {
            all.push(self.mode.flag());
        }
        self.exec(&all)
    }

    /// `systemctl [--user] ARGS`.
    pub fn systemctl(&self, args: &[&str]) -> Output {
        let mut all = vec!["systemctl"];
        all.extend_from_slice(self.mode.scope());
        all.extend_from_slice(args);
        self.exec(&all)
    }

    /// One property of a unit (`systemctl show -p P --value`).
    pub fn prop(&self, unit: &str, property: &str) -> String {
        let out = self.systemctl(&["show", "-p", property, "--value", unit]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A monotonic timestamp property in µs (0 when unset).
    pub fn mono(&self, unit: &str, property: &str) -> u64 {
        self.prop(unit, property).parse().unwrap_or(0)
    }

    /// HTTP GET inside the root's network: (status, body).
    pub fn get(&self, url: &str) -> (u16, String) {
        let out = self.exec(&["curl", "-sS", "-m", "5", "-w", "\n%{http_code}", url]);
        let body = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = body.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// HTTP POST of a JSON body inside the root's network: (status, body).
    pub fn post_json(&self, url: &str, json: &str) -> (u16, String) {
        let out = self.exec(&[
            "curl",
            "-sS",
            "-N",
            "-m",
            "30",
            "-H",
            "Content-Type: application/json",
            "-d",
            json,
            "-w",
            "\n%{http_code}",
            url,
        ]);
        let body = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = body.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// Journal lines of a unit (system or user journal), for failure messages.
    pub fn journal(&self, unit: &str, lines: usize) -> String {
        let n = lines.to_string();
        let mut args = vec!["journalctl", "--no-pager", "-o", "cat", "-n", &n];
        args.extend_from_slice(self.mode.scope());
        args.extend_from_slice(&["-u", unit]);
        text(&self.exec(&args))
    }

    /// Polls `ok` every 100 ms up to `timeout`; the elapsed time, or a panic naming `what`.
    pub fn wait(&self, timeout: Duration, what: &str, mut ok: impl FnMut() -> bool) -> Duration {
        let t0 = Instant::now();
        while !ok() {
            assert!(
                t0.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        t0.elapsed()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let out = Command::new(sandbox_script())
            .arg("halt")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .output();
        if let Ok(out) = out
            && !out.status.success()
        {
            eprintln!("sandbox halt: {}", text(&out));
        }
        // The overlay's upper dir holds files owned by root with odd modes; TempDir's own
        // removal copes, the mounts are gone with the namespace.
    }
}

/// stdout + stderr of a finished command, for messages.
pub fn text(out: &Output) -> String {
    format!(
        "[{}]\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
