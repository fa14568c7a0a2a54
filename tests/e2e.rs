//! End to end on the real runtime: `strixc apply` inside a booted Debian 13 root (systemd 257
//! as PID 1 of its own namespaces, podman 5.4 with quadlet, runc, journald), real containers
//! from strixc's generated quadlet units, and a real llama.cpp server with a tiny model.
//! `scripts/e2e-roots` builds the root and images (the README's test command runs it); without
//! root or the cached root the tests print why and skip, except under CI (`CI=true`), where
//! they fail.
//!
//! Each test boots its own root, with its own network namespace, cgroups, /dev/shm and
//! overlay: tests share nothing, and at most `$STRIXC_E2E_JOBS` (default 2) run at once.
//!
//! Not covered, because this machine (a Debian 12 VM with hybrid cgroups: v1 controllers +
//! a v2 `unified` hierarchy) cannot run it: rootless podman for a non-root user with linger.
//! Tried in a booted root: `useradd -m ada; loginctl enable-linger ada` starts
//! user@1000.service fine, and `podman run` as ada works with runc and crun alike, but only
//! with `--pid=host`. Then, as ada, `strixc apply --user -f stack.kdl` (the stack adding
//! `quadlet "Container" "PodmanArgs" "--pid=host"`) fails, exit 4; the unit's journal says
//!   `Error: mkdir /sys/fs/cgroup/pids/user.slice/user-1000.slice/user@1000.service/runtime:
//!   permission denied` (quadlet's `--cgroups=split` needs a delegated cgroup; cgroup v1 is
//!   not delegated to users),
//! and with `--cgroups=disabled` added: `Error: containers not creating Cgroups must create a
//! private PID namespace: invalid argument`, while a private PID namespace fails in this
//! sandbox: `podman run --rm localhost/vllm-standin vllm serve m` as ada gives, with runc,
//!   `runc create failed: unable to start container process: error during container init:
//!   error mounting "proc" to rootfs at "/proc": ... operation not permitted`
//! and, with crun, `crun: mount `proc` to `proc`: Operation not permitted`.
//! A host with the unified cgroup v2 hierarchy (every current distribution) has neither
//! limit.

mod support;

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use support::runtime::{self, Mode, Runtime, text};

/// How many tests boot a root at once: `$STRIXC_E2E_JOBS`, default 2. Each booted root has
/// its own network namespace, cgroups, /dev/shm and overlay, so they share no port or
/// path; the limit only keeps this machine's cores (two here) from being swamped.
static BUSY: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

struct Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        *BUSY.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        FREED.notify_one();
    }
}

fn slot() -> Slot {
    let jobs = std::env::var("STRIXC_E2E_JOBS")
        .ok()
        .and_then(|j| j.parse::<usize>().ok())
        .filter(|&j| j > 0)
        .unwrap_or(2);
    let mut busy = BUSY.lock().unwrap_or_else(|e| e.into_inner());
    while *busy >= jobs {
        busy = FREED.wait(busy).unwrap_or_else(|e| e.into_inner());
    }
    *busy += 1;
    Slot
}

const STACK: &str = "/root/stack.kdl";
const THOR: u16 = 8001;
const VALKYRIE: u16 = 8002;
const ODIN: u16 = 8011;

/// The sandbox's needs, in the stack's own escape hatch:
/// - `DefaultDependencies=false`: quadlet's default units wait for network-online.target,
///   which nothing marks online in a booted root with only loopback (a 90 s stall);
/// - `StopTimeout=2`: a stop never waits podman's default 10 s (the stand-in honours SIGTERM,
///   this only bounds the worst case).
const SANDBOX_QUADLET: &str = r#"
    quadlet "Quadlet" "DefaultDependencies" "false"
    quadlet "Container" "StopTimeout" "2""#;

/// A small Norse stack "e" on the vLLM stand-in: thor + valkyrie (standard, default) and
/// thor + odin (odin). `health` is the runtime's health line; `odin_env` and `valkyrie_env`
/// are extra `env` lines for those agents' own runtimes.
fn norse(health: &str, odin_env: &str, valkyrie_env: &str) -> String {
    let runtime = |name: &str, env: &str| {
        let ready = if env.contains("STANDIN_READY_AFTER") {
            ""
        } else {
            r#"    env "STANDIN_READY_AFTER" "1""#
        };
        format!(
            r#"
runtime "{name}" {{
    engine "vllm"
    image "localhost/vllm-standin"
{ready}
{env}
    {health}
{SANDBOX_QUADLET}
}}"#
        )
    };
    format!(
        r#"
stack "e" {{
    description "end-to-end stack on the vLLM stand-in"
}}
host {{
    memory "64GiB"
    gpu "gfx1151" memory="60GiB" unified=#true
    reserve "6GiB"
    podman "5.4"
}}
{}{}{}
model "m7" {{
    repo "e2e/standin-7b-awq"
    quant "awq"
    weights "5GB"
    layers 28
    kv-heads 4
    head-dim 128
    max-context 8192
}}
agent "thor" {{
    model "m7"
    runtime "standin"
    port {THOR}
    context 4096
    tool-parser "hermes"
}}
agent "valkyrie" {{
    model "m7"
    runtime "valkyrie-standin"
    port {VALKYRIE}
    context 4096
    kv-cache-dtype "fp8"
}}
agent "odin" {{
    model "m7"
    runtime "odin-standin"
    port {ODIN}
    context 8192
}}
profile "standard" default=#true {{
    agents "thor" "valkyrie"
}}
profile "odin" {{
    agents "thor" "odin"
}}
"#,
        runtime("standin", ""),
        runtime("valkyrie-standin", valkyrie_env),
        runtime("odin-standin", odin_env),
    )
}

/// Probed every second once serving; a load may take 20 s (the start's bound,
/// `TimeoutStartSec=`), ample for the stand-in on a busy two-core machine.
const FAST_HEALTH: &str = r#"health "/health" interval="1s" start-period="20s""#;

fn unit(agent: &str) -> String {
    format!("e-{agent}.service")
}

fn health_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/health")
}

/// A booted root, holding one of the slots (freed after the root is gone).
struct Booted {
    rt: Runtime,
    _slot: Slot,
}

impl std::ops::Deref for Booted {
    type Target = Runtime;

    fn deref(&self) -> &Runtime {
        &self.rt
    }
}

/// Waits for a slot, boots a root for `mode` and writes `stack` to /root/stack.kdl; `None`
/// when the suite cannot run here (printed).
fn boot(mode: Mode, stack: &str) -> Option<Booted> {
    let slot = slot();
    let lower = runtime::available()?;
    let rt = Runtime::boot(&lower, mode);
    eprintln!("booted {mode:?} root in {:?}", rt.boot_time);
    rt.write(STACK, stack);
    Some(Booted { rt, _slot: slot })
}

/// [`boot`], then `strixc apply --profile PROFILE`, which must succeed.
fn boot_applied(mode: Mode, stack: &str, profile: &str) -> Option<Booted> {
    let rt = boot(mode, stack)?;
    apply_ok(&rt, profile);
    Some(rt)
}

fn apply(rt: &Runtime, profile: &str) -> (std::process::Output, Duration) {
    let t0 = Instant::now();
    let out = rt.strixc(&["apply", "--profile", profile, "-f", STACK]);
    (out, t0.elapsed())
}

fn apply_ok(rt: &Runtime, profile: &str) -> Duration {
    let (out, took) = apply(rt, profile);
    assert!(
        out.status.success(),
        "apply {profile} failed: {}\n--- journal:\n{}",
        text(&out),
        rt.sh("journalctl --no-pager -n 60 -o cat")
            .stdout
            .escape_ascii()
    );
    eprintln!("apply {profile}: {took:?}");
    took
}

fn assert_serving(rt: &Runtime, ports: &[u16]) {
    for &port in ports {
        let (code, body) = rt.get(&health_url(port));
        assert_eq!(code, 200, "port {port} /health right after apply: {body}");
    }
}

fn assert_not_serving(rt: &Runtime, port: u16) {
    let (code, _) = rt.get(&health_url(port));
    assert_eq!(code, 0, "port {port} still answers");
}

fn first_apply_and_noop(mode: Mode) {
    let Some(rt) = boot_applied(mode, &norse(FAST_HEALTH, "", ""), "standard") else {
        return;
    };
    assert_serving(&rt, &[THOR, VALKYRIE]);
    for agent in ["thor", "valkyrie"] {
        assert_eq!(rt.prop(&unit(agent), "ActiveState"), "active", "{agent}");
    }
    assert_eq!(rt.prop(&unit("odin"), "ActiveState"), "inactive");
    // the stand-in got exactly strixc's vLLM flags, with values it accepts
    let (code, models) = rt.get(&format!("http://127.0.0.1:{THOR}/v1/models"));
    assert_eq!(code, 200);
    assert!(models.contains("\"id\":\"e2e/standin-7b-awq\""), "{models}");
    assert!(models.contains("\"max_model_len\":4096"), "{models}");
    let (_, metrics) = rt.get(&format!("http://127.0.0.1:{VALKYRIE}/metrics"));
    assert!(metrics.contains("vllm:num_requests_running"), "{metrics}");
    // co-running agents start one after another: one was active before the other's
    // process started
    let (t_thor, t_valk) = (
        rt.mono(&unit("thor"), "ActiveEnterTimestampMonotonic"),
        rt.mono(&unit("valkyrie"), "ActiveEnterTimestampMonotonic"),
    );
    let (s_thor, s_valk) = (
        rt.mono(&unit("thor"), "ExecMainStartTimestampMonotonic"),
        rt.mono(&unit("valkyrie"), "ExecMainStartTimestampMonotonic"),
    );
    assert!(
        t_thor <= s_valk || t_valk <= s_thor,
        "thor active {t_thor}, started {s_thor}; valkyrie active {t_valk}, started {s_valk}"
    );

    // no-op: nothing restarts (each agent's process and invocation stay)
    let runs =
        || ["thor", "valkyrie"].map(|a| ["MainPID", "InvocationID"].map(|p| rt.prop(&unit(a), p)));
    let before = runs();
    let took = apply_ok(&rt, "standard");
    assert_eq!(before, runs(), "a no-op apply restarted an agent");
    eprintln!("no-op apply: {took:?}");
    assert_serving(&rt, &[THOR, VALKYRIE]);
}

#[test]
fn system_first_apply_serves_then_noop() {
    first_apply_and_noop(Mode::System);
}

#[test]
fn user_first_apply_serves_then_noop() {
    first_apply_and_noop(Mode::User);
}

/// `new` started only after `old` had stopped, from systemd's timestamps.
fn assert_replaced(rt: &Runtime, old: &str, new: &str) {
    let stopped = rt.mono(&unit(old), "InactiveEnterTimestampMonotonic");
    let started = rt.mono(&unit(new), "ExecMainStartTimestampMonotonic");
    assert!(
        stopped > 0 && started > 0,
        "{old} stopped {stopped}, {new} started {started}"
    );
    assert!(
        stopped <= started,
        "{new} started at {started} µs before {old} had stopped at {stopped} µs"
    );
    eprintln!(
        "{old} stopped {:.3} s before {new} started",
        (started - stopped) as f64 / 1e6
    );
}

fn switch(mode: Mode) {
    let Some(rt) = boot_applied(mode, &norse(FAST_HEALTH, "", ""), "standard") else {
        return;
    };
    let thor_pid = rt.prop(&unit("thor"), "MainPID");
    apply_ok(&rt, "odin");
    assert_serving(&rt, &[THOR, ODIN]);
    assert_not_serving(&rt, VALKYRIE);
    assert_replaced(&rt, "valkyrie", "odin");
    assert_eq!(
        rt.prop(&unit("thor"), "MainPID"),
        thor_pid,
        "thor restarted"
    );
    apply_ok(&rt, "standard");
    assert_serving(&rt, &[THOR, VALKYRIE]);
    assert_not_serving(&rt, ODIN);
    assert_replaced(&rt, "odin", "valkyrie");
    assert_eq!(
        rt.prop(&unit("thor"), "MainPID"),
        thor_pid,
        "thor restarted"
    );
}

#[test]
fn system_switch_standard_odin_standard() {
    switch(Mode::System);
}

#[test]
fn user_switch_standard_odin_standard() {
    switch(Mode::User);
}

#[test]
fn system_rollback() {
    let Some(rt) = boot_applied(Mode::System, &norse(FAST_HEALTH, "", ""), "standard") else {
        return;
    };
    apply_ok(&rt, "odin");
    let out = rt.strixc(&["rollback"]);
    assert!(out.status.success(), "rollback: {}", text(&out));
    assert_serving(&rt, &[THOR, VALKYRIE]);
    assert_not_serving(&rt, ODIN);
    assert_replaced(&rt, "odin", "valkyrie");
    let st = rt.strixc(&["status", "--json"]);
    assert!(
        String::from_utf8_lossy(&st.stdout).contains("standard"),
        "{}",
        text(&st)
    );
}

/// After a failed switch to odin, standard is back and serving.
fn assert_rolled_back(rt: &Runtime) {
    assert_serving(rt, &[THOR, VALKYRIE]);
    assert_ne!(rt.prop(&unit("odin"), "ActiveState"), "active");
}

/// Boots a system root with odin's runtime given `odin_env`, serves standard, then switches
/// to odin, which must fail: exit 4 (the report, and how long the apply took).
fn fail_odin(odin_env: &str) -> Option<(Booted, std::process::Output, Duration)> {
    let rt = boot(Mode::System, &norse(FAST_HEALTH, odin_env, ""))?;
    apply_ok(&rt, "standard");
    let (out, took) = apply(&rt, "odin");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    Some((rt, out, took))
}

#[test]
fn system_container_exiting_at_start_rolls_back_and_shows_its_output() {
    let Some((rt, out, took)) = fail_odin(r#"    env "STANDIN_EXIT_AT_START" "3""#) else {
        return;
    };
    eprintln!("failed apply took {took:?}");
    assert_rolled_back(&rt);
    // the container's own last words, from the agent's journal
    let report = text(&out);
    assert!(
        report.contains("engine core initialization failed"),
        "the report lacks the container's output:\n{report}\n--- its journal:\n{}",
        rt.journal(&unit("odin"), 30)
    );
}

#[test]
fn system_never_healthy_is_killed_within_the_bound() {
    let Some((rt, _out, took)) = fail_odin(r#"    env "STANDIN_HANG" "1""#) else {
        return;
    };
    eprintln!("apply of a never-healthy agent failed after {took:?}");
    // start-period 20 s bounds the load: given up on well before a minute, not after minutes
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert_rolled_back(&rt);
}

#[test]
fn system_unhealthy_after_serving_is_killed_and_restarted() {
    let Some(rt) = boot_applied(
        Mode::System,
        &norse(FAST_HEALTH, "", r#"    env "STANDIN_UNHEALTHY_AFTER" "4""#),
        "standard",
    ) else {
        return;
    };
    let first = rt.prop(&unit("valkyrie"), "MainPID");
    let waited = rt.wait(Duration::from_secs(60), "valkyrie restarted", || {
        rt.prop(&unit("valkyrie"), "NRestarts")
            .parse::<u32>()
            .is_ok_and(|n| n >= 1)
    });
    eprintln!("valkyrie killed by its health check and restarted after {waited:?}");
    rt.wait(Duration::from_secs(30), "valkyrie serving again", || {
        rt.get(&health_url(VALKYRIE)).0 == 200
    });
    assert_ne!(rt.prop(&unit("valkyrie"), "MainPID"), first);
    let journal = rt.journal(&unit("valkyrie"), 200);
    assert!(journal.contains("unhealthy from now on"), "{journal}");
}

#[test]
fn system_target_alone_switches_profiles() {
    let Some(rt) = boot_applied(Mode::System, &norse(FAST_HEALTH, "", ""), "standard") else {
        return;
    };
    let out = rt.systemctl(&["start", "e-odin.target"]);
    assert!(out.status.success(), "{}", text(&out));
    rt.wait(Duration::from_secs(60), "odin serving", || {
        rt.get(&health_url(ODIN)).0 == 200
    });
    assert_not_serving(&rt, VALKYRIE);
    assert_replaced(&rt, "valkyrie", "odin");
    assert_eq!(rt.prop("e-standard.target", "ActiveState"), "inactive");
}

/// Profile targets mean "serving": `systemctl start S-P.target` returns once every agent of
/// P answers, fails when one fails, and the target is not active after that. And the whole
/// stack stops with its slice.
#[test]
fn system_target_start_returns_when_serving_and_fails_with_its_agent() {
    let Some(rt) = boot_applied(
        Mode::System,
        &norse(FAST_HEALTH, "", r#"    env "STANDIN_READY_AFTER" "3""#),
        "standard",
    ) else {
        return;
    };
    let out = rt.systemctl(&["stop", "e.slice"]);
    assert!(out.status.success(), "{}", text(&out));
    for (agent, port) in [("thor", THOR), ("valkyrie", VALKYRIE)] {
        assert_ne!(rt.prop(&unit(agent), "ActiveState"), "active", "{agent}");
        assert_not_serving(&rt, port);
    }

    // valkyrie takes 3 s to be ready: the start returns only once it answers
    let t0 = Instant::now();
    let out = rt.systemctl(&["start", "e-standard.target"]);
    assert!(out.status.success(), "{}", text(&out));
    eprintln!("systemctl start e-standard.target: {:?}", t0.elapsed());
    assert_serving(&rt, &[THOR, VALKYRIE]);
    assert_eq!(rt.prop("e-standard.target", "ActiveState"), "active");

    // odin's runtime now fails at start: starting its target fails, and it is not active
    rt.write(
        STACK,
        &norse(FAST_HEALTH, r#"    env "STANDIN_EXIT_AT_START" "3""#, ""),
    );
    apply_ok(&rt, "standard");
    let out = rt.systemctl(&["start", "e-odin.target"]);
    assert!(
        !out.status.success(),
        "start e-odin.target succeeded: {}",
        text(&out)
    );
    let active = rt.systemctl(&["is-active", "e-odin.target"]);
    assert!(!active.status.success(), "{}", text(&active));
}

/// A device the machine lacks: apply names it and changes nothing; started behind strixc's
/// back, the agent fails a bounded number of times instead of restarting every 250 ms.
#[test]
fn system_missing_device_is_named_and_nothing_spins() {
    let Some(rt) = boot_applied(
        Mode::System,
        &norse(FAST_HEALTH, r#"    device "/dev/kfd""#, ""),
        "standard",
    ) else {
        return;
    };
    let (out, _) = apply(&rt, "odin");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("/dev/kfd"), "{}", text(&out));
    assert_serving(&rt, &[THOR, VALKYRIE]);
    assert_eq!(rt.prop(&unit("odin"), "NRestarts"), "0");

    rt.systemctl(&["start", "e-odin.target"]);
    std::thread::sleep(Duration::from_secs(6));
    let restarts: u32 = rt.prop(&unit("odin"), "NRestarts").parse().unwrap_or(0);
    let state = rt.prop(&unit("odin"), "ActiveState");
    eprintln!("odin without /dev/kfd: {restarts} restarts in 6 s, now {state}");
    assert!(restarts <= 5, "odin restarted {restarts} times in 6 s");
    assert_ne!(state, "active");
}

/// Readiness is seen within a couple of seconds of the server answering 200, with the
/// stack's default health settings (no interval given).
#[test]
fn system_readiness_follows_the_server() {
    let Some(rt) = boot(Mode::System, &norse(r#"health "/health""#, "", "")) else {
        return;
    };
    let out = rt.strixc(&[
        "apply",
        "--profile",
        "standard",
        "-f",
        STACK,
        "--timeout",
        "2min",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let mut worst = 0f64;
    for agent in ["thor", "valkyrie"] {
        let journal = rt.journal(&unit(agent), 200);
        let ready: f64 = journal
            .lines()
            .find_map(|l| l.split("uptime ").nth(1)?.split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no ready line in {agent}'s journal:\n{journal}"));
        let active = rt.mono(&unit(agent), "ActiveEnterTimestampMonotonic") as f64 / 1e6;
        let lag = active - ready;
        eprintln!("readiness: {agent} active {lag:.2} s after its server answered 200");
        worst = worst.max(lag);
    }
    assert!(
        worst < 10.0,
        "an agent went active {worst:.1} s after its server was ready"
    );
}

/// Stack "l": the real llama.cpp server with the tiny model, as a container (mimir, image
/// localhost/llama-cpp) and as a native agent (saga, the root's /usr/local/bin/llama-server).
fn llama_stack() -> String {
    llama_stack_with(
        "l",
        r#"profile "chat" default=#true {
    agents "mimir" "saga"
}"#,
    )
}

/// Stack `name` with the two llama.cpp agents (mimir in a container on 8021, saga native on
/// 8022) and then `rest` (profiles, a gateway).
fn llama_stack_with(name: &str, rest: &str) -> String {
    let tiny = support::stack::tiny_model("/models/tiny.gguf");
    format!(
        r#"
stack "{name}" {{
    description "a real llama.cpp server, container and native"
}}
host {{
    memory "64GiB"
    gpu "gfx1151" memory="60GiB" unified=#true
    reserve "6GiB"
    podman "5.4"
}}
runtime "llama" {{
    engine "llama.cpp"
    image "localhost/llama-cpp"
    health "/health" interval="1s" start-period="30s"
{SANDBOX_QUADLET}
}}
runtime "llama-native" {{
    engine "llama.cpp"
    command "/usr/local/bin/llama-server" "--model" "{{model}}" "--host" "{{host}}" "--port" "{{port}}" "--ctx-size" "{{context}}" "-t" "1"
    health "/health" interval="1s" start-period="30s"
}}
{tiny}
agent "mimir" {{
    model "tiny"
    runtime "llama"
    port 8021
    context 2048
}}
agent "saga" {{
    model "tiny"
    runtime "llama-native"
    port 8022
    context 2048
}}
{rest}
"#
    )
}

#[test]
fn system_llama_cpp_chat_right_after_apply() {
    let Some(rt) = boot(Mode::System, &llama_stack()) else {
        return;
    };
    apply_ok(&rt, "chat");
    for port in [8021, 8022] {
        let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
        // the tiny model never emits EOS: always cap the tokens
        let (code, body) = rt.post_json(
            &url,
            r#"{"messages":[{"role":"user","content":"hello world"}],"max_tokens":8}"#,
        );
        assert_eq!(code, 200, "port {port}: {body}");
        assert!(
            body.contains("\"object\":\"chat.completion\""),
            "port {port}: {body}"
        );
        assert!(
            body.contains("\"finish_reason\":\"length\""),
            "port {port}: {body}"
        );
        let (code, stream) = rt.post_json(
            &url,
            r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true}"#,
        );
        assert_eq!(code, 200, "port {port}: {stream}");
        let chunks = stream.lines().filter(|l| l.starts_with("data: {")).count();
        assert!(chunks >= 2, "port {port}: {chunks} chunks:\n{stream}");
        assert!(
            stream.lines().any(|l| l == "data: [DONE]"),
            "port {port}:\n{stream}"
        );
        eprintln!("llama.cpp on {port}: chat ok, {chunks} streamed chunks");
    }
    assert_eq!(rt.prop("l-mimir.service", "ActiveState"), "active");
    assert_eq!(rt.prop("l-saga.service", "ActiveState"), "active");
}

/// Stack "o": one native llama.cpp agent that OpenCode's first request fits in (its system
/// prompt and tool definitions, about 7,800 tokens, plus the output cap).
fn opencode_stack() -> String {
    let tiny = support::stack::tiny_model("/models/tiny.gguf");
    format!(
        r#"
stack "o" {{
    description "OpenCode against a real llama.cpp server"
}}
host {{
    memory "64GiB"
    gpu "gfx1151" memory="60GiB" unified=#true
    reserve "6GiB"
    podman "5.4"
}}
runtime "llama-native" {{
    engine "llama.cpp"
    command "/usr/local/bin/llama-server" "--model" "{{model}}" "--host" "{{host}}" "--port" "{{port}}" "--ctx-size" "{{context}}" "-t" "2"
    health "/health" interval="1s" start-period="30s"
}}
{tiny}
agent "saga" {{
    model "tiny"
    runtime "llama-native"
    port 8023
    context 16384
    opencode "build" max-tokens=64
}}
profile "code" default=#true {{
    agents "saga"
}}
"#
    )
}

#[test]
fn system_opencode_answers_through_the_generated_files_right_after_apply() {
    let opencode = match support::opencode::Opencode::find() {
        Ok(found) => found,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("{why}"),
        Err(why) => return eprintln!("SKIPPED (no OpenCode): {why}"),
    };
    let stack = opencode_stack();
    let Some(rt) = boot(Mode::System, &stack) else {
        return;
    };
    apply_ok(&rt, "code");
    // The same bytes `apply` installed: the build is a function of the stack's content.
    let source = strixc::source::Source::new("stack.kdl", stack.as_str());
    let (tree, _) = strixc::compile::build_tree(&source).expect("the stack builds");
    let config = tree.get("opencode/opencode.json").expect("opencode.json");
    let model = support::opencode::model_of(config, "saga");
    let client = support::opencode::Opencode {
        netns_of: Some(rt.pid),
        ..opencode
    };
    let run = client.run(config, &model, "hi", Duration::from_secs(420));
    assert!(run.success, "{}", run.describe());
    assert!(!run.stdout.trim().is_empty(), "{}", run.describe());
    eprintln!(
        "opencode run --model {model}: exit 0 after {:.1} s",
        run.elapsed.as_secs_f64()
    );
}

// ── benchmarks (scripts/bench-e2e): ratios within one run, alternating, never asserted ──

/// Seconds a shell snippet took inside the root, timed there (no nsenter in the time).
fn timed(rt: &Runtime, script: &str) -> f64 {
    let out = rt.sh(&format!(
        "t0=$(date +%s%N); {{ {script}\n}} >/dev/null 2>&1 || exit 1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 ))"
    ));
    assert!(out.status.success(), "{script}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse::<f64>()
        .unwrap()
        / 1e6
}

/// `rounds` timings of each, alternating which goes first (neither always runs on a warmer
/// machine).
fn alternate(
    rounds: usize,
    mut ours: impl FnMut() -> f64,
    mut theirs: impl FnMut() -> f64,
) -> (Vec<f64>, Vec<f64>) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            a.push(ours());
            b.push(theirs());
        } else {
            b.push(theirs());
            a.push(ours());
        }
    }
    (a, b)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `podman run` of an agent with the unit's image, environment and exact `vllm serve`
/// arguments, then polling its health every 100 ms: what a script would do by hand.
fn podman_run_script(stack: &str, agents: &[(&str, u16)]) -> String {
    let source = strixc::source::Source::new("stack.kdl", stack);
    let (tree, _) = strixc::compile::build_tree(&source).expect("the stack builds");
    let mut script = String::new();
    for (agent, port) in agents {
        let unit = tree
            .get(&format!("containers/systemd/e-{agent}.container"))
            .expect("container file");
        let exec = String::from_utf8_lossy(unit)
            .lines()
            .find_map(|l| l.strip_prefix("Exec="))
            .expect("Exec=")
            .to_string();
        script.push_str(&format!(
            "podman run -d --rm --name bench-{agent} --network host --ipc host \
             --security-opt seccomp=unconfined --log-driver journald \
             -e STANDIN_READY_AFTER=1 localhost/vllm-standin {exec}\n\
             until curl -fsS -o /dev/null {}; do sleep 0.1; done\n",
            health_url(*port)
        ));
    }
    script
}

#[test]
#[ignore = "benchmark: scripts/bench-e2e"]
fn bench_apply_and_switch_against_podman_run_and_systemctl() {
    let rounds: usize = std::env::var("STRIXC_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let stack = norse(FAST_HEALTH, "", "");
    let Some(rt) = boot(Mode::System, &stack) else {
        return;
    };
    apply_ok(&rt, "standard"); // first start: images, generations, boot links
    let by_hand = podman_run_script(&stack, &[("thor", THOR), ("valkyrie", VALKYRIE)]);
    let stop_stack = "systemctl stop e.slice";
    let (ours, theirs) = alternate(
        rounds,
        || {
            rt.sh(stop_stack);
            timed(&rt, &format!("strixc apply --profile standard -f {STACK}"))
        },
        || {
            rt.sh(stop_stack);
            let took = timed(&rt, &by_hand);
            rt.sh("podman rm -f -t 0 bench-thor bench-valkyrie");
            took
        },
    );
    let (a, p) = (median(ours.clone()), median(theirs.clone()));
    eprintln!(
        "from nothing to thor + valkyrie serving (stand-in ready after 1 s), {rounds} rounds, medians:\n  \
         strixc apply {a:.2} s {ours:?}\n  podman run + health polling {p:.2} s {theirs:?}\n  \
         ratio {:.3}; strixc - podman = {:.2} s (goal: at most 1.1 x podman + 1 s)",
        a / p,
        a - p
    );

    apply_ok(&rt, "standard");
    let (ours, theirs) = alternate(
        rounds,
        || {
            timed(&rt, &format!("strixc apply --profile odin -f {STACK}"))
                + timed(&rt, &format!("strixc apply --profile standard -f {STACK}"))
        },
        || {
            timed(&rt, "systemctl start e-odin.target")
                + timed(&rt, "systemctl start e-standard.target")
        },
    );
    let (a, s) = (median(ours.clone()), median(theirs.clone()));
    eprintln!(
        "switch standard -> odin -> standard, both waiting until serving, {rounds} rounds, medians:\n  \
         strixc apply {a:.2} s {ours:?}\n  systemctl start {s:.2} s {theirs:?}\n  ratio {:.3}",
        a / s
    );
}

/// Stack "g": the two real llama.cpp agents in profiles that never run together (mimir in
/// "chat", saga in "code") behind the gateway on port 8000.
fn gateway_stack() -> String {
    llama_stack_with(
        "g",
        r#"profile "chat" default=#true {
    agents "mimir"
}
profile "code" {
    agents "saga"
}
gateway {
    port 8000
    strixc "/usr/local/bin/strixc"
}"#,
    )
}

#[test]
fn system_gateway_summons_the_real_llama_cpp_agent_a_request_names() {
    let Some(rt) = boot(Mode::System, &gateway_stack()) else {
        return;
    };
    apply_ok(&rt, "chat");
    assert_eq!(rt.prop("g-gateway.socket", "ActiveState"), "active");
    let url = "http://127.0.0.1:8000/v1/chat/completions";
    let ask = |model: &str| {
        rt.post_json(
            url,
            &format!(
                r#"{{"model":"{model}","messages":[{{"role":"user","content":"hello"}}],"max_tokens":8}}"#
            ),
        )
    };
    // mimir runs: answered at once, through the gateway.
    let (code, body) = ask("mimir");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"object\":\"chat.completion\""), "{body}");
    // saga does not: the gateway switches to "code" (mimir stops first), then answers.
    let t0 = Instant::now();
    let (code, body) = ask("saga");
    assert_eq!(code, 200, "{body}\n{}", rt.journal("g-gateway.service", 40));
    eprintln!("gateway: summoned saga and answered in {:?}", t0.elapsed());
    assert_eq!(rt.prop("g-code.target", "ActiveState"), "active");
    assert_eq!(rt.prop("g-saga.service", "ActiveState"), "active");
    assert_ne!(rt.prop("g-mimir.service", "ActiveState"), "active");
    assert_replaced_in(&rt, "g-mimir.service", "g-saga.service");
    // And a streamed completion through the gateway, chunk by chunk.
    let (code, stream) = rt.post_json(
        url,
        r#"{"model":"saga","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true}"#,
    );
    assert_eq!(code, 200, "{stream}");
    assert!(
        stream.lines().filter(|l| l.starts_with("data: {")).count() >= 2
            && stream.lines().any(|l| l == "data: [DONE]"),
        "{stream}"
    );
    // An unknown model: 404 in OpenAI's shape.
    let (code, body) = ask("nobody");
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("\"error\""), "{body}");
}

/// `new` started only after `old` had stopped (full unit names).
fn assert_replaced_in(rt: &Runtime, old: &str, new: &str) {
    let stopped = rt.mono(old, "InactiveEnterTimestampMonotonic");
    let started = rt.mono(new, "ExecMainStartTimestampMonotonic");
    assert!(
        stopped > 0 && stopped <= started,
        "{new} started at {started} µs, {old} stopped at {stopped} µs"
    );
}
