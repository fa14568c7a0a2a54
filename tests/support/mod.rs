//! Test support: a real systemd user manager on a private D-Bus per test, and trees for
//! stack "t" with native agents running `strixc-test-server`.
#![allow(dead_code)]

pub mod gateway;
pub mod opencode;
pub mod runtime;
pub mod stack;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use strixc::activate::systemd::{Bus, DbusSystemd, Systemd, UnitDetails};
use strixc::activate::{ApplyContext, Layout};

/// One sandbox: `dir/run/bus` is the bus, `dir/config` is `$XDG_CONFIG_HOME`, `dir/state`
/// is `$XDG_STATE_HOME`. Dropping it kills both process groups; systemd runs in its own PID
/// namespace, so every service it started dies with it, even when a test panics.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub bus: String,
    dbus: Child,
    systemd: Child,
}

fn root_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// podman 5.4's quadlet generator (`scripts/test-deps` puts it there), or `$STRIXC_QUADLET`.
pub fn quadlet() -> PathBuf {
    std::env::var_os("STRIXC_QUADLET")
        .map(PathBuf::from)
        .unwrap_or_else(|| root_dir().join("target/test-deps/quadlet"))
}

pub fn test_server() -> &'static str {
    env!("CARGO_BIN_EXE_strixc-test-server")
}

/// The `strixc` binary of this build.
pub fn strixc_bin() -> &'static str {
    env!("CARGO_BIN_EXE_strixc")
}

impl Sandbox {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// With the quadlet generator installed as `podman-user-generator`.
    pub fn with_quadlet() -> Self {
        Self::start_with(true)
    }

    fn start_with(quadlet_generator: bool) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("strixc-sbx-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        for sub in [
            "run",
            "run-client",
            "config/systemd/user",
            "config/containers/systemd",
            "home",
            "state",
            "log",
            "gen",
        ] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        for run in ["run", "run-client"] {
            std::fs::set_permissions(
                d.join(run),
                std::os::unix::fs::PermissionsExt::from_mode(0o700),
            )
            .expect("chmod");
        }
        let bus = format!("unix:path={}", d.join("run/bus").display());
        let log = |name: &str| std::fs::File::create(d.join("log").join(name)).expect("log file");
        let dbus = spawn_group(
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--nopidfile"])
                .arg(format!("--address={bus}"))
                .stdout(log("dbus.log"))
                .stderr(log("dbus.err")),
        );
        wait_for(
            Duration::from_secs(5),
            || d.join("run/bus").exists(),
            "dbus-daemon socket",
        );
        let mut genmount = String::new();
        if quadlet_generator {
            let q = quadlet();
            assert!(
                q.exists(),
                "quadlet not found at {}: run scripts/test-deps (or set STRIXC_QUADLET)",
                q.display()
            );
            std::os::unix::fs::symlink(&q, d.join("gen/podman-user-generator")).expect("symlink");
            genmount = format!(
                "mount --bind {} /usr/lib/systemd/user-generators; ",
                d.join("gen").display()
            );
        }
        // Each manager gets its own cgroup in every hierarchy it uses: managers started from
        // one cgroup would otherwise share paths like .../t-thor.service, and one sandbox
        // stopping a unit would kill or race with the same unit of another (exit 219).
        let cgroups = cgroup_dirs(d);
        let mut enter = String::new();
        for cg in &cgroups {
            enter.push_str(&format!(
                "mkdir -p {0} && echo 0 > {0}/cgroup.procs; ",
                cg.display()
            ));
        }
        let script = format!(
            "{enter}mount --make-rprivate /; mount -t tmpfs tmpfs /run/systemd; mkdir -p /run/systemd/system; \
             {genmount}/lib/systemd/systemd --user --log-target=console & wait"
        );
        let systemd = spawn_group(
            Command::new("unshare")
                .args(["-m", "-p", "-f", "--mount-proc", "bash", "-c", &script])
                .env_clear()
                .envs(Self::env_of(d, &bus))
                .stdout(log("systemd.log"))
                .stderr(log("systemd.err")),
        );
        let sandbox = Self {
            dir,
            bus,
            dbus,
            systemd,
        };
        wait_for(
            Duration::from_secs(10),
            || {
                DbusSystemd::connect(&sandbox.bus())
                    .is_ok_and(|sd| sd.units(&["default.target"]).is_ok())
            },
            "systemd --user on the bus",
        );
        sandbox
    }

    fn env_of(d: &Path, bus: &str) -> Vec<(String, String)> {
        vec![
            (
                "PATH".into(),
                std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into()),
            ),
            ("HOME".into(), d.join("home").display().to_string()),
            (
                "XDG_RUNTIME_DIR".into(),
                d.join("run").display().to_string(),
            ),
            (
                "XDG_CONFIG_HOME".into(),
                d.join("config").display().to_string(),
            ),
            ("DBUS_SESSION_BUS_ADDRESS".into(), bus.to_string()),
        ]
    }

    /// The environment a shell needs to reach this manager (`systemctl --user`).
    ///
    /// `XDG_RUNTIME_DIR` points to an empty directory, so `systemctl` finds no
    /// `systemd/private` socket and talks to the manager over the session bus, as strixc
    /// does: the manager runs in its own PID namespace and refuses private-socket peers from
    /// outside it ("Transport endpoint is not connected").
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Self::env_of(self.dir.path(), &self.bus);
        let client_run = self.dir.path().join("run-client");
        for (key, value) in &mut env {
            if key == "XDG_RUNTIME_DIR" {
                *value = client_run.display().to_string();
            }
        }
        env
    }

    pub fn bus(&self) -> Bus {
        Bus::Address(self.bus.clone())
    }

    pub fn config_home(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn unit_dir(&self) -> PathBuf {
        self.config_home().join("systemd/user")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state/strixc")
    }

    /// strixc's context for this sandbox: user mode, explicit dirs and bus address.
    pub fn ctx(&self) -> ApplyContext {
        let layout = Layout::user(
            Path::new("/"),
            &self.config_home(),
            &self.dir.path().join("state"),
        );
        ApplyContext::with_layout(layout, self.bus())
    }

    pub fn systemd(&self) -> DbusSystemd {
        DbusSystemd::connect(&self.bus()).expect("connect to the sandbox's manager")
    }

    pub fn details(&self, unit: &str) -> UnitDetails {
        self.systemd().details(unit).expect("unit details")
    }

    pub fn active_state(&self, unit: &str) -> String {
        self.details(unit).status.active_state
    }

    /// The environment `strixc --user` needs to use this sandbox: its bus, and
    /// `$XDG_CONFIG_HOME`, `$XDG_STATE_HOME` and `$HOME` inside it.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        let mut env = self.env();
        env.push((
            "XDG_STATE_HOME".into(),
            self.dir.path().join("state").display().to_string(),
        ));
        env
    }

    /// The real `strixc` binary with `args`, set to talk to this sandbox (`--user` is up to
    /// `args`), stdin empty.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(strixc_bin());
        command
            .args(args)
            .env_clear()
            .envs(self.cli_env())
            .stdin(Stdio::null());
        command
    }

    /// Runs [`Sandbox::command`] to the end.
    pub fn strixc(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run strixc")
    }

    /// Kills this sandbox's bus: every connection to the manager drops at once. The
    /// manager's own `dbus.socket` takes over the bus's path once it is up, and the
    /// dbus-daemon it activates is the one clients talk to: both are killed (the socket
    /// may activate a new one for the next client, as a restarted bus would).
    pub fn kill_bus(&mut self) {
        kill_group(&mut self.dbus);
        for cg in cgroup_dirs(self.dir.path()) {
            for procs in walkdir::WalkDir::new(&cg)
                .into_iter()
                .flatten()
                .filter(|e| e.file_name() == "cgroup.procs")
            {
                for pid in std::fs::read_to_string(procs.path())
                    .unwrap_or_default()
                    .split_whitespace()
                {
                    let comm =
                        std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                    if comm.trim() == "dbus-daemon" {
                        let _ = Command::new("kill").args(["-KILL", pid]).status();
                    }
                }
            }
        }
    }

    pub fn systemctl(&self, args: &[&str]) -> Output {
        Command::new("systemctl")
            .arg("--user")
            .args(args)
            .env_clear()
            .envs(self.env())
            .output()
            .expect("run systemctl")
    }
}

fn spawn_group(cmd: &mut Command) -> Child {
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn sandbox process")
}

fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// The sandbox's own cgroups: one per mounted hierarchy that systemd uses for tracking.
fn cgroup_dirs(d: &Path) -> Vec<PathBuf> {
    let name = d
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("strixc-sbx");
    [
        "/sys/fs/cgroup/systemd",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup",
    ]
    .iter()
    .map(Path::new)
    .filter(|root| root.join("cgroup.procs").exists())
    .map(|root| root.join(name))
    .collect()
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        kill_group(&mut self.systemd);
        kill_group(&mut self.dbus);
        // Empty cgroups can only be removed leaf first.
        for cg in cgroup_dirs(self.dir.path()) {
            for _ in 0..50 {
                for dir in walkdir::WalkDir::new(&cg)
                    .contents_first(true)
                    .into_iter()
                    .flatten()
                {
                    if dir.file_type().is_dir() {
                        let _ = std::fs::remove_dir(dir.path());
                    }
                }
                if !cg.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

pub fn wait_for(timeout: Duration, mut ok: impl FnMut() -> bool, what: &str) {
    let end = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A free TCP port on 127.0.0.1 for a test server: never handed out twice in this process
/// and below the ephemeral range, so a client socket cannot take it (see `stack::ports`).
pub fn free_port() -> u16 {
    stack::ports(1)[0]
}
