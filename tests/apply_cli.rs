//! `strixc apply`, `diff`, `status`, `rollback`, `generations` through the real binary, on a
//! real systemd user manager (one sandbox per test), with a `stack.kdl` of native agents
//! running `strixc-test-server`: exit codes, what is printed, what is left installed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

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
    let stack = stack.to_str().unwrap();
    let mut all = vec!["-f", stack];
    all.extend_from_slice(args);
    all.push("--user");
    sbx.strixc(&all)
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
    assert_exit(&out, 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nope"),
        "{}",
        text(&out)
    );

    let out = run(&sbx, &stack, &["apply", "--profile", "odin"]);
    assert_exit(&out, 0);
    assert_eq!(sbx.active_state("r-odin.service"), "active");
    assert_eq!(sbx.active_state("r-valkyrie.service"), "inactive");

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
    assert_exit(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nowhere"),
        "{}",
        text(&out)
    );
    assert_eq!(files(&sbx.config_home()), [], "{}", text(&out));
    assert!(!sbx.state_dir().join("generations").exists());

    let good = write_stack(&sbx, "stack.kdl", &good_text);
    assert_exit(&run(&sbx, &good, &["apply"]), 0);
    let installed = files(&sbx.config_home());

    // odin's server exits at once: exit 4 naming the agent and its unit; generation 1 and
    // its files come back, and no generation is recorded for the failed one.
    let failing = write_stack(&sbx, "failing.kdl", &native_kdl(&p, r#""--fail""#, ""));
    let out = run(&sbx, &failing, &["apply", "--profile", "odin"]);
    assert_exit(&out, 4);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("agent odin") && stderr.contains("r-odin.service"),
        "{}",
        text(&out)
    );
    assert!(
        stderr.contains("rolled back to generation 1"),
        "{}",
        text(&out)
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
