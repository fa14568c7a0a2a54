//! `strixc apply` and friends on a real systemd user manager (one sandbox per test), with
//! native agents running `strixc-test-server`.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use strixc::activate::systemd::Systemd;
use strixc::activate::{self, ApplyOptions, Outcome, ProgressMode, RollbackOutcome};
use strixc::error::{Error, ExitCode};
use support::Sandbox;
use support::stack::Stack;

fn opts() -> ApplyOptions {
    ApplyOptions {
        progress: ProgressMode::Plain,
        ..ApplyOptions::default()
    }
}

fn apply_ok(sbx: &Sandbox, stack: &Stack, profile: &str) -> activate::ApplyReport {
    match activate::apply(&sbx.ctx(), &stack.tree(), Some(profile), &opts()) {
        Ok(report) => report,
        Err(e) => panic!("apply {profile} failed: {e}"),
    }
}

fn mtimes(dir: &std::path::Path) -> Vec<(PathBuf, SystemTime)> {
    let mut all: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| {
            (
                e.path().to_path_buf(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn first_apply_starts_every_agent_of_the_profile() {
    let sbx = Sandbox::start();
    let mut stack = Stack::norse();
    stack
        .extra_files
        .push(("sysctl.d/90-t.conf".into(), "vm.swappiness = 80\n".into()));
    stack
        .extra_files
        .push(("kernel/cmdline.txt".into(), "amd_iommu=off\n".into()));
    let report = apply_ok(&sbx, &stack, "standard");
    assert_eq!(report.outcome, Outcome::Applied);
    // User mode: host tuning is listed with what root should run, and not installed.
    let skipped: Vec<&str> = report
        .skipped
        .iter()
        .map(|s| s.tree_path.as_str())
        .collect();
    assert_eq!(skipped, ["kernel/cmdline.txt", "sysctl.d/90-t.conf"]);
    let text = report.render();
    assert!(
        text.contains(
            "sudo install -D -m 0644 generated/sysctl.d/90-t.conf /etc/sysctl.d/90-t.conf"
        ),
        "{text}"
    );
    assert!(
        text.contains("switched to profile standard (generation 1)"),
        "{text}"
    );
    assert_eq!(report.generation, Some(1));
    for agent in ["thor", "valkyrie"] {
        assert_eq!(sbx.active_state(&stack.unit(agent)), "active", "{agent}");
    }
    assert_eq!(sbx.active_state(&stack.unit("odin")), "inactive");
    assert_eq!(sbx.active_state(&stack.target("standard")), "active");
    // Waiting covered readiness: every agent answers its health check right away.
    let status = activate::status(&sbx.ctx()).unwrap();
    assert_eq!(status.active_profiles, ["standard"]);
    assert!(status.live);
    for a in status.agents.iter().filter(|a| a.in_profile) {
        let health = a.live.as_ref().and_then(|l| l.health.as_ref());
        assert_eq!(
            health.and_then(|h| h.status),
            Some(200),
            "{}: {health:?}",
            a.name,
        );
    }
    let json: serde_json::Value = serde_json::from_str(&status.to_json()).unwrap();
    assert_eq!(json["profile"], "standard");
}

#[test]
fn connections_and_their_threads_are_released() {
    let sbx = Sandbox::start();
    // Count only strixc's connection readers; other tests run in parallel, hence the slack.
    let readers = || {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.trim() == strixc::activate::systemd::READER_THREAD)
            })
            .count()
    };
    let before = readers();
    let held: Vec<_> = (0..30).map(|_| sbx.systemd()).collect();
    assert!(readers() >= held.len(), "one reader thread per connection");
    drop(held);
    support::wait_for(
        Duration::from_secs(5),
        || readers() < before + 10,
        "reader threads to exit",
    );
}

#[test]
fn second_apply_changes_nothing() {
    let sbx = Sandbox::start();
    let stack = Stack::norse();
    apply_ok(&sbx, &stack, "standard");
    let before_files = mtimes(sbx.dir.path().join("config").as_path());
    let before_state = mtimes(&sbx.state_dir());
    let thor = sbx.details(&stack.unit("thor"));
    let started = Instant::now();
    let report = apply_ok(&sbx, &stack, "standard");
    let took = started.elapsed();
    assert_eq!(report.outcome, Outcome::Unchanged);
    assert!(report.written.is_empty() && report.removed.is_empty());
    assert!(report.actions.is_noop());
    assert_eq!(
        mtimes(sbx.dir.path().join("config").as_path()),
        before_files
    );
    // No generation recorded either (the lock file may be rewritten; it holds the pid).
    let state: Vec<_> = mtimes(&sbx.state_dir())
        .into_iter()
        .filter(|(p, _)| !p.ends_with("lock"))
        .collect();
    let before: Vec<_> = before_state
        .into_iter()
        .filter(|(p, _)| !p.ends_with("lock"))
        .collect();
    assert_eq!(state, before);
    // No job touched the units.
    let again = sbx.details(&stack.unit("thor"));
    assert_eq!(again.state_change_usec, thor.state_change_usec);
    assert_eq!(again.exec_main_start_usec, thor.exec_main_start_usec);
    // No timing bound (a busy machine is slow): nothing written and no job is the proof.
    eprintln!("no-op apply took {took:?}");
    assert!(report.render().contains("nothing changed"));
}

#[test]
fn switching_stops_before_starting_and_leaves_shared_agents_alone() {
    let sbx = Sandbox::start();
    let stack = Stack::norse();
    apply_ok(&sbx, &stack, "standard");
    let thor = sbx.details(&stack.unit("thor"));

    let report = apply_ok(&sbx, &stack, "odin");
    assert_eq!(report.actions.stop, [stack.unit("valkyrie")]);
    assert_eq!(report.actions.start, [stack.unit("odin")]);
    let valkyrie = sbx.details(&stack.unit("valkyrie"));
    let odin = sbx.details(&stack.unit("odin"));
    assert_eq!(valkyrie.status.active_state, "inactive");
    assert_eq!(odin.status.active_state, "active");
    assert!(
        valkyrie.inactive_enter_usec <= odin.exec_main_start_usec,
        "valkyrie stopped at {} after odin started at {}",
        valkyrie.inactive_enter_usec,
        odin.exec_main_start_usec
    );
    assert_eq!(sbx.active_state(&stack.target("standard")), "inactive");
    let thor_after = sbx.details(&stack.unit("thor"));
    assert_eq!(
        thor_after.active_enter_usec, thor.active_enter_usec,
        "thor was touched"
    );
    assert_eq!(thor_after.exec_main_start_usec, thor.exec_main_start_usec);

    // And back.
    let report = apply_ok(&sbx, &stack, "standard");
    assert_eq!(report.actions.stop, [stack.unit("odin")]);
    let valkyrie = sbx.details(&stack.unit("valkyrie"));
    let odin = sbx.details(&stack.unit("odin"));
    assert_eq!(odin.status.active_state, "inactive");
    assert_eq!(valkyrie.status.active_state, "active");
    assert!(odin.inactive_enter_usec <= valkyrie.exec_main_start_usec);
    assert_eq!(
        sbx.details(&stack.unit("thor")).active_enter_usec,
        thor.active_enter_usec
    );
    assert_eq!(report.generation, Some(3));
}

#[test]
fn only_agents_whose_files_changed_restart() {
    let sbx = Sandbox::start();
    let mut stack = Stack::norse();
    apply_ok(&sbx, &stack, "standard");
    let thor = sbx.details(&stack.unit("thor"));
    let valkyrie = sbx.details(&stack.unit("valkyrie"));
    stack
        .agent_mut("valkyrie")
        .extra
        .push("Environment=CHANGED=1".into());
    let report = apply_ok(&sbx, &stack, "standard");
    assert_eq!(report.outcome, Outcome::Applied);
    assert_eq!(report.actions.restart, [stack.unit("valkyrie")]);
    assert_eq!(
        report.written,
        [sbx.unit_dir().join(stack.unit("valkyrie"))]
    );
    let valkyrie_after = sbx.details(&stack.unit("valkyrie"));
    assert_eq!(valkyrie_after.status.active_state, "active");
    assert!(valkyrie_after.exec_main_start_usec > valkyrie.exec_main_start_usec);
    let thor_after = sbx.details(&stack.unit("thor"));
    assert_eq!(
        thor_after.exec_main_start_usec, thor.exec_main_start_usec,
        "thor restarted"
    );
    // The verb and the unit are two words ("restartedt-valkyrie.service" before).
    let text = report.render();
    assert!(
        text.contains(&format!("  restarted {}\n", stack.unit("valkyrie"))),
        "{text}"
    );
}

#[test]
fn a_failing_agent_exits_4_and_rolls_back_files_and_profile() {
    let sbx = Sandbox::start();
    let good = Stack::norse();
    apply_ok(&sbx, &good, "standard");
    let installed = std::fs::read(sbx.unit_dir().join(good.unit("odin"))).unwrap();

    let mut bad = good.clone();
    bad.agent_mut("odin").args = vec!["--fail".into()];
    bad.extra_files.push((
        "systemd/t-extra.service".into(),
        "[Service]\nExecStart=/bin/true\n".into(),
    ));
    let err = activate::apply(&sbx.ctx(), &bad.tree(), Some("odin"), &opts()).unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::UnitsFailed);
    let Error::UnitsFailed(failure) = &err else {
        panic!("{err}")
    };
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        text.contains("agent odin") && text.contains("t-odin.service"),
        "{text}"
    );
    assert_eq!(failure.failures[0].agent.as_deref(), Some("odin"));
    assert!(!failure.failures[0].log.is_empty(), "{text}");
    assert_eq!(
        failure.rollback,
        RollbackOutcome::Restored {
            generation: 1,
            profile: "standard".into()
        }
    );
    // The failed generation's files are gone, the previous ones are back.
    assert_eq!(
        std::fs::read(sbx.unit_dir().join(good.unit("odin"))).unwrap(),
        installed
    );
    assert!(!sbx.unit_dir().join("t-extra.service").exists());
    assert_eq!(sbx.active_state(&good.target("standard")), "active");
    assert_eq!(sbx.active_state(&good.unit("valkyrie")), "active");
    assert_eq!(sbx.active_state(&good.unit("thor")), "active");
    assert_ne!(sbx.active_state(&good.unit("odin")), "active");
    let gens = activate::generations(&sbx.ctx()).unwrap();
    assert_eq!(gens.len(), 1);
    assert!(gens[0].current);
}

#[test]
fn a_failure_without_rollback_leaves_the_new_files() {
    let sbx = Sandbox::start();
    let mut bad = Stack::norse();
    bad.agent_mut("valkyrie").args = vec!["--fail".into()];
    let o = ApplyOptions {
        no_rollback: true,
        ..opts()
    };
    let err = activate::apply(&sbx.ctx(), &bad.tree(), None, &o).unwrap_err();
    let Error::UnitsFailed(failure) = &err else {
        panic!("{err}")
    };
    assert_eq!(failure.rollback, RollbackOutcome::Disabled);
    assert!(sbx.unit_dir().join(bad.unit("valkyrie")).exists());
    // Not lost: status shows the kept tree and says why; the next apply undoes it first.
    let status = activate::status(&sbx.ctx()).unwrap();
    assert!(
        status.notes.iter().any(|n| n.contains("--no-rollback")),
        "{:?}",
        status.notes
    );
    assert!(status.render().contains(&bad.unit("valkyrie")));
    let good = Stack::norse();
    let report = apply_ok(&sbx, &good, "standard");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("undid the failed switch --no-rollback kept")),
        "{:?}",
        report.notes
    );
    assert!(!sbx.state_dir().join("transaction").exists());
    assert_eq!(sbx.active_state(&good.unit("valkyrie")), "active");
}

#[test]
fn a_first_apply_that_fails_removes_its_files() {
    let sbx = Sandbox::start();
    let mut bad = Stack::norse();
    bad.agent_mut("valkyrie").args = vec!["--fail".into()];
    let err = activate::apply(&sbx.ctx(), &bad.tree(), None, &opts()).unwrap_err();
    let Error::UnitsFailed(failure) = &err else {
        panic!("{err}")
    };
    assert_eq!(failure.rollback, RollbackOutcome::Removed, "{err}");
    assert_eq!(std::fs::read_dir(sbx.unit_dir()).unwrap().count(), 0);
    assert_eq!(sbx.active_state(&bad.unit("thor")), "inactive");
    assert!(activate::generations(&sbx.ctx()).unwrap().is_empty());
}

#[test]
fn a_start_slower_than_the_deadline_fails_and_rolls_back() {
    let sbx = Sandbox::start();
    let good = Stack::norse();
    apply_ok(&sbx, &good, "standard");
    let mut slow = good.clone();
    slow.agent_mut("odin").args = vec!["--ready-after".into(), "10".into()];
    let o = ApplyOptions {
        timeout: Some(Duration::from_millis(800)),
        ..opts()
    };
    let started = Instant::now();
    let err = activate::apply(&sbx.ctx(), &slow.tree(), Some("odin"), &o).unwrap_err();
    // Before odin would have been ready (10 s): the 0.8 s deadline ended the wait.
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(err.exit_code(), ExitCode::UnitsFailed);
    let Error::UnitsFailed(failure) = &err else {
        panic!("{err}")
    };
    let odin = failure
        .failures
        .iter()
        .find(|f| f.agent.as_deref() == Some("odin"))
        .expect("odin named");
    assert_eq!(odin.result, "deadline");
    assert!(
        matches!(failure.rollback, RollbackOutcome::Restored { .. }),
        "{err}"
    );
    assert_eq!(sbx.active_state(&good.unit("valkyrie")), "active");
    assert_ne!(sbx.active_state(&good.unit("odin")), "active");
}

#[test]
fn concurrent_applies_never_interleave() {
    let sbx = Sandbox::start();
    let mut stack = Stack::norse();
    for a in &mut stack.agents {
        a.args = vec!["--ready-after".into(), "0.6".into()];
    }
    let tree = stack.tree();
    std::thread::scope(|s| {
        let first = s.spawn(|| {
            let t0 = Instant::now();
            let r = activate::apply(&sbx.ctx(), &tree, Some("standard"), &opts());
            (t0, Instant::now(), r)
        });
        // Wait until the first apply holds the lock (a try-lock of our own fails).
        let lock = sbx.state_dir().join("lock");
        support::wait_for(
            Duration::from_secs(5),
            || {
                let Ok(file) = std::fs::File::open(&lock) else {
                    return false;
                };
                nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).is_err()
            },
            "the first apply to take the lock",
        );
        // --no-wait: refused at once with a clear message, exit 3.
        let no_wait = ApplyOptions {
            no_wait: true,
            ..opts()
        };
        let err = activate::apply(&sbx.ctx(), &tree, Some("odin"), &no_wait).unwrap_err();
        assert!(matches!(err, Error::Locked { .. }), "{err}");
        assert_eq!(err.exit_code(), ExitCode::System);
        assert!(
            err.to_string().contains("another strixc is applying"),
            "{err}"
        );
        // Default: waits for the first to finish, then switches.
        let second = activate::apply(&sbx.ctx(), &tree, Some("odin"), &opts()).unwrap();
        let second_end = Instant::now();
        let (_, first_end, first) = first.join().unwrap();
        let first = first.unwrap();
        assert!(first_end <= second_end);
        assert_eq!((first.generation, second.generation), (Some(1), Some(2)));
        // The second really did its whole switch after the first: it had to stop valkyrie.
        assert_eq!(second.actions.stop, [stack.unit("valkyrie")]);
    });
    assert_eq!(sbx.active_state(&stack.target("odin")), "active");
}

#[test]
fn systemctl_start_of_a_target_reaches_the_same_state_as_apply() {
    let sbx = Sandbox::start();
    let stack = Stack::norse();
    let units: Vec<String> = ["thor", "valkyrie", "odin"]
        .iter()
        .map(|a| stack.unit(a))
        .collect();
    let snapshot =
        |sbx: &Sandbox| -> Vec<String> { units.iter().map(|u| sbx.active_state(u)).collect() };
    apply_ok(&sbx, &stack, "odin");
    let by_apply = snapshot(&sbx);
    apply_ok(&sbx, &stack, "standard");
    let out = sbx.systemctl(&["start", &stack.target("odin")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // systemctl returns when the target's own job is done; stops may still be running.
    support::wait_for(
        Duration::from_secs(10),
        || snapshot(&sbx) == by_apply,
        "systemctl's switch to settle",
    );
    assert_eq!(by_apply, ["active", "inactive", "active"]);
}

#[test]
fn dry_run_and_diff_show_the_plan_and_change_nothing() {
    let sbx = Sandbox::start();
    let mut stack = Stack::norse();
    apply_ok(&sbx, &stack, "standard");
    stack.agent_mut("thor").extra.push("Environment=X=1".into());
    let before = mtimes(sbx.dir.path().join("config").as_path());
    let o = ApplyOptions {
        dry_run: true,
        ..opts()
    };
    let report = activate::apply(&sbx.ctx(), &stack.tree(), Some("odin"), &o).unwrap();
    assert_eq!(report.outcome, Outcome::DryRun);
    let text = report.render();
    assert!(text.contains("+Environment=X=1"), "{text}");
    assert!(text.contains("stop     t-valkyrie.service"), "{text}");
    assert!(text.contains("restart  t-thor.service"), "{text}");
    assert!(text.contains("start    t-odin.service"), "{text}");
    let diff = activate::diff(&sbx.ctx(), &stack.tree(), Some("odin")).unwrap();
    assert_eq!(diff.render(), report.diff.unwrap().render());
    assert_eq!(mtimes(sbx.dir.path().join("config").as_path()), before);
    assert_eq!(sbx.active_state(&stack.unit("valkyrie")), "active");
}

#[test]
fn rollback_switches_to_the_previous_generation() {
    let sbx = Sandbox::start();
    let stack = Stack::norse();
    apply_ok(&sbx, &stack, "standard");
    apply_ok(&sbx, &stack, "odin");
    let report = activate::rollback(&sbx.ctx(), &opts()).unwrap();
    assert_eq!(
        (report.profile.as_str(), report.generation),
        ("standard", Some(1))
    );
    assert_eq!(sbx.active_state(&stack.unit("valkyrie")), "active");
    assert_eq!(sbx.active_state(&stack.unit("odin")), "inactive");
    let gens = activate::generations(&sbx.ctx()).unwrap();
    let current: Vec<u64> = gens
        .iter()
        .filter(|g| g.current)
        .map(|g| g.number)
        .collect();
    assert_eq!(current, [1]);
    assert!(activate::render_generations(&gens).contains("*    1"));
    let err = activate::rollback(&sbx.ctx(), &opts()).unwrap_err();
    assert!(err.to_string().contains("oldest"), "{err}");
}

#[test]
fn quadlet_turns_an_installed_container_into_a_loaded_unit() {
    let sbx = Sandbox::with_quadlet();
    let mut stack = Stack::norse();
    stack.extra_files.push((
        "containers/systemd/t-box.container".into(),
        "[Unit]\nDescription=t box\n[Container]\nImage=localhost/standin:latest\nExec=/bin/httpd -f\n\
         [Quadlet]\nDefaultDependencies=false\n"
            .into(),
    ));
    apply_ok(&sbx, &stack, "standard");
    assert!(
        sbx.config_home()
            .join("containers/systemd/t-box.container")
            .exists()
    );
    assert_eq!(sbx.details("t-box.service").status.load_state, "loaded");
}

// ---- Benchmark (scripts/bench-apply runs it with --ignored, in release mode) -------------
//
// Every strixc measurement is the real binary (`target/release/strixc apply --user -f
// stack.kdl`), a whole process: parsing and building the stack, connecting to the bus,
// reading the generation, the lock, the switch and the wait.

fn run_timed(cmd: &mut std::process::Command) -> Duration {
    let t0 = Instant::now();
    let out = cmd.output().unwrap();
    let took = t0.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[test]
#[ignore = "benchmark: scripts/bench-apply"]
fn bench_apply_vs_systemctl() {
    let rounds: usize = std::env::var("STRIXC_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(11);
    let noop_runs: usize = std::env::var("STRIXC_BENCH_NOOP_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let sbx = Sandbox::start();
    let ports = support::stack::ports(3);
    // Benchmarks start the same agents far more often than 5 times in 10 s.
    let kdl = support::stack::native_kdl(
        &[ports[0], ports[1], ports[2]],
        r#""--ready-after" "0.2""#,
        "    quadlet \"Unit\" \"StartLimitIntervalSec\" \"0\"\n",
    );
    let stack = sbx.dir.path().join("stack.kdl");
    std::fs::write(&stack, kdl).unwrap();
    let bin = support::strixc_bin();
    let strixc = |profile: &str| {
        let mut cmd = std::process::Command::new(bin);
        cmd.args(["apply", "--user", "-f"])
            .arg(&stack)
            .args(["--profile", profile])
            .env_clear()
            .envs(sbx.cli_env());
        cmd
    };
    // One connection, polled every 2 ms: the systemctl side's settle detection costs little.
    let sd = sbx.systemd();
    let settled = |on: &str, off: &str| {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let states = sd.units(&[on, off]).unwrap();
            if states[0].active_state == "active" && states[1].active_state == "inactive" {
                break;
            }
            assert!(Instant::now() < end, "switch did not settle: {states:?}");
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let (odin, valkyrie) = ("r-odin.service", "r-valkyrie.service");
    run_timed(&mut strixc("standard"));
    let (mut by_strixc, mut by_systemctl) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        // strixc: standard → odin; it returns only when everything settled.
        by_strixc.push(run_timed(&mut strixc("odin")));
        settled(odin, valkyrie);
        run_timed(&mut strixc("standard"));
        // systemctl: the same switch, plus waiting until the same state is reached.
        let t0 = Instant::now();
        let out = sbx.systemctl(&["start", "r-odin.target"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        settled(odin, valkyrie);
        by_systemctl.push(t0.elapsed());
        run_timed(&mut strixc("standard"));
    }
    // The no-op: odin active and installed as the current generation, applied again.
    run_timed(&mut strixc("odin"));
    let out = strixc("odin").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("nothing changed"),
        "{text}"
    );
    let json = sbx.dir.path().join("noop.json");
    let command = format!("{bin} apply --user -f {} --profile odin", stack.display());
    let out = std::process::Command::new("hyperfine")
        .args(["-N", "--style", "basic", "--warmup", "3", "--runs"])
        .arg(noop_runs.to_string())
        .arg("--export-json")
        .arg(&json)
        .arg(&command)
        .env_clear()
        .envs(sbx.cli_env())
        .output()
        .expect("run hyperfine (apt-get install hyperfine)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let noop = &result["results"][0];
    let secs = |key: &str| noop[key].as_f64().unwrap_or(f64::NAN) * 1e3;
    let (s, c) = (median(by_strixc.clone()), median(by_systemctl.clone()));
    println!("binary: {bin}");
    println!("profile switch standard -> odin, median of {rounds} alternating rounds:");
    println!(
        "  strixc apply --profile odin (whole process): {:>8.1} ms  (min {:.1}, max {:.1})",
        ms(s),
        ms(*by_strixc.iter().min().unwrap()),
        ms(*by_strixc.iter().max().unwrap())
    );
    println!(
        "  systemctl --user start r-odin.target + settle: {:>6.1} ms  (min {:.1}, max {:.1})",
        ms(c),
        ms(*by_systemctl.iter().min().unwrap()),
        ms(*by_systemctl.iter().max().unwrap())
    );
    println!(
        "  overhead: {:+.1}% (ratio {:.3}; goal <= +25%)",
        (s.as_secs_f64() / c.as_secs_f64() - 1.0) * 100.0,
        s.as_secs_f64() / c.as_secs_f64()
    );
    println!(
        "no-op apply (whole process, hyperfine -N, {noop_runs} runs): median {:.1} ms, mean {:.1} ± {:.1} ms, min {:.1}, max {:.1} (goal < 50 ms)",
        secs("median"),
        secs("mean"),
        secs("stddev"),
        secs("min"),
        secs("max")
    );
}

#[test]
fn apply_brings_back_an_agent_that_was_stopped_by_hand() {
    let sbx = Sandbox::start();
    let stack = Stack::norse();
    apply_ok(&sbx, &stack, "standard");
    let out = sbx.systemctl(&["stop", &stack.unit("valkyrie")]);
    assert!(out.status.success());
    assert_eq!(sbx.active_state(&stack.unit("valkyrie")), "inactive");
    let report = apply_ok(&sbx, &stack, "standard");
    assert_eq!(report.actions.start, [stack.unit("valkyrie")]);
    assert_eq!(sbx.active_state(&stack.unit("valkyrie")), "active");
}

/// The real pipeline: `stack.kdl` → `strixc::compile::build_tree` → apply, with a native
/// `command` runtime running the test server.
fn real_tree(ports: &[u16; 3], odin_args: &str) -> strixc::tree::Tree {
    let text = support::stack::native_kdl(ports, odin_args, "");
    let source = strixc::source::Source::new("stack.kdl", text);
    match strixc::compile::build_tree(&source) {
        Ok((tree, _)) => tree,
        Err(d) => panic!(
            "{}",
            strixc::diagnostic::render(&d, &source, strixc::diagnostic::RenderStyle::Plain)
        ),
    }
}

#[test]
fn the_real_build_applies_switches_and_is_a_no_op_the_second_time() {
    let sbx = Sandbox::start();
    let ports = support::stack::ports(3);
    let tree = real_tree(&[ports[0], ports[1], ports[2]], r#""--ready-after" "0.2""#);
    let ctx = sbx.ctx();
    let report = activate::apply(&ctx, &tree, None, &opts()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.profile, "standard");
    assert_eq!(sbx.active_state("r-thor.service"), "active");
    assert_eq!(sbx.active_state("r-valkyrie.service"), "active");
    let thor = sbx.details("r-thor.service");
    let report =
        activate::apply(&ctx, &tree, Some("odin"), &opts()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.actions.stop, ["r-valkyrie.service"]);
    let valkyrie = sbx.details("r-valkyrie.service");
    let odin = sbx.details("r-odin.service");
    assert_eq!(odin.status.active_state, "active");
    assert!(valkyrie.inactive_enter_usec <= odin.exec_main_start_usec);
    assert_eq!(
        sbx.details("r-thor.service").active_enter_usec,
        thor.active_enter_usec
    );
    let again = activate::apply(&ctx, &tree, Some("odin"), &opts()).unwrap();
    assert_eq!(again.outcome, Outcome::Unchanged);
}

#[test]
fn the_real_build_rolls_back_a_crashing_agent() {
    let sbx = Sandbox::start();
    let ports = support::stack::ports(3);
    let ports = [ports[0], ports[1], ports[2]];
    let good = real_tree(&ports, r#""--ready-after" "0.2""#);
    activate::apply(&sbx.ctx(), &good, None, &opts()).unwrap_or_else(|e| panic!("{e}"));
    // Crashes while loading, as a vLLM that runs out of memory does.
    let broken = real_tree(&ports, r#""--ready-after" "5" "--fail-after" "0.3""#);
    // The generated ExecStartPost would poll health until TimeoutStartSec (30 s) after the
    // server died; apply notices the dead main process and fails at once.
    // Not a timing assertion: well under the 30 s the timeout would take, whatever the load.
    let started = Instant::now();
    let err = activate::apply(&sbx.ctx(), &broken, Some("odin"), &opts()).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
    // Seen by apply's own check of the main process, or by the health wait exiting when
    // the server is gone (whichever runs first on a busy machine): never the timeout.
    let report = err.to_string();
    assert!(
        report.contains("the server exited (status 2)")
            || (report.contains("r-odin.service") && report.contains("exit status 2")),
        "{err}"
    );
    eprintln!("{err}");
    assert_eq!(err.exit_code(), ExitCode::UnitsFailed, "{err}");
    let Error::UnitsFailed(failure) = &err else {
        panic!("{err}")
    };
    assert_eq!(failure.failures[0].agent.as_deref(), Some("odin"), "{err}");
    assert!(
        matches!(
            failure.rollback,
            RollbackOutcome::Restored { generation: 1, .. }
        ),
        "{err}"
    );
    assert_eq!(sbx.active_state("r-valkyrie.service"), "active");
    assert_ne!(sbx.active_state("r-odin.service"), "active");
}

#[test]
fn system_mode_under_a_root_installs_host_tuning_and_activates_nothing() {
    let root = tempfile::tempdir().unwrap();
    let mut stack = Stack::norse();
    stack
        .extra_files
        .push(("sysctl.d/90-t.conf".into(), "vm.swappiness = 80\n".into()));
    stack.extra_files.push((
        "earlyoom/earlyoom".into(),
        "EARLYOOM_ARGS=\"-m 5\"\n".into(),
    ));
    stack.extra_files.push((
        "systemd/swap.img.swap".into(),
        "[Swap]\nWhat=/swap.img\n".into(),
    ));
    let ctx = activate::ApplyContext::new(activate::Mode::System, Some(root.path())).unwrap();
    assert!(!ctx.activate);
    let report = activate::apply(&ctx, &stack.tree(), None, &opts()).unwrap();
    assert_eq!(report.outcome, Outcome::Installed);
    let r = root.path();
    for path in [
        "etc/sysctl.d/90-t.conf",
        "etc/default/earlyoom",
        "etc/systemd/system/swap.img.swap",
        "etc/systemd/system/t-thor.service",
        "etc/systemd/system/t-standard.target",
        "var/lib/strixc/generations/1/tree/manifest.json",
    ] {
        assert!(r.join(path).is_file(), "{path} missing");
    }
    assert_eq!(report.skipped.len(), 0);
    let again = activate::apply(&ctx, &stack.tree(), None, &opts()).unwrap();
    assert_eq!(again.outcome, Outcome::Unchanged);
}

#[test]
fn the_default_profile_is_enabled_for_boot_and_a_replaced_default_disabled() {
    let sbx = Sandbox::start();
    let sd = sbx.systemd();
    let state = |unit: &str| sd.unit_file_state(unit).unwrap_or_else(|e| e.to_string());
    let wants = sbx.unit_dir().join("default.target.wants");
    let mut stack = Stack::norse();
    // Applying another profile still enables the default one: that is what boot starts.
    let report = apply_ok(&sbx, &stack, "odin");
    assert_eq!(report.actions.enable, [stack.target("standard")]);
    assert!(
        report
            .render()
            .contains("enabled   t-standard.target (boot)")
    );
    assert_eq!(state(&stack.target("standard")), "enabled");
    assert!(wants.join(stack.target("standard")).exists());
    let enabled = sbx.systemctl(&["is-enabled", &stack.target("standard")]);
    assert_eq!(String::from_utf8_lossy(&enabled.stdout).trim(), "enabled");
    // Already enabled: nothing to do.
    let again = apply_ok(&sbx, &stack, "odin");
    assert_eq!(again.outcome, Outcome::Unchanged);

    // odin becomes the default: it is enabled, standard disabled.
    stack.default_profile = "odin".into();
    let report = apply_ok(&sbx, &stack, "odin");
    assert_eq!(report.actions.enable, [stack.target("odin")]);
    assert_eq!(report.actions.disable, [stack.target("standard")]);
    assert_eq!(state(&stack.target("odin")), "enabled");
    assert_ne!(state(&stack.target("standard")), "enabled");
    assert!(!wants.join(stack.target("standard")).exists());

    // A failed switch back to standard as the default puts odin's boot link back.
    let mut bad = Stack::norse();
    bad.agents = stack.agents.clone();
    bad.agent_mut("valkyrie").args = vec!["--fail".into()];
    let err = activate::apply(&sbx.ctx(), &bad.tree(), Some("standard"), &opts()).unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::UnitsFailed, "{err}");
    assert_eq!(state(&stack.target("odin")), "enabled", "{err}");
    assert_ne!(state(&stack.target("standard")), "enabled", "{err}");
}

/// The generated readiness wait of a native agent (`ExecStartPost=`) reads `$MAINPID`
/// (systemd sets it for start-post with `Type=exec`) and exits 1 as soon as the server is
/// gone, so even a bare `systemctl start` fails in seconds instead of sitting in
/// "activating (start-post)" until `TimeoutStartSec=` (30 s here).
#[test]
fn the_generated_health_wait_gives_up_when_the_server_dies() {
    let sbx = Sandbox::start();
    let ports = support::stack::ports(3);
    let tree = real_tree(
        &[ports[0], ports[1], ports[2]],
        r#""--ready-after" "5" "--fail-after" "0.3""#,
    );
    let unit = String::from_utf8_lossy(tree.get("systemd/r-odin.service").unwrap()).into_owned();
    assert!(
        unit.contains("kill -0 $$MAINPID 2>/dev/null || exit 1"),
        "{unit}"
    );
    // Healthy agents pass through the same loop: $MAINPID is set and alive there.
    activate::apply(&sbx.ctx(), &tree, None, &opts()).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let out = sbx.systemctl(&["start", "r-odin.service"]);
    let took = started.elapsed();
    assert!(!out.status.success());
    // The start job fails within a poll (0.5 s) of the crash (then Restart=on-failure may
    // try again: "auto-restart").
    eprintln!("systemctl start of a crashing agent failed after {took:?}");
    // Far below the 30 s TimeoutStartSec the poll would otherwise run into.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let odin = sbx.details("r-odin.service");
    assert_ne!(odin.status.active_state, "active", "{odin:?}");
    assert_eq!(odin.exec_main_status, Some(2), "{odin:?}");
    let show = sbx.systemctl(&["show", "-p", "ExecStartPost", "r-odin.service"]);
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(show.contains("status=1"), "the wait did not exit 1: {show}");

    // What sh really gets: `$$MAINPID` reaches it as `$MAINPID`, and the environment of a
    // Type=exec service's ExecStartPost= holds the main process's pid.
    let probe = sbx.dir.path().join("probe");
    std::fs::write(
        sbx.unit_dir().join("probe.service"),
        format!(
            "[Service]\nType=exec\nExecStart=/bin/sleep 30\n\
             ExecStartPost=/bin/sh -c \"echo '$$MAINPID' $$MAINPID > {}\"\n",
            probe.display()
        ),
    )
    .unwrap();
    assert!(sbx.systemctl(&["daemon-reload"]).status.success());
    assert!(sbx.systemctl(&["start", "probe.service"]).status.success());
    let main_pid = sbx.details("probe.service").main_pid.unwrap();
    assert_eq!(
        std::fs::read_to_string(&probe).unwrap().trim(),
        format!("$MAINPID {main_pid}")
    );
}
