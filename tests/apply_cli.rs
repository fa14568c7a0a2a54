//! `strixc apply`, `diff`, `status`, `rollback`, `generations` through the real binary, on a
//! real systemd user manager (one sandbox per test), with a `stack.kdl` of native agents
//! running `strixc-test-server`: exit codes, what is printed, what is left installed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use support::Sandbox;
use support::stack::{native_kdl, ports};

fn write_stack(sbx: &Sandbox, name: &str, text: &str) -> PathBuf {
    let path = sbx.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn stack_text(odin_args: &str) -> String {
    let p = ports(3);
    native_kdl(&[p[0], p[1], p[2]], odin_args, "")
}

/// `strixc -f STACK ARGS... --user`.
fn run(sbx: &Sandbox, stack: &Path, args: &[&str]) -> Output {
    run_command(sbx, stack, args).output().expect("run strixc")
}

/// `strixc -f STACK ARGS --user` against the sandbox, not started yet.
fn run_command(sbx: &Sandbox, stack: &Path, args: &[&str]) -> std::process::Command {
    let stack = stack.to_str().unwrap();
    let mut all = vec!["-f", stack];
    all.extend_from_slice(args);
    all.push("--user");
    sbx.command(&all)
}

/// `run`, started in the background with its output piped.
fn spawn(sbx: &Sandbox, stack: &Path, args: &[&str]) -> std::process::Child {
    run_command(sbx, stack, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
}

/// Exit `code`, and standard error says each of `said`.
fn assert_fails(out: &Output, code: i32, said: &[&str]) {
    assert_exit(out, code);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for words in said {
        assert!(stderr.contains(words), "no {words:?} in:\n{}", text(out));
    }
}

/// Every file under `dir` (relative path, bytes).
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().to_path_buf(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn apply_no_op_status_diff_unknown_profile_and_rollback() {
    let sbx = Sandbox::start();
    let stack = write_stack(&sbx, "stack.kdl", &stack_text(r#""--ready-after" "0.2""#));

    let out = run(&sbx, &stack, &["apply"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("switched to profile standard (generation 1)"),
        "{}",
        text(&out)
    );
    for unit in ["r-thor.service", "r-valkyrie.service", "r-standard.target"] {
        assert_eq!(sbx.active_state(unit), "active", "{unit}\n{}", text(&out));
    }
    assert_eq!(sbx.active_state("r-odin.service"), "inactive");
    let enabled = sbx.systemctl(&["is-enabled", "r-standard.target"]);
    assert_eq!(String::from_utf8_lossy(&enabled.stdout).trim(), "enabled");

    let out = run(&sbx, &stack, &["apply"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("nothing changed"), "{}", text(&out));

    let out = run(&sbx, &stack, &["status", "--json"]);
    assert_exit(&out, 0);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json: {e}\n{}", text(&out)));
    assert_eq!(status["profile"], "standard", "{status}");
    let agents = status["agents"].as_array().expect("agents");
    assert_eq!(agents.len(), 3, "{status}");
    for agent in agents {
        let expected = if agent["name"] == "odin" {
            "inactive"
        } else {
            "active"
        };
        assert_eq!(agent["active_state"], expected, "{agent}");
    }

    let out = run(&sbx, &stack, &["diff", "--profile", "odin"]);
    assert_exit(&out, 0);
    let diff = stdout(&out);
    for line in [
        "stop     r-valkyrie.service",
        "start    r-odin.service",
        "start    r-odin.target (replace)",
    ] {
        assert!(diff.contains(line), "{line:?} missing\n{}", text(&out));
    }
    assert!(!diff.contains("r-thor.service"), "{}", text(&out));

    let out = run(&sbx, &stack, &["apply", "--profile", "nope"]);
    assert_fails(&out, 2, &["nope"]);

    let out = run(&sbx, &stack, &["apply", "--profile", "odin"]);
    assert_exit(&out, 0);
    assert_eq!(sbx.active_state("r-odin.service"), "active");
    assert_eq!(sbx.active_state("r-valkyrie.service"), "inactive");

    // Generation 1 as an older strixc recorded it: no start timeout in its manifest. The
    // rollback's deadline falls back to the stack's default start period.
    let manifest = sbx.state_dir().join("generations/1/tree/manifest.json");
    let bytes = std::fs::read(&manifest).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    for agent in json["agents"].as_array_mut().unwrap() {
        assert!(
            agent
                .as_object_mut()
                .unwrap()
                .remove("start_timeout_s")
                .is_some()
        );
    }
    std::fs::write(&manifest, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let out = run(&sbx, &stack, &["rollback"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("profile standard (generation 1)"),
        "{}",
        text(&out)
    );
    assert_eq!(sbx.active_state("r-valkyrie.service"), "active");
    assert_eq!(sbx.active_state("r-odin.service"), "inactive");
    let out = run(&sbx, &stack, &["generations"]);
    assert_exit(&out, 0);
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{}", text(&out));
    assert!(
        lines[0].starts_with("*    1") && lines[0].ends_with("standard"),
        "{}",
        text(&out)
    );
    assert!(
        lines[1].starts_with("     2") && lines[1].ends_with("odin"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_broken_stack_exits_1_and_a_failing_agent_exits_4() {
    let sbx = Sandbox::start();
    let p = ports(3);
    let p = [p[0], p[1], p[2]];
    let good_text = native_kdl(&p, r#""--ready-after" "0.2""#, "");

    // A stack with errors: diagnostics, exit 1, nothing installed, no generation.
    let broken = write_stack(
        &sbx,
        "broken.kdl",
        &good_text.replacen(
            "    model \"m\"\n    runtime \"fake\"",
            "    model \"nowhere\"\n    runtime \"fake\"",
            1,
        ),
    );
    let out = run(&sbx, &broken, &["apply"]);
    assert_fails(&out, 1, &["nowhere"]);
    assert_eq!(files(&sbx.config_home()), [], "{}", text(&out));
    assert!(!sbx.state_dir().join("generations").exists());

    let good = write_stack(&sbx, "stack.kdl", &good_text);
    assert_exit(&run(&sbx, &good, &["apply"]), 0);
    let installed = files(&sbx.config_home());

    // odin's server exits at once: exit 4 naming the agent and its unit; generation 1 and
    // its files come back, and no generation is recorded for the failed one.
    let failing = write_stack(&sbx, "failing.kdl", &native_kdl(&p, r#""--fail""#, ""));
    let out = run(&sbx, &failing, &["apply", "--profile", "odin"]);
    assert_fails(
        &out,
        4,
        &[
            "agent odin",
            "r-odin.service",
            "rolled back to generation 1",
        ],
    );
    assert_eq!(files(&sbx.config_home()), installed);
    assert_eq!(sbx.active_state("r-valkyrie.service"), "active");
    assert_ne!(sbx.active_state("r-odin.service"), "active");
    let out = run(&sbx, &good, &["generations"]);
    assert_exit(&out, 0);
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 1, "{}", text(&out));
    assert!(
        lines[0].starts_with("*    1") && lines[0].ends_with("standard"),
        "{}",
        text(&out)
    );
}

// ---- Without a manager: `--root`, the lock, modes, damaged records, exit codes. ----

/// A folder for `--root` runs, with a stack of native agents in it.
struct Root {
    dir: tempfile::TempDir,
    stack: PathBuf,
}

impl Root {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("strixc-root-")
            .tempdir()
            .unwrap();
        let stack = dir.path().join("stack.kdl");
        std::fs::write(&stack, stack_text(r#""--ready-after" "0.2""#)).unwrap();
        Self { dir, stack }
    }

    fn image(&self) -> PathBuf {
        self.dir.path().join("image")
    }

    fn state(&self) -> PathBuf {
        self.image().join("var/lib/strixc")
    }

    fn unit_dir(&self) -> PathBuf {
        self.image().join("etc/systemd/system")
    }

    /// `strixc -f STACK ARGS... --system --root IMAGE`, with `sh_prefix` run first (`umask`).
    fn run_with(&self, sh_prefix: &str, args: &[&str]) -> Output {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(format!("{sh_prefix} exec \"$@\""))
            .arg("sh")
            .arg(support::strixc_bin())
            .arg("-f")
            .arg(&self.stack)
            .args(args)
            .arg("--system")
            .arg("--root")
            .arg(self.image())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            // `--root` never needs the bus: a run that reaches for it fails.
            .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus");
        cmd.output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with("", args)
    }

    /// Every file under the image except the state folder's lock, with a hash of its bytes.
    fn installed(&self) -> Vec<(PathBuf, u64)> {
        use std::hash::{Hash, Hasher};
        files(&self.image())
            .into_iter()
            .filter(|(p, _)| !p.ends_with("lock"))
            .map(|(p, bytes)| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut h);
                (p, h.finish())
            })
            .collect()
    }
}

#[test]
fn root_apply_under_umask_000_creates_fixed_modes() {
    use std::os::unix::fs::PermissionsExt;
    let root = Root::new();
    let out = root.run_with("umask 000;", &["apply"]);
    assert_exit(&out, 0);
    let mut seen = 0;
    for entry in walkdir::WalkDir::new(root.image()).min_depth(1) {
        let entry = entry.unwrap();
        let meta = entry.path().symlink_metadata().unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        let want = if meta.is_dir() {
            0o755
        } else if meta.file_type().is_symlink() {
            continue;
        } else {
            0o644
        };
        assert_eq!(
            mode,
            want,
            "{} is {mode:o} under umask 000",
            entry.path().display()
        );
        seen += 1;
    }
    // The state folder, a generation tree and the unit folder were among them.
    assert!(seen > 10, "{seen}");
    assert!(root.state().join("generations/1/tree").is_dir());
}

#[test]
fn root_apply_enables_the_default_target_like_systemctl_enable() {
    let root = Root::new();
    assert_exit(&root.run(&["apply"]), 0);
    let target = "r-standard.target";
    let body = std::fs::read_to_string(root.unit_dir().join(target)).unwrap();
    let wanted_by: Vec<&str> = body
        .lines()
        .find_map(|l| l.strip_prefix("WantedBy="))
        .expect("the target has [Install] WantedBy=")
        .split_whitespace()
        .collect();
    assert!(!wanted_by.is_empty());
    for by in &wanted_by {
        let link = root.unit_dir().join(format!("{by}.wants")).join(target);
        assert_eq!(
            std::fs::read_link(&link).unwrap_or_else(|e| panic!("{}: {e}", link.display())),
            Path::new("..").join(target)
        );
        // It resolves to the installed target inside the image.
        assert_eq!(std::fs::read_to_string(&link).unwrap(), body);
    }
    // A second apply changes nothing.
    let out = root.run(&["apply"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("nothing changed"), "{}", text(&out));
    // Another default profile: its target is enabled, the old one's links go.
    let text_now = std::fs::read_to_string(&root.stack).unwrap();
    std::fs::write(
        &root.stack,
        text_now
            .replace(
                r#"profile "standard" default=#true {"#,
                r#"profile "standard" {"#,
            )
            .replace(r#"profile "odin" {"#, r#"profile "odin" default=#true {"#),
    )
    .unwrap();
    assert_exit(&root.run(&["apply"]), 0);
    for by in &wanted_by {
        let dir = root.unit_dir().join(format!("{by}.wants"));
        assert!(!dir.join(target).exists(), "{by}: the old default stays");
        assert_eq!(
            std::fs::read_link(dir.join("r-odin.target")).unwrap(),
            Path::new("../r-odin.target")
        );
    }
}

#[test]
fn root_status_reports_the_recorded_generation_without_a_bus() {
    let root = Root::new();
    assert_exit(&root.run(&["apply"]), 0);
    let out = root.run(&["status"]);
    assert_exit(&out, 0);
    let said = stdout(&out);
    for words in [
        "generation 1 (profile standard)",
        "live states are not available",
        "* thor",
        "r-thor.service",
        "  odin",
    ] {
        assert!(said.contains(words), "{words:?}\n{}", text(&out));
    }
    let out = root.run(&["status", "--json"]);
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["live"], false, "{json}");
    assert_eq!(json["active_profiles"], serde_json::json!([]), "{json}");
    let agents = json["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 3, "{json}");
    assert!(
        agents.iter().all(|a| a.get("active_state").is_none()),
        "{json}"
    );
    let out = root.run(&["diff"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("note: --root: nothing runs there, so no unit actions"),
        "{}",
        text(&out)
    );
    // Each command's --help says what --root means for it.
    for (command, words) in [
        ("apply", "start nothing"),
        ("rollback", "previous generation's files"),
        ("diff", "no unit actions"),
        ("status", "live states"),
        ("generations", "recorded under this prefix"),
    ] {
        let help = std::process::Command::new(support::strixc_bin())
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = stdout(&help)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(help.contains(words), "{command}: {words:?}\n{help}");
    }
}

#[test]
fn a_planted_lock_symlink_is_refused_and_its_target_untouched() {
    let root = Root::new();
    std::fs::create_dir_all(root.state()).unwrap();
    let victim = root.dir.path().join("victim");
    std::fs::write(&victim, "someone else's file\n").unwrap();
    std::os::unix::fs::symlink(&victim, root.state().join("lock")).unwrap();
    let out = root.run(&["apply"]);
    assert_fails(&out, 3, &["symbolic link", "lock"]);
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "someone else's file\n"
    );
    assert!(!root.unit_dir().exists(), "{}", text(&out));
}

#[test]
fn a_damaged_generation_record_stops_apply_before_it_changes_anything() {
    let root = Root::new();
    assert_exit(&root.run(&["apply"]), 0);
    assert_exit(&root.run(&["apply", "--profile", "odin"]), 0);
    let record = root.state().join("generations/1/generation.json");
    std::fs::write(&record, "{\"number\": 1, \"profile\"").unwrap();
    let before = root.installed();
    // A change to install: nothing of it may happen.
    let changed = std::fs::read_to_string(&root.stack)
        .unwrap()
        .replace("context 4096", "context 2048");
    std::fs::write(&root.stack, changed).unwrap();
    for args in [&["apply"][..], &["rollback"], &["generations"], &["status"]] {
        let out = root.run(args);
        assert_fails(&out, 3, &[record.display().to_string().as_str()]);
    }
    assert_eq!(root.installed(), before);
}

#[test]
fn rollback_to_a_generation_with_a_damaged_manifest_names_it_and_changes_nothing() {
    let root = Root::new();
    assert_exit(&root.run(&["apply"]), 0);
    assert_exit(&root.run(&["apply", "--profile", "odin"]), 0);
    let manifest = root.state().join("generations/1/tree/manifest.json");
    let good = std::fs::read(&manifest).unwrap();
    let path = manifest.display().to_string();
    for damage in ["garbled", "missing"] {
        match damage {
            "garbled" => std::fs::write(&manifest, "{\"stack\": ").unwrap(),
            _ => std::fs::remove_file(&manifest).unwrap(),
        }
        let before = root.installed();
        let out = root.run(&["rollback"]);
        assert_fails(&out, 3, &[&path, "generation 1", "nothing was changed"]);
        assert_eq!(root.installed(), before, "{damage}");
        std::fs::write(&manifest, &good).unwrap();
    }
    let out = root.run(&["rollback"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("generation 1"), "{}", text(&out));
}

#[test]
fn a_folder_named_u64_max_is_named_and_never_wraps_numbering() {
    let root = Root::new();
    assert_exit(&root.run(&["apply"]), 0);
    let before = root.installed();
    let max = root.state().join("generations/18446744073709551615");
    std::fs::create_dir_all(&max).unwrap();
    let out = root.run(&["apply", "--profile", "odin"]);
    assert_fails(&out, 3, &[max.display().to_string().as_str()]);
    assert!(!root.state().join("generations/0").exists());
    std::fs::remove_dir(&max).unwrap();
    assert_eq!(
        root.installed(),
        before
            .into_iter()
            .filter(|(p, _)| !p.starts_with("var/lib/strixc/generations/18446744073709551615"))
            .collect::<Vec<_>>()
    );
    // Without it, numbering goes on from the records.
    let out = root.run(&["apply", "--profile", "odin"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("generation 2"), "{}", text(&out));
}

#[test]
fn status_and_rollback_with_nothing_applied_exit_5() {
    let root = Root::new();
    for args in [&["status"][..], &["rollback"]] {
        let out = root.run(args);
        assert_fails(&out, 5, &["nothing applied yet"]);
    }
    assert_exit(&root.run(&["apply"]), 0);
    let out = root.run(&["rollback"]);
    assert_fails(&out, 5, &["nothing to roll back to"]);
    // --help documents it.
    let help = std::process::Command::new(support::strixc_bin())
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        stdout(&help).contains("5  nothing to act on"),
        "{}",
        text(&help)
    );
}

#[test]
fn apply_dry_run_without_a_bus_shows_the_files_like_diff() {
    let root = Root::new();
    let home = root.dir.path().join("home");
    let run = |args: &[&str]| {
        std::process::Command::new(support::strixc_bin())
            .arg("-f")
            .arg(&root.stack)
            .args(args)
            .arg("--user")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", root.dir.path().join("no-bus").display()),
            )
            .output()
            .unwrap()
    };
    let dry = run(&["apply", "--dry-run"]);
    assert_exit(&dry, 0);
    let diff = run(&["diff"]);
    assert_exit(&diff, 0);
    assert_eq!(
        stdout(&dry),
        format!(
            "dry run: switching to profile standard would\n{}",
            stdout(&diff)
        )
    );
    for line in ["create ", "r-thor.service", "note: unit actions unknown"] {
        assert!(stdout(&dry).contains(line), "{line:?}\n{}", text(&dry));
    }
    assert!(!home.join(".config").exists(), "{}", text(&dry));
    assert!(!home.join(".local/state/strixc/generations").exists());
}

#[test]
fn system_mode_as_non_root_says_it_needs_root() {
    let root = Root::new();
    // `nobody` must be able to read the stack.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(support::strixc_bin())
            .arg("-f")
            .arg(&root.stack)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", "/nonexistent")
            .output()
            .unwrap()
    };
    for args in [&["apply", "--system"][..], &["rollback", "--system"]] {
        let out = run(args);
        assert_fails(&out, 2, &["needs root"]);
    }
}

// ---- Crashes, closed pipes and a lost bus, on a real manager. ----

/// The stack of `stack_text` with one more agent, `loki`, in the default profile.
fn with_loki(base: &str, port: u16) -> String {
    let agent = format!(
        "agent \"loki\" {{\n    model \"m\"\n    runtime \"fake\"\n    port {port}\n    context 4096\n}}\n"
    );
    base.replacen(
        "profile \"standard\"",
        &format!("{agent}profile \"standard\""),
        1,
    )
    .replacen(
        "agents \"thor\" \"valkyrie\"",
        "agents \"thor\" \"valkyrie\" \"loki\"",
        1,
    )
}

/// `strixc -f STACK apply --user` that SIGKILLs itself at `step`.
fn killed_at(sbx: &Sandbox, stack: &Path, step: &str) {
    let out = run_command(sbx, stack, &["apply"])
        .env("STRIXC_TEST_KILL_AT", step)
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(9), "{step}: {}", text(&out));
    assert!(
        sbx.state_dir().join("transaction/intent.json").exists(),
        "{step}: the journal is there"
    );
}

/// loki is not running, not installed, and not in the current generation.
fn assert_no_loki(sbx: &Sandbox, step: &str, out: &Output) {
    assert_ne!(
        sbx.active_state("r-loki.service"),
        "active",
        "{step}: loki still runs\n{}",
        text(out)
    );
    assert!(
        !sbx.unit_dir().join("r-loki.service").exists(),
        "{step}: loki still installed\n{}",
        text(out)
    );
    assert!(
        !sbx.state_dir().join("transaction").exists(),
        "{step}: the journal was not retired\n{}",
        text(out)
    );
    assert_eq!(sbx.active_state("r-valkyrie.service"), "active", "{step}");
}

#[test]
fn a_killed_apply_is_undone_by_the_next_status_apply_or_rollback() {
    let sbx = Sandbox::start();
    let p = ports(4);
    let base = native_kdl(&[p[0], p[1], p[2]], r#""--ready-after" "0.2""#, "");
    let a = write_stack(&sbx, "a.kdl", &base);
    let b = write_stack(&sbx, "b.kdl", &with_loki(&base, p[3]));
    assert_exit(&run(&sbx, &a, &["apply"]), 0);
    let installed = files(&sbx.config_home());

    for (step, next) in [
        ("journal", "status"),
        ("installing", "apply"),
        ("installed", "status"),
        ("started", "status"),
        ("started", "apply"),
        ("stored", "status"),
    ] {
        killed_at(&sbx, &b, step);
        let out = run(&sbx, &a, &[next]);
        assert_exit(&out, 0);
        let said = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
        assert!(
            said.contains("undid the interrupted switch, the apply of profile standard"),
            "{step}, then {next}: {}",
            text(&out)
        );
        assert_no_loki(&sbx, step, &out);
        assert_eq!(files(&sbx.config_home()), installed, "{step}, then {next}");
        // Only generation 1 is recorded: an undone switch leaves no record to roll back to.
        let listed = run(&sbx, &a, &["generations"]);
        assert_eq!(
            stdout(&listed).lines().count(),
            1,
            "{step}: {}",
            text(&listed)
        );
        if next == "status" {
            assert!(!stdout(&out).contains("loki"), "{}", text(&out));
        } else {
            assert!(stdout(&out).contains("nothing changed"), "{}", text(&out));
        }
    }

    // rollback: the interrupted switch is undone, then generation 2 rolls back to 1.
    assert_exit(&run(&sbx, &a, &["apply", "--profile", "odin"]), 0);
    killed_at(&sbx, &b, "started");
    let out = run(&sbx, &a, &["rollback"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("undid the interrupted switch")
            && stdout(&out).contains("profile standard (generation 1)"),
        "{}",
        text(&out)
    );
    assert_no_loki(&sbx, "rollback", &out);
    assert_eq!(sbx.active_state("r-odin.service"), "inactive");

    // Killed after the generation was recorded: the switch was complete, only the journal
    // is left to clear, and loki is visible.
    killed_at(&sbx, &b, "recorded");
    let out = run(&sbx, &a, &["status"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("had completed") && stdout(&out).contains("r-loki.service"),
        "{}",
        text(&out)
    );
    assert_eq!(sbx.active_state("r-loki.service"), "active");
    assert!(!sbx.state_dir().join("transaction").exists());
}

#[test]
fn a_damaged_current_manifest_stops_every_switch_and_loses_no_agent() {
    let sbx = Sandbox::start();
    let p = ports(4);
    let base = native_kdl(&[p[0], p[1], p[2]], r#""--ready-after" "0.2""#, "");
    let a = write_stack(&sbx, "a.kdl", &base);
    let b = write_stack(&sbx, "b.kdl", &with_loki(&base, p[3]));
    assert_exit(&run(&sbx, &b, &["apply"]), 0);
    assert_eq!(sbx.active_state("r-loki.service"), "active");
    let manifest = sbx.state_dir().join("generations/1/tree/manifest.json");
    std::fs::write(&manifest, r#"{"stack": "r", "agents": ["#).unwrap();
    let installed = files(&sbx.config_home());
    // The stack without loki: a switch planned without generation 1's manifest would
    // remove loki's unit file and leave loki running, unknown to strixc.
    let path = manifest.display().to_string();
    for args in [&["apply"][..], &["diff"], &["status"]] {
        let out = run(&sbx, &a, args);
        assert_fails(&out, 3, &[&path, "damaged", "systemctl stop STACK.slice"]);
    }
    assert_eq!(sbx.active_state("r-loki.service"), "active");
    assert_eq!(files(&sbx.config_home()), installed);
    assert!(!sbx.state_dir().join("transaction").exists());
}

#[test]
fn a_closed_pipe_never_stops_a_switch_halfway() {
    use std::io::BufRead;
    let sbx = Sandbox::start();
    let p = ports(3);
    let stack = write_stack(
        &sbx,
        "stack.kdl",
        &native_kdl(&[p[0], p[1], p[2]], r#""--ready-after" "0.2""#, ""),
    );
    // Slow starters: progress lines keep coming after the reader is gone.
    let text_now = std::fs::read_to_string(&stack)
        .unwrap()
        .replace(r#""--ready-after" "0.2""#, r#""--ready-after" "1.5""#);
    std::fs::write(&stack, text_now).unwrap();
    let mut child = spawn(&sbx, &stack, &["apply"]);
    // `| head -1` on both: read one progress line, then close both pipes.
    drop(child.stdout.take());
    let mut first = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    let status = child.wait().unwrap();
    // The switch completed and was recorded; the lost report does not change that.
    assert_eq!(status.code(), Some(0), "{status:?} after {first:?}");
    for unit in ["r-thor.service", "r-valkyrie.service", "r-standard.target"] {
        assert_eq!(sbx.active_state(unit), "active", "{unit}");
    }
    let out = run(&sbx, &stack, &["status"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("generation 1"), "{}", text(&out));
    assert!(!sbx.state_dir().join("transaction").exists());
}

#[test]
fn a_bus_that_dies_mid_apply_is_noticed_at_once() {
    let mut sbx = Sandbox::start();
    let p = ports(3);
    let good = write_stack(
        &sbx,
        "stack.kdl",
        &native_kdl(&[p[0], p[1], p[2]], r#""--ready-after" "0.2""#, ""),
    );
    assert_exit(&run(&sbx, &good, &["apply"]), 0);
    let installed = files(&sbx.config_home());
    // odin takes a minute to be ready: the bus dies while apply waits for it.
    let slow = write_stack(
        &sbx,
        "slow.kdl",
        &native_kdl(&[p[0], p[1], p[2]], r#""--ready-after" "60""#, ""),
    );
    let child = spawn(&sbx, &slow, &["apply", "--profile", "odin"]);
    support::wait_for(
        Duration::from_secs(20),
        || sbx.active_state("r-odin.service") == "activating",
        "odin activating",
    );
    sbx.kill_bus();
    let killed = Instant::now();
    let out = child.wait_with_output().unwrap();
    let took = killed.elapsed();
    assert_fails(&out, 3, &["lost the D-Bus connection", "generation 1"]);
    // Far below the 20-minute deadline the old code waited for.
    assert!(took < Duration::from_secs(60), "noticed after {took:?}");
    // The files of generation 1 are back.
    assert_eq!(files(&sbx.config_home()), installed, "{}", text(&out));
    // The manager's dbus.socket brings a new bus up, as a restarted dbus would: either
    // strixc reconnected and restored generation 1 itself, or its journal stayed and the
    // next command does it. Either way, odin ends stopped and nothing is pending.
    let journal = sbx.state_dir().join("transaction/intent.json");
    if journal.exists() {
        assert_fails(&out, 3, &["journal"]);
        let mut status = run(&sbx, &good, &["status"]);
        for _ in 0..50 {
            if status.status.code() == Some(0) {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
            status = run(&sbx, &good, &["status"]);
        }
        assert_exit(&status, 0);
        assert!(
            stdout(&status).contains("undid the interrupted switch, the apply of profile odin"),
            "{}",
            text(&status)
        );
    } else {
        // The rollback's outcome in the one wording a failed apply reports it.
        assert_fails(
            &out,
            3,
            &["reconnected: rolled back to generation 1 (profile standard)"],
        );
    }
    assert!(!journal.exists());
    assert_ne!(sbx.active_state("r-odin.service"), "active");
    assert_eq!(sbx.active_state("r-valkyrie.service"), "active");
}

#[test]
fn a_missing_device_is_named_before_anything_changes() {
    let sbx = Sandbox::start();
    let p = ports(1);
    let kdl = format!(
        r#"stack "d"
host {{
    memory "64GiB"
    gpu "gfx1151" memory="60GiB" unified=#true
    podman "5.4"
}}
runtime "vllm" {{
    image "localhost/none:latest"
    device "/dev/null"
    device "/dev/strixc-absent-kfd"
    health "/health"
}}
model "m" {{
    repo "org/m"
    quant "awq"
    weights "1GB"
    layers 2
    kv-heads 1
    head-dim 64
    max-context 4096
}}
agent "a" {{
    model "m"
    port {}
    context 1024
}}
profile "p" default=#true {{
    agents "a"
}}
"#,
        p[0]
    );
    let stack = write_stack(&sbx, "devices.kdl", &kdl);
    let out = run(&sbx, &stack, &["apply"]);
    assert_exit(&out, 4);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("agent a needs the device /dev/strixc-absent-kfd")
            && !err.contains("/dev/null,"),
        "{}",
        text(&out)
    );
    assert!(
        files(&sbx.config_home()).is_empty(),
        "nothing installed: {:?}",
        files(&sbx.config_home())
    );
}
