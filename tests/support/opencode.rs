//! The real OpenCode client (`opencode-ai` from the npm registry, installed outside the
//! repository by `scripts/install-opencode`, which `scripts/test-deps` runs), driven the way
//! a user would: `opencode run --model PROVIDER/MODEL PROMPT` in a project folder whose
//! `opencode.json` is the one `strixc build` generated, with `HOME` and the XDG folders in a
//! scratch directory so nothing of the machine's own OpenCode setup is read or written.
//!
//! OpenCode needs no network for this: the generated provider is an OpenAI-compatible server
//! on the loopback; its model catalogue fetch and update check are switched off.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The version `scripts/install-opencode` installs.
pub const VERSION: &str = "1.18.33";

/// Where `scripts/install-opencode` installs by default.
pub const DEFAULT_DIR: &str = "/var/cache/strixc-e2e/opencode";

/// An installed `opencode` binary.
pub struct Opencode {
    pub bin: PathBuf,
    /// Run inside the network namespace of this process (a booted test root, whose
    /// loopback holds the agents), with the host's files.
    pub netns_of: Option<u32>,
}

/// One `opencode run`.
#[derive(Debug)]
pub struct RunOutput {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub timed_out: bool,
    /// Killed because the caller's `stop` said so.
    pub stopped: bool,
}

impl RunOutput {
    /// Both streams, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "exit {:?}{}{} after {:.1} s\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            if self.timed_out { " (timed out)" } else { "" },
            if self.stopped { " (stopped)" } else { "" },
            self.elapsed.as_secs_f64(),
            tail(&self.stdout, 4000),
            tail(&self.stderr, 4000),
        )
    }
}

fn tail(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

impl Opencode {
    /// `$STRIXC_OPENCODE` (a binary), else the binary under `$STRIXC_OPENCODE_DIR` or
    /// [`DEFAULT_DIR`]; an error saying how to install it when there is none.
    pub fn find() -> Result<Self, String> {
        let bin = match std::env::var_os("STRIXC_OPENCODE") {
            Some(bin) => PathBuf::from(bin),
            None => std::env::var_os("STRIXC_OPENCODE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
                .join("node_modules/.bin/opencode"),
        };
        if bin.is_file() {
            Ok(Opencode {
                bin,
                netns_of: None,
            })
        } else {
            Err(format!(
                "no OpenCode at {}: run scripts/install-opencode (or set STRIXC_OPENCODE)",
                bin.display()
            ))
        }
    }

    /// What `opencode --version` prints.
    pub fn version(&self) -> String {
        let out = Command::new(&self.bin)
            .arg("--version")
            .output()
            .expect("run opencode --version");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Runs `opencode run --model MODEL PROMPT` once in a new scratch folder: `project/`
    /// holds `config` as `opencode.json` (OpenCode's project configuration, read from the
    /// working directory), `home/` is `HOME` and every XDG folder. Killed after `timeout`.
    pub fn run(&self, config: &[u8], model: &str, prompt: &str, timeout: Duration) -> RunOutput {
        let scratch = tempfile::Builder::new()
            .prefix("strixc-opencode-")
            .tempdir()
            .expect("tempdir");
        self.run_in(scratch.path(), config, model, prompt, timeout, &mut || {
            false
        })
    }

    /// [`Opencode::run`] in a given scratch folder (kept afterwards), killed early when
    /// `stop` (asked every 50 ms) returns true: OpenCode does not exit on a refused request,
    /// it retries.
    pub fn run_in(
        &self,
        scratch: &Path,
        config: &[u8],
        model: &str,
        prompt: &str,
        timeout: Duration,
        stop: &mut dyn FnMut() -> bool,
    ) -> RunOutput {
        let project = scratch.join("project");
        let home = scratch.join("home");
        std::fs::create_dir_all(&project).expect("mkdir project");
        std::fs::create_dir_all(&home).expect("mkdir home");
        std::fs::write(project.join("opencode.json"), config).expect("write opencode.json");
        let stdout_path = scratch.join("stdout");
        let stderr_path = scratch.join("stderr");
        let mut cmd = match self.netns_of {
            Some(pid) => {
                let mut cmd = Command::new("nsenter");
                cmd.args(["-t", &pid.to_string(), "-n", "--"])
                    .arg(&self.bin);
                cmd
            }
            None => Command::new(&self.bin),
        };
        cmd.args(["run", "--model", model, prompt])
            .current_dir(&project)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("TERM", "dumb")
            .env("NO_COLOR", "1")
            // Offline: no models.dev catalogue, no update check, nothing shared.
            .env("OPENCODE_DISABLE_MODELS_FETCH", "1")
            .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
            .env("OPENCODE_DISABLE_SHARE", "1")
            .env("OPENCODE_DISABLE_LSP_DOWNLOAD", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
        // Its own process group, so a timeout kills whatever it started too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let start = Instant::now();
        let mut child = cmd.spawn().expect("spawn opencode");
        let (mut timed_out, mut stopped) = (false, false);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait opencode") {
                break status;
            }
            timed_out = start.elapsed() > timeout;
            stopped = !timed_out && stop();
            if timed_out || stopped {
                // SIGKILL to the group: OpenCode busy retrying does not always stop on
                // SIGTERM.
                super::kill_group(&mut child);
                break child.wait().expect("wait opencode");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let elapsed = start.elapsed();
        let read =
            |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
        RunOutput {
            success: status.success() && !timed_out && !stopped,
            code: status.code(),
            stdout: read(&stdout_path),
            stderr: read(&stderr_path),
            elapsed,
            timed_out,
            stopped,
        }
    }
}

/// The `PROVIDER/MODEL` that selects `provider`'s one model in a generated
/// `opencode.json` (strixc writes one model per provider, keyed by the served model id).
pub fn model_of(opencode_json: &[u8], provider: &str) -> String {
    let config: Value = serde_json::from_slice(opencode_json).expect("opencode.json is JSON");
    let models = config["provider"][provider]["models"]
        .as_object()
        .unwrap_or_else(|| panic!("no provider `{provider}` in opencode.json"));
    assert_eq!(models.len(), 1, "provider `{provider}` has one model");
    let id = models.keys().next().expect("one model");
    format!("{provider}/{id}")
}
