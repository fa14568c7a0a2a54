//! The real `strixc` binary, run in a temporary directory: exit codes (README: "Commands"), what it
//! prints where, the `budget --json` schema, and that a broken stack writes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[path = "../benches/support/synthetic.rs"]
mod synthetic;

const BIN: &str = env!("CARGO_BIN_EXE_strixc");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `strixc ARGS` in `dir`, without colour.
fn strixc(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run strixc");
    Run {
        code: output.status.code().expect("strixc was killed by a signal"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A temporary directory holding a copy of the shipped `stack.kdl`.
fn with_shipped_stack() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("stack.kdl"), dir.path().join("stack.kdl")).unwrap();
    dir
}

/// Every file under `dir` with its size and contents, to compare before and after a run.
fn listing(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), Vec::new());
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    files
}

fn corpus(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/stacks").join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    files.sort();
    files
}

/// The first `// expect:` code of a corpus file.
fn first_expected_code(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().next().unwrap();
    let codes = line
        .strip_prefix("// expect:")
        .expect("an `// expect:` first line");
    codes.split_whitespace().next().unwrap().to_owned()
}

#[test]
fn check_accepts_the_shipped_stack() {
    let dir = with_shipped_stack();
    let before = listing(dir.path());
    let run = strixc(dir.path(), &["check"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("stack.kdl: stack `norse` is valid"),
        "{run:?}"
    );
    assert_eq!(
        before,
        listing(dir.path()),
        "check wrote into the directory"
    );
}

#[test]
fn check_reports_a_broken_stack_with_its_code_and_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let source = repo().join("tests/stacks/broken/port-conflict.kdl");
    std::fs::copy(&source, dir.path().join("port-conflict.kdl")).unwrap();
    let run = strixc(dir.path(), &["check", "-f", "port-conflict.kdl"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("strixc::agent::port_conflict"),
        "{run:?}"
    );
    assert!(run.stderr.contains("port-conflict.kdl"), "{run:?}");
    assert!(run.stderr.contains("port-conflict.kdl: 1 error"), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
}

#[test]
fn every_broken_stack_exits_1_and_writes_nothing() {
    let mut failures = Vec::new();
    for path in corpus("broken") {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&path, dir.path().join("stack.kdl")).unwrap();
        let before = listing(dir.path());
        let code = first_expected_code(&path);
        // Only the budget's verdict is wrong: `budget` prints the numbers (exit 1 still).
        let budget_verdict = expected_codes(&path)
            .iter()
            .all(|c| BUDGET_VERDICTS.contains(&c.as_str()));
        for args in [&["check"][..], &["budget"], &["budget", "--json"]] {
            let run = strixc(dir.path(), args);
            let name = path.file_name().unwrap().to_string_lossy();
            if run.code != 1 {
                failures.push(format!("{name}: `{}` exited {}", args.join(" "), run.code));
            }
            if !run.stderr.contains(&code) {
                failures.push(format!(
                    "{name}: `{}` does not report {code}",
                    args.join(" ")
                ));
            }
            let prints = budget_verdict && args[0] == "budget";
            if run.stdout.is_empty() == prints {
                failures.push(format!(
                    "{name}: `{}` {} stdout",
                    args.join(" "),
                    if prints {
                        "printed nothing to"
                    } else {
                        "printed to"
                    }
                ));
            }
            if run.stderr.contains("panicked") {
                failures.push(format!("{name}: `{}` panicked", args.join(" ")));
            }
        }
        if before != listing(dir.path()) {
            failures.push(format!("{}: a file was written", path.display()));
        }
    }
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n"));
}

#[test]
fn warnings_print_but_exit_0() {
    for path in corpus("warn") {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&path, dir.path().join("stack.kdl")).unwrap();
        let before = listing(dir.path());
        let run = strixc(dir.path(), &["check"]);
        assert_eq!(run.code, 0, "{}: {run:?}", path.display());
        assert!(run.stderr.contains(&first_expected_code(&path)), "{run:?}");
        assert!(run.stderr.contains("⚠"), "{run:?}");
        assert!(run.stderr.contains("is valid"), "{run:?}");
        let run = strixc(dir.path(), &["budget"]);
        assert_eq!(run.code, 0, "{}: {run:?}", path.display());
        assert_eq!(before, listing(dir.path()));
    }
}

#[test]
fn a_missing_file_exits_3_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let run = strixc(dir.path(), &["check"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("cannot read stack.kdl"), "{run:?}");
    assert!(run.stderr.contains("No such file"), "{run:?}");
    assert!(run.stderr.contains("or name it with -f PATH"), "{run:?}");
    let run = strixc(dir.path(), &["budget", "-f", "nope.kdl"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("nope.kdl"), "{run:?}");
    // A directory is not a stack either.
    let run = strixc(dir.path(), &["check", "-f", "."]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let dir = with_shipped_stack();
    for args in [
        &["frobnicate"][..],
        &["check", "--bogus"],
        &["budget", "--profile"],
        &["--color", "sometimes", "check"],
        &[],
    ] {
        let run = strixc(dir.path(), args);
        assert_eq!(run.code, 2, "strixc {}: {run:?}", args.join(" "));
        assert!(!run.stderr.is_empty(), "strixc {}: {run:?}", args.join(" "));
    }
}

#[test]
fn help_lists_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let run = strixc(dir.path(), &["--help"]);
    assert_eq!(run.code, 0, "{run:?}");
    for command in ["check", "budget", "model"] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(command)),
            "--help does not list `{command}`: {run:?}"
        );
    }
    assert!(run.stdout.contains("Exit codes"), "{run:?}");
}

/// Each agent of the JSON budget by name (the first profile that has it).
fn agents_by_name(json: &Value) -> BTreeMap<String, Value> {
    let mut agents = BTreeMap::new();
    for profile in json["profiles"].as_array().unwrap() {
        for agent in profile["agents"].as_array().unwrap() {
            let name = agent["name"].as_str().unwrap().to_owned();
            agents.entry(name).or_insert_with(|| agent.clone());
        }
    }
    agents
}

/// The errors that are the budget's own verdict on numbers that could be computed.
const BUDGET_VERDICTS: [&str; 4] = [
    "strixc::budget::over_budget",
    "strixc::budget::over_gpu",
    "strixc::budget::above_max_utilization",
    "strixc::budget::utilization_too_small",
];

/// Every code on the file's `// expect:` lines.
fn expected_codes(path: &Path) -> Vec<String> {
    String::from_utf8_lossy(&std::fs::read(path).unwrap())
        .lines()
        .take_while(|l| l.starts_with("//"))
        .filter_map(|l| l.strip_prefix("// expect:"))
        .flat_map(|codes| codes.split_whitespace().map(str::to_owned))
        .collect()
}

#[test]
fn budget_prints_the_numbers_when_over_budget_and_exits_1() {
    let stacks = repo().join("tests/stacks/broken");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        stacks.join("profile-over-budget.kdl"),
        dir.path().join("stack.kdl"),
    )
    .unwrap();
    let table = strixc(dir.path(), &["budget"]);
    assert_eq!(table.code, 1, "{table:?}");
    assert!(table.stdout.contains("OVER BUDGET"), "{table:?}");
    assert!(table.stdout.contains("odin") && table.stdout.contains("tyr"));
    let run = strixc(dir.path(), &["budget", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let json: Value = serde_json::from_str(&run.stdout).expect("budget --json prints JSON");
    assert_eq!(json["profiles"][0]["fits"], false, "{json}");
    assert!(run.stderr.contains("strixc::budget::over_budget"));

    // An agent above max-utilization is marked, in both outputs.
    std::fs::copy(
        stacks.join("utilization-above-cap.kdl"),
        dir.path().join("stack.kdl"),
    )
    .unwrap();
    let run = strixc(dir.path(), &["budget", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let agents = agents_by_name(&json);
    assert_eq!(agents["thor"]["over_share"], true, "{json}");
    assert_eq!(json["profiles"][0]["fits"], false, "{json}");
    let table = strixc(dir.path(), &["budget"]);
    assert_eq!(table.code, 1, "{table:?}");
    assert!(table.stdout.contains("0.95 (!)"), "{table:?}");

    // Any other error still prints nothing but the diagnostics.
    std::fs::copy(
        stacks.join("typo-does-not-hide-budget.kdl"),
        dir.path().join("stack.kdl"),
    )
    .unwrap();
    let run = strixc(dir.path(), &["budget", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
}

#[test]
fn help_lines_name_the_file_given_with_f() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("other.kdl"), b"stack \"x\"\n\xff\xfe\n").unwrap();
    let run = strixc(dir.path(), &["-f", "other.kdl", "check"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("save other.kdl as UTF-8"), "{run:?}");
    assert!(!run.stderr.contains("stack.kdl"), "{run:?}");
}

#[test]
fn budget_json_follows_the_schema() {
    let dir = with_shipped_stack();
    let run = strixc(dir.path(), &["budget", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let json: Value = serde_json::from_str(&run.stdout).expect("budget --json prints JSON");

    for field in ["memory_bytes", "gpu_memory_bytes", "reserve_bytes"] {
        assert!(
            json["host"][field].is_u64(),
            "host.{field} is not an integer: {json}"
        );
    }
    assert_eq!(json["host"]["memory_bytes"], 128u64 << 30);
    assert_eq!(json["host"]["gpu_memory_bytes"], 124u64 << 30);
    assert_eq!(json["host"]["reserve_bytes"], 8u64 << 30);

    let profiles = json["profiles"].as_array().unwrap();
    let names: Vec<&str> = profiles
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["standard", "heimdall", "loki", "frigga", "odin"]);
    for profile in profiles {
        for field in ["total_bytes", "budget_bytes"] {
            assert!(profile[field].is_u64(), "profile.{field}: {profile}");
        }
        assert_eq!(profile["fits"], Value::Bool(true), "{profile}");
        for agent in profile["agents"].as_array().unwrap() {
            assert!(
                agent["name"].is_string() && agent["model"].is_string(),
                "{agent}"
            );
            for field in [
                "context",
                "weights_bytes",
                "overhead_bytes",
                "kv_bytes_per_token",
                "kv_cache_bytes",
                "kv_cache_tokens",
                "required_bytes",
            ] {
                assert!(
                    agent[field].is_u64(),
                    "agent.{field} is not an integer: {agent}"
                );
            }
            let u = &agent["gpu_memory_utilization"];
            assert!(u.is_number(), "{agent}");
            let text = u.to_string();
            let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(
                decimals <= 2,
                "gpu_memory_utilization {text} has more than 2 decimals"
            );
            let value = u.as_f64().unwrap();
            assert!(value > 0.0 && value <= 0.90, "{agent}");
            // The KV cache strixc reserves holds at least one full context.
            assert!(
                agent["kv_cache_tokens"].as_u64() >= agent["context"].as_u64(),
                "{agent}"
            );
        }
    }

    let agents = agents_by_name(&json);
    assert_eq!(agents.len(), 6, "{agents:?}");
    assert_eq!(agents["thor"]["kv_bytes_per_token"], 196_608);
    assert_eq!(agents["valkyrie"]["kv_bytes_per_token"], 98_304);
    assert_eq!(agents["odin"]["kv_bytes_per_token"], 327_680);
    assert_eq!(agents["thor"]["weights_bytes"], 9_980_000_000u64);
    assert_eq!(agents["thor"]["context"], 32_768);
}

#[test]
fn budget_for_one_profile_shows_only_it() {
    let dir = with_shipped_stack();
    let run = strixc(dir.path(), &["budget", "--profile", "odin", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let profiles = json["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 1, "{json}");
    assert_eq!(profiles[0]["name"], "odin");
    let agents: Vec<&str> = profiles[0]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(agents, ["thor", "odin"]);

    let run = strixc(dir.path(), &["budget", "--profile", "odin"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("profile odin"), "{run:?}");
    for other in ["standard", "heimdall", "loki", "frigga"] {
        assert!(!run.stdout.contains(&format!("profile {other}")), "{run:?}");
    }
    assert!(!run.stdout.contains("valkyrie"), "{run:?}");
}

#[test]
fn budget_for_an_unknown_profile_exits_2_naming_the_profiles() {
    let dir = with_shipped_stack();
    let run = strixc(dir.path(), &["budget", "--profile", "nope"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("nope"), "{run:?}");
    for profile in ["standard", "heimdall", "loki", "frigga", "odin"] {
        assert!(run.stderr.contains(profile), "{run:?}");
    }
    assert!(run.stdout.is_empty(), "{run:?}");
}

#[test]
fn diff_and_apply_refuse_an_unknown_profile_alike_naming_the_profiles() {
    let dir = with_shipped_stack();
    let before = listing(dir.path());
    let image = dir.path().join("image");
    let image = image.to_str().unwrap();
    let apply = strixc(
        dir.path(),
        &["apply", "--profile", "nosuch", "--root", image],
    );
    let diff = strixc(
        dir.path(),
        &["diff", "--profile", "nosuch", "--root", image],
    );
    for run in [&apply, &diff] {
        assert_eq!(run.code, 2, "{run:?}");
        for profile in ["nosuch", "standard", "heimdall", "loki", "frigga", "odin"] {
            assert!(run.stderr.contains(profile), "{profile}: {run:?}");
        }
    }
    assert_eq!(diff.stderr, apply.stderr);
    assert_eq!(listing(dir.path()), before, "nothing written");
}

#[test]
fn huge_deep_and_comment_heavy_files_never_crash_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let depth = 25_000;
    let deep = format!("{}{}", "a {\n".repeat(depth), "}\n".repeat(depth));
    std::fs::write(dir.path().join("deep.kdl"), deep).unwrap();
    let run = strixc(dir.path(), &["check", "-f", "deep.kdl"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("strixc::source::too_deep"), "{run:?}");

    let huge = "// padding\n".repeat(5 * 1024 * 1024 / 11);
    std::fs::write(dir.path().join("huge.kdl"), huge).unwrap();
    let run = strixc(dir.path(), &["check", "-f", "huge.kdl"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("strixc::source::too_large"), "{run:?}");

    // Block comments are whitespace, however long or nested.
    let shipped = std::fs::read_to_string(repo().join("stack.kdl")).unwrap();
    let commented = format!(
        "{shipped}\n/* {} */\n{}{}\n",
        "* ".repeat(depth),
        "/* ".repeat(depth),
        "*/ ".repeat(depth)
    );
    std::fs::write(dir.path().join("stack.kdl"), commented).unwrap();
    let run = strixc(dir.path(), &["check"]);
    assert_eq!(run.code, 0, "{run:?}");

    let mut latin1 = shipped.into_bytes();
    latin1.insert(100, 0xe9);
    std::fs::write(dir.path().join("latin1.kdl"), latin1).unwrap();
    let run = strixc(dir.path(), &["check", "-f", "latin1.kdl"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("strixc::source::not_utf8"), "{run:?}");
    assert!(run.stderr.contains("latin1.kdl"), "{run:?}");
}

/// A minimal stack around one imported `model` node.
fn stack_with_model(model_node: &str, model_name: &str) -> String {
    format!(
        r#"stack "imported"

host {{
    memory "128GiB"
    gpu "gfx1151" memory="124GiB" unified=#true
    reserve "8GiB"
}}

runtime "vllm" {{
    image "docker.io/kyuz0/vllm-therock-gfx1151:latest"
}}

{model_node}
agent "imported" {{
    model "{model_name}"
    port 8001
    context 8192
}}

profile "standard" default=#true {{
    agents "imported"
}}
"#
    )
}

#[test]
fn an_imported_model_node_passes_check_when_pasted_into_a_stack() {
    let models = repo().join("tests/data/models");
    for fixture in [
        models.join("qwen2.5-14b-instruct-awq"),
        models.join("hf-cache/models--casperhansen--llama-3.3-70b-instruct-awq"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let run = strixc(dir.path(), &["model", "import", fixture.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}: {run:?}", fixture.display());
        let node = run.stdout.trim_start();
        let name = node
            .strip_prefix("model \"")
            .and_then(|rest| rest.split_once('"'))
            .map(|(name, _)| name)
            .unwrap_or_else(|| panic!("not a model node: {run:?}"));
        assert!(node.contains("weights \""), "{run:?}");
        std::fs::write(dir.path().join("stack.kdl"), stack_with_model(node, name)).unwrap();
        let check = strixc(dir.path(), &["check"]);
        assert_eq!(check.code, 0, "{}\n{node}\n{check:?}", fixture.display());
        assert!(check.stderr.contains("is valid"), "{check:?}");
    }
}

#[test]
fn model_import_of_a_missing_folder_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let run = strixc(dir.path(), &["model", "import", "no-such-model"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("no-such-model"), "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn the_largest_stack_builds_a_bounded_tree_and_one_more_agent_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let limit = strixc::check::MAX_AGENTS;
    assert_eq!(limit, strixc::check::MAX_PROFILES);
    std::fs::write(
        dir.path().join("stack.kdl"),
        synthetic::synthetic_stack(limit, limit),
    )
    .unwrap();
    let run = strixc(dir.path(), &["build", "-o", "out"]);
    assert_eq!(run.code, 0, "{run:?}");
    let bytes: u64 = walkdir::WalkDir::new(dir.path().join("out"))
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    eprintln!("{limit} agents, {limit} profiles: {bytes} bytes");
    assert!(bytes < 16 << 20, "{bytes} bytes for {limit} agents");

    std::fs::write(
        dir.path().join("big.kdl"),
        synthetic::synthetic_stack(limit + 1, limit + 1),
    )
    .unwrap();
    let run = strixc(dir.path(), &["-f", "big.kdl", "build", "-o", "big"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stderr.matches("strixc::stack::too_large").count(),
        2,
        "agents and profiles: {run:?}"
    );
    assert!(
        run.stderr.contains("the stack declares 257 agents"),
        "{run:?}"
    );
    assert!(!dir.path().join("big").exists(), "nothing written");
}

#[test]
fn serve_with_nothing_applied_exits_5_and_says_so() {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--user", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("run strixc");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("nothing applied yet"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(state.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn a_timeout_that_is_no_deadline_is_a_usage_error() {
    let dir = with_shipped_stack();
    let before = listing(dir.path());
    for bad in ["0s", "banana"] {
        let run = strixc(dir.path(), &["apply", "--user", "--timeout", bad]);
        assert_eq!(run.code, 2, "{bad}: {run:?}");
        assert!(run.stderr.contains("not a deadline"), "{bad}: {run:?}");
    }
    assert_eq!(listing(dir.path()), before, "nothing written");
}
