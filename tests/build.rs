//! `strixc build`: the whole generated tree (snapshots), its determinism, and what the real
//! readers make of it — podman 5.4's quadlet generator, `systemd-analyze verify`, and a real
//! systemd user manager that loads the units, switches profiles and runs native agents.
//!
//! Needs `scripts/test-deps` (quadlet at target/test-deps/quadlet or `$STRIXC_QUADLET`;
//! systemd, dbus-daemon, curl, unshare).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use strixc::compile::build_tree;
use strixc::source::Source;
use strixc::tree::Tree;
use strixc::tree::manifest::Manifest;
use support::Sandbox;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The stacks every tree-wide test covers: the shipped one and tests/stacks/build/*.
const STACKS: [&str; 5] = ["stack", "llama", "discrete", "minimal", "gateway"];

fn stack_path(name: &str) -> PathBuf {
    match name {
        "stack" => root().join("stack.kdl"),
        other => root().join(format!("tests/stacks/build/{other}.kdl")),
    }
}

fn build_file(path: &Path) -> Tree {
    let source = Source::read(path).expect("read stack");
    match build_tree(&source) {
        Ok((tree, _warnings)) => tree,
        Err(d) => panic!("{} does not build: {d:?}", path.display()),
    }
}

fn build(name: &str) -> Tree {
    build_file(&stack_path(name))
}

fn build_text(name: &str, text: &str) -> Tree {
    let source = Source::new(format!("{name}.kdl"), text);
    match build_tree(&source) {
        Ok((tree, _)) => tree,
        Err(d) => panic!("{name} does not build: {d:?}"),
    }
}

/// The whole tree as one text: every file under a `==> path <==` header.
fn concat(tree: &Tree) -> String {
    let mut text = String::new();
    for (path, bytes) in tree.iter() {
        text.push_str(&format!("==> {path} <==\n"));
        text.push_str(&String::from_utf8_lossy(bytes));
        text.push('\n');
    }
    text
}

fn strixc(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strixc"))
        .args(args)
        .current_dir(cwd)
        .envs(env.iter().copied())
        .output()
        .expect("run strixc")
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("strixc-build-")
        .tempdir()
        .expect("tempdir")
}

/// Every regular file under `dir`, relative path → bytes.
fn read_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

fn write(tree: &Tree, dir: &Path) {
    strixc::tree::write::write_tree(tree, dir).expect("write tree");
}

/// Stack `name` built, and written to a fresh folder.
fn built_on_disk(name: &str) -> (Tree, tempfile::TempDir) {
    let (tree, dir) = (build(name), tempdir());
    write(&tree, dir.path());
    (tree, dir)
}

// ── snapshots and determinism ────────────────────────────────────────────────────────

#[test]
fn whole_tree_snapshots() {
    for name in STACKS {
        let text = concat(&build(name));
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(format!("build_tree_{name}"), text);
        });
    }
}

#[test]
fn output_is_byte_identical_across_runs_time_zones_and_locales() {
    let a = tempdir();
    let b = tempdir();
    let abs = stack_path("stack");
    let first = strixc(
        &[
            "-f",
            abs.to_str().unwrap(),
            "build",
            "-o",
            a.path().to_str().unwrap(),
        ],
        Path::new("/"),
        &[("TZ", "UTC"), ("LC_ALL", "C")],
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // From another directory, a relative path, another zone and locale.
    let second = strixc(
        &["-f", "stack.kdl", "build", "-o", b.path().to_str().unwrap()],
        root(),
        &[
            ("TZ", "Pacific/Chatham"),
            ("LC_ALL", "de_DE.UTF-8"),
            ("LANG", "tr_TR.UTF-8"),
        ],
    );
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let (a, b) = (read_dir(a.path()), read_dir(b.path()));
    assert!(a.len() > 10);
    assert_eq!(a, b);
    for (path, bytes) in &a {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(root().to_str().unwrap()),
            "{path} holds an absolute path"
        );
        assert!(!text.contains("/tmp/"), "{path} holds a temporary path");
    }
}

#[test]
fn output_depends_on_the_stacks_content_not_its_file_name() {
    let text = std::fs::read_to_string(stack_path("stack")).unwrap();
    let plain = build_text("stack", &text);
    for name in ["/srv/stacks/other", "line\nbreak", "a b/c"] {
        let source = Source::new(format!("{name}.kdl"), text.as_str());
        let (tree, _) = build_tree(&source).expect("builds");
        assert_eq!(concat(&tree), concat(&plain), "{name:?}");
    }
}

#[test]
fn committed_generated_tree_is_fresh() {
    let out = strixc(&["build", "--check", "-o", "generated"], root(), &[]);
    assert!(
        out.status.success(),
        "generated/ is stale: run `cargo run -- build`\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_file_has_the_header_where_the_format_allows_comments() {
    for name in STACKS {
        let file = stack_path(name);
        let source_name = file.file_name().unwrap().to_str().unwrap().to_owned();
        for (path, bytes) in build(name).iter() {
            let text = std::str::from_utf8(bytes).unwrap();
            assert!(
                text.ends_with('\n') && !text.ends_with("\n\n"),
                "{name}: {path} must end in one newline"
            );
            if path.ends_with(".json") {
                continue;
            }
            let first = text.lines().next().unwrap();
            assert!(
                first.starts_with("# Generated by strixc from ") && first.contains("Do not edit"),
                "{path}"
            );
            // The stack's name, never the file's: the same stack through another path
            // gives the same bytes.
            assert!(!first.contains(&source_name), "{path}: {first}");
        }
    }
}

// ── the tree's contract ──────────────────────────────────────────────────────────────

#[test]
fn manifest_lists_every_file_profile_and_agent() {
    let tree = build("stack");
    let manifest: Manifest = serde_json::from_slice(tree.get("manifest.json").unwrap()).unwrap();
    assert_eq!(
        manifest.generator,
        format!("strixc {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(manifest.stack, "norse");
    assert_eq!(manifest.default_profile, "standard");
    let files: BTreeSet<&str> = tree.paths().filter(|p| *p != "manifest.json").collect();
    assert_eq!(
        manifest
            .files
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        files
    );
    for (path, hash) in &manifest.files {
        assert_eq!(
            hash,
            &strixc::tree::assemble::sha256_hex(tree.get(path).unwrap()),
            "{path}"
        );
    }
    let odin = manifest.profile("odin").unwrap();
    assert_eq!(odin.target, "norse-odin.target");
    assert_eq!(odin.agents, ["thor", "odin"]);
    let thor = manifest.agent("thor").unwrap();
    assert_eq!(thor.unit, "norse-thor.service");
    assert_eq!(thor.files, ["containers/systemd/norse-thor.container"]);
    assert_eq!(
        thor.health_url.as_deref(),
        Some("http://127.0.0.1:8001/health")
    );
    assert_eq!(thor.port, 8001);
    for path in [
        "systemd/swap.img.swap",
        "systemd/norse-swapfile.service",
        "sysctl.d/90-norse.conf",
        "modprobe.d/norse.conf",
        "earlyoom/earlyoom",
        "kernel/cmdline.txt",
    ] {
        assert!(tree.get(path).is_some(), "{path}");
    }
    // Host tuning only when declared.
    let minimal = build("minimal");
    assert!(
        minimal.paths().all(|p| !p.starts_with("sysctl.d/")
            && !p.contains(".swap")
            && !p.starts_with("kernel/"))
    );
    let llama: Manifest =
        serde_json::from_slice(build("llama").get("manifest.json").unwrap()).unwrap();
    assert_eq!(
        llama.agent("forge").unwrap().files,
        ["systemd/lab-forge.service"]
    );
}

#[test]
fn swap_unit_name_is_systemds_own_path_escaping() {
    for path in [
        "/swap.img",
        "/var/lib/swap file",
        "//a//b/",
        "/.hidden",
        "/a-b",
        "/x/ü",
        "/s\\w:a_p.1",
    ] {
        let out = Command::new("systemd-escape")
            .args(["--path", "--suffix=swap", path])
            .output()
            .expect("systemd-escape");
        let expected = String::from_utf8(out.stdout).unwrap().trim_end().to_owned();
        assert_eq!(
            strixc::stack::unit_names::swap_unit_name(path),
            expected,
            "{path}"
        );
    }
}

// OpenCode's files are checked against the upstream schemas in tests/opencode.rs.

// ── podman's quadlet and systemd-analyze ────────────────────────────────────────────

fn quadlet_bin() -> PathBuf {
    let q = support::quadlet();
    assert!(
        q.exists(),
        "quadlet not found at {}: run scripts/test-deps (or set STRIXC_QUADLET)",
        q.display()
    );
    q
}

#[test]
fn quadlet_converts_every_container_in_user_and_system_mode() {
    for name in STACKS {
        let (tree, dir) = built_on_disk(name);
        let containers: Vec<&str> = tree.paths().filter(|p| p.ends_with(".container")).collect();
        assert!(!containers.is_empty(), "{name}");
        for user in [true, false] {
            let mut cmd = Command::new(quadlet_bin());
            cmd.arg("-dryrun")
                .env("QUADLET_UNIT_DIRS", dir.path().join("containers/systemd"));
            if user {
                cmd.arg("-user");
            }
            let out = cmd.output().expect("run quadlet");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "{name} (user={user}): quadlet failed\n{stderr}"
            );
            for line in stderr.lines() {
                assert!(
                    line.contains("Loading source unit file"),
                    "{name} (user={user}): {line}"
                );
            }
            for path in &containers {
                let stem = path
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .trim_end_matches(".container");
                assert!(
                    stdout.contains(&format!("---{stem}.service---")),
                    "{name}: {stem} not converted"
                );
            }
        }
    }
}

/// Lines `systemd-analyze verify` may print: the programs a test stack names but this
/// machine lacks (a llama-server path; podman when Debian's client is not installed).
const VERIFY_ALLOWED: [&str; 3] = [
    "Command /usr/local/bin/llama-server is not executable: No such file or directory",
    "Command /usr/bin/podman is not executable: No such file or directory",
    // The gateway's service runs `strixc` from systemd's search path (not installed here).
    "Command strixc is not executable: No such file or directory",
];

#[test]
fn systemd_analyze_verifies_generated_units_and_quadlets_output() {
    for name in STACKS {
        let (tree, dir) = built_on_disk(name);
        let units = dir.path().join("units");
        std::fs::create_dir(&units).unwrap();
        let out = Command::new(quadlet_bin())
            .arg("-user")
            .arg(&units)
            .env("QUADLET_UNIT_DIRS", dir.path().join("containers/systemd"))
            .output()
            .expect("run quadlet");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (path, bytes) in tree.iter() {
            if let Some(unit) = path.strip_prefix("systemd/") {
                std::fs::write(units.join(unit), bytes).unwrap();
            }
        }
        let files: Vec<PathBuf> = std::fs::read_dir(&units)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(files.len() >= tree.paths().filter(|p| p.ends_with(".container")).count());
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .args(&files)
            .output()
            .expect("systemd-analyze");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for line in stderr.lines() {
            let allowed = VERIFY_ALLOWED.iter().any(|a| line.ends_with(a));
            assert!(
                allowed,
                "{name}: systemd-analyze verify: {line}\n(all output:\n{stderr})"
            );
        }
        assert!(
            out.status.success() || !stderr.is_empty(),
            "{name}: verify failed silently"
        );
    }
}

// ── a real systemd user manager ─────────────────────────────────────────────────────

/// Copies the tree's unit files into the sandbox: `.container`s where quadlet looks,
/// `.service`/`.target` into the user unit dir. Swap units are system-only: skipped.
fn install_units(sbx: &Sandbox, tree: &Tree) {
    let quadlets = sbx.config_home().join("containers/systemd");
    for (path, bytes) in tree.iter() {
        if let Some(name) = path.strip_prefix("containers/systemd/") {
            std::fs::write(quadlets.join(name), bytes).unwrap();
        } else if let Some(name) = path.strip_prefix("systemd/")
            && !name.ends_with(".swap")
            && !name.ends_with("-swapfile.service")
        {
            std::fs::write(sbx.unit_dir().join(name), bytes).unwrap();
        }
    }
    let out = sbx.systemctl(&["daemon-reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn show(sbx: &Sandbox, unit: &str, property: &str) -> String {
    let out = sbx.systemctl(&["show", "-p", property, "--value", unit]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn show_u64(sbx: &Sandbox, unit: &str, property: &str) -> u64 {
    show(sbx, unit, property)
        .parse()
        .unwrap_or_else(|_| panic!("{unit} {property}"))
}

fn start(sbx: &Sandbox, unit: &str) {
    let out = sbx.systemctl(&["start", unit]);
    assert!(
        out.status.success(),
        "start {unit}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_active(sbx: &Sandbox, unit: &str) {
    support::wait_for(
        Duration::from_secs(20),
        || show(sbx, unit, "ActiveState") == "active",
        unit,
    );
}

fn wait_inactive(sbx: &Sandbox, unit: &str) {
    support::wait_for(
        Duration::from_secs(20),
        || {
            matches!(
                show(sbx, unit, "ActiveState").as_str(),
                "inactive" | "failed"
            )
        },
        unit,
    );
}

#[test]
fn systemd_with_quadlet_as_generator_loads_every_unit() {
    for name in STACKS {
        let sbx = Sandbox::with_quadlet();
        let tree = build(name);
        install_units(&sbx, &tree);
        let manifest: Manifest =
            serde_json::from_slice(tree.get("manifest.json").unwrap()).unwrap();
        let units = manifest
            .agents
            .iter()
            .map(|a| a.unit.clone())
            .chain(manifest.profiles.iter().map(|p| p.target.clone()));
        for unit in units {
            assert_eq!(show(&sbx, &unit, "LoadState"), "loaded", "{name}: {unit}");
        }
        if name == "llama" {
            // `cpu-weight` reaches systemd as the unit's CPU share, native and container.
            assert_eq!(show(&sbx, "lab-forge.service", "CPUWeight"), "1000");
            assert_eq!(show(&sbx, "lab-scout.service", "CPUWeight"), "50");
        }
        // The default profile installs for boot; a user manager accepts its [Install].
        let default = &manifest.profile(&manifest.default_profile).unwrap().target;
        let out = sbx.systemctl(&["enable", default]);
        assert!(
            out.status.success(),
            "{name}: enable {default}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            sbx.unit_dir()
                .join("default.target.wants")
                .join(default)
                .exists(),
            "{name}"
        );
    }
}

/// KDL string literal.
fn kdl(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Stack "t": native agents running the project's test server, each agent `ports[i]`.
fn native_stack(
    agents: &[(&str, u16, &str)],
    profiles: &str,
    runtime_command: &[String],
    env: &[(&str, &str)],
) -> String {
    let command: Vec<String> = runtime_command.iter().map(|a| kdl(a)).collect();
    let env: String = env
        .iter()
        .map(|(k, v)| format!("    env {} {}\n", kdl(k), kdl(v)))
        .collect();
    let mut text = format!(
        "stack \"t\"\nhost {{\n    memory \"64GiB\"\n    gpu \"gfx1151\" memory=\"60GiB\" unified=#true\n}}\n\
         runtime \"server\" {{\n    engine \"llama.cpp\"\n    command {}\n{env}    health \"/health\" interval=\"1s\" start-period=\"20s\"\n}}\n\
         model \"m\" {{\n    path \"/srv/m.gguf\"\n    quant \"gguf\"\n    weights \"1GB\"\n    layers 2\n    kv-heads 1\n    head-dim 64\n    max-context 4096\n}}\n",
        command.join(" ")
    );
    for (name, port, extra) in agents {
        text.push_str(&format!(
            "agent \"{name}\" {{\n    model \"m\"\n    port {port}\n    context 1024\n{extra}}}\n"
        ));
    }
    text.push_str(profiles);
    text
}

fn server_command() -> Vec<String> {
    [
        support::test_server(),
        "--port",
        "{port}",
        "--ready-after",
        "0.3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn a_profile_switch_stops_replaced_agents_before_new_ones_start() {
    let sbx = Sandbox::start();
    let port = |_| support::free_port();
    let ports: Vec<u16> = (0..4).map(port).collect();
    // valkyrie takes a second to stop: without ordering, odin would start meanwhile.
    let slow_stop = "    quadlet \"Service\" \"ExecStop\" \"/bin/sleep 1\"\n";
    let text = native_stack(
        &[
            ("thor", ports[0], ""),
            ("valkyrie", ports[1], slow_stop),
            ("odin", ports[2], slow_stop),
            ("heimdall", ports[3], slow_stop),
        ],
        "profile \"standard\" default=#true {\n    agents \"thor\" \"valkyrie\"\n}\n\
         profile \"heimdall\" extends=\"standard\" {\n    agents \"heimdall\"\n}\n\
         profile \"odin\" {\n    agents \"thor\" \"odin\"\n}\n",
        &server_command(),
        &[],
    );
    let tree = build_text("stack", &text);
    install_units(&sbx, &tree);

    start(&sbx, "t-standard.target");
    for unit in ["t-thor.service", "t-valkyrie.service"] {
        wait_active(&sbx, unit);
    }
    // Run together: valkyrie starts once thor is up (its ExecStartPost saw /health).
    assert!(
        show_u64(
            &sbx,
            "t-valkyrie.service",
            "ExecMainStartTimestampMonotonic"
        ) >= show_u64(&sbx, "t-thor.service", "ActiveEnterTimestampMonotonic")
    );

    // heimdall's profile holds valkyrie, odin's does not: the case where targets
    // ordered after the agents they stop would make a cycle.
    start(&sbx, "t-heimdall.target");
    wait_active(&sbx, "t-heimdall.service");
    start(&sbx, "t-odin.target");
    wait_active(&sbx, "t-odin.service");
    for replaced in ["t-valkyrie.service", "t-heimdall.service"] {
        wait_inactive(&sbx, replaced);
        let stopped = show_u64(&sbx, replaced, "InactiveEnterTimestampMonotonic");
        let started = show_u64(&sbx, "t-odin.service", "ExecMainStartTimestampMonotonic");
        assert!(
            stopped > 0 && stopped <= started,
            "{replaced} stopped at {stopped}, odin started at {started}"
        );
    }
    assert_eq!(
        show(&sbx, "t-thor.service", "ActiveState"),
        "active",
        "thor is in both profiles: kept"
    );
    assert_eq!(show(&sbx, "t-standard.target", "ActiveState"), "inactive");

    // And back: odin is gone before valkyrie starts again.
    start(&sbx, "t-standard.target");
    wait_active(&sbx, "t-valkyrie.service");
    wait_inactive(&sbx, "t-odin.service");
    let stopped = show_u64(&sbx, "t-odin.service", "InactiveEnterTimestampMonotonic");
    let started = show_u64(
        &sbx,
        "t-valkyrie.service",
        "ExecMainStartTimestampMonotonic",
    );
    assert!(
        stopped <= started,
        "odin stopped at {stopped}, valkyrie started at {started}"
    );
}

fn healthy(port: u16) -> bool {
    Command::new("curl")
        .args([
            "-fsS",
            "-o",
            "/dev/null",
            &format!("http://127.0.0.1:{port}/health"),
        ])
        .status()
        .is_ok_and(|s| s.success())
}

/// Stack "t" with two runtimes: `slow` (healthy after 1 s) and `broken` (exits at once).
fn serving_stack(ports: &[u16; 3]) -> String {
    let server = kdl(support::test_server());
    let runtime = |name: &str, args: &str| {
        format!(
            "runtime \"{name}\" {{\n    engine \"llama.cpp\"\n    command {server} \"--port\" \"{{port}}\" {args}\n    health \"/health\" interval=\"1s\" start-period=\"20s\"\n}}\n"
        )
    };
    let agent = |name: &str, runtime: &str, port: u16| {
        format!(
            "agent \"{name}\" {{\n    model \"m\"\n    runtime \"{runtime}\"\n    port {port}\n    context 1024\n}}\n"
        )
    };
    format!(
        "stack \"t\"\nhost {{\n    memory \"64GiB\"\n    gpu \"gfx1151\" memory=\"60GiB\" unified=#true\n}}\n{}{}\
         model \"m\" {{\n    path \"/srv/m.gguf\"\n    quant \"gguf\"\n    weights \"1GB\"\n    layers 2\n    kv-heads 1\n    head-dim 64\n    max-context 4096\n}}\n\
         {}{}{}\
         profile \"serving\" default=#true {{\n    agents \"a\" \"b\"\n}}\n\
         profile \"broken\" {{\n    agents \"a\" \"c\"\n}}\n",
        runtime("slow", "\"--ready-after\" \"1\""),
        runtime("broken", "\"--fail\""),
        agent("a", "slow", ports[0]),
        agent("b", "slow", ports[1]),
        agent("c", "broken", ports[2]),
    )
}

#[test]
fn a_profile_target_is_active_exactly_while_its_agents_serve() {
    let sbx = Sandbox::start();
    let ports = [
        support::free_port(),
        support::free_port(),
        support::free_port(),
    ];
    install_units(&sbx, &build_text("stack", &serving_stack(&ports)));

    // `systemctl start` returns only once both agents answer (they load one at a time).
    let begun = std::time::Instant::now();
    start(&sbx, "t-serving.target");
    let took = begun.elapsed();
    assert!(
        healthy(ports[0]) && healthy(ports[1]),
        "returned before serving"
    );
    assert!(
        took >= Duration::from_secs(2),
        "two 1 s loads, one after the other: {took:?}"
    );
    assert_eq!(show(&sbx, "t-serving.target", "ActiveState"), "active");

    // An agent that fails: the start fails, and the target is not active.
    let out = sbx.systemctl(&["start", "t-broken.target"]);
    assert!(
        !out.status.success(),
        "start of a failing profile succeeded"
    );
    assert_ne!(show(&sbx, "t-broken.target", "ActiveState"), "active");
    // And it does not spin: one restart at most in two seconds (RestartSec=5s).
    std::thread::sleep(Duration::from_secs(2));
    let restarts = show_u64(&sbx, "t-c.service", "NRestarts");
    assert!(restarts <= 1, "{restarts} restarts in 2 s");

    // Serving again; then one agent dies: the target goes down with it.
    start(&sbx, "t-serving.target");
    assert_eq!(show(&sbx, "t-serving.target", "ActiveState"), "active");
    let out = sbx.systemctl(&["kill", "-s", "KILL", "t-b.service"]);
    assert!(out.status.success());
    wait_inactive(&sbx, "t-serving.target");

    // The slice holds every agent: stopping it stops the stack.
    start(&sbx, "t-serving.target");
    let out = sbx.systemctl(&["stop", "t.slice"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for unit in ["t-a.service", "t-b.service", "t-serving.target"] {
        wait_inactive(&sbx, unit);
    }
    assert!(!healthy(ports[0]) && !healthy(ports[1]));
}

#[test]
fn values_with_spaces_quotes_backslashes_and_specials_reach_argv_exactly() {
    let sbx = Sandbox::start();
    let out_file = sbx.dir.path().join("argv.txt");
    let port = support::free_port();
    let args = [
        "a b",
        "q\"uote",
        "back\\slash",
        "100%",
        "$HOME",
        "it's",
        ";",
        "",
        "%h",
        "{port",
        "trailing\\",
        "\\",
        " padded ",
        "#not a comment",
    ];
    let script = format!(
        "printf '%s\\n' \"$GREETING\" \"$@\" > {} && exec {} --port \"$1\"",
        out_file.display(),
        support::test_server()
    );
    let mut command: Vec<String> = vec![
        "/bin/sh".into(),
        "-c".into(),
        script,
        "sh".into(),
        "{port}".into(),
    ];
    command.extend(args.iter().map(|s| s.to_string()));
    // Ends with a backslash: systemd must not read it as a line continuation.
    let greeting = " x \"y\" \\z 50% $HOME %n \\";
    let text = native_stack(
        &[("echo", port, "")],
        "profile \"main\" default=#true {\n    agents \"echo\"\n}\n",
        &command,
        &[("GREETING", greeting)],
    );
    let tree = build_text("stack", &text);
    install_units(&sbx, &tree);
    start(&sbx, "t-echo.service");
    let printed = std::fs::read_to_string(&out_file).expect("the agent wrote its argv");
    let mut expected = vec![greeting.to_owned(), port.to_string()];
    expected.extend(args.iter().map(|s| s.to_string()));
    assert_eq!(printed.lines().collect::<Vec<_>>(), expected);
    let _ = sbx.systemctl(&["stop", "t-echo.service"]);
}

#[test]
fn container_values_reach_podmans_argv_exactly() {
    let sbx = Sandbox::start();
    let home = sbx.dir.path().join("home");
    let argv_file = sbx.dir.path().join("podman-argv.txt");
    // A stand-in for podman (quadlet honours $PODMAN): records `podman run`'s argv.
    let fake = sbx.dir.path().join("fake-podman");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nif [ \"$1\" = run ]; then printf '%s\\n' \"$@\" > {}; fi\nexit 0\n",
            argv_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let greeting = r#" x "y" \z $HOME ${HOME} it's %h \"#;
    let port = support::free_port();
    let text = format!(
        "stack \"t\"\nhost {{\n    memory \"128GiB\"\n    gpu \"gfx1151\" memory=\"124GiB\" unified=#true\n}}\n\
         runtime \"vllm\" {{\n    image \"docker.io/library/busybox:latest\"\n    device \"/dev/null\"\n    env \"GREETING\" {}\n    secret \"hf-token\"\n    volume \"%h/my dir\" \"/data\"\n    health \"/health\" interval=\"30s\" start-period=\"1m\"\n}}\n\
         model \"m\" {{\n    repo \"Org/Model-AWQ\"\n    quant \"awq\"\n    weights \"2GB\"\n    layers 2\n    kv-heads 1\n    head-dim 64\n    max-context 4096\n}}\n\
         agent \"x\" {{\n    model \"m\"\n    port {port}\n    context 2048\n    tool-parser \"hermes\"\n}}\n\
         profile \"main\" default=#true {{\n    agents \"x\"\n}}\n",
        kdl(greeting)
    );
    let tree = build_text("stack", &text);
    let dir = tempdir();
    write(&tree, dir.path());
    let out = Command::new(quadlet_bin())
        .arg("-user")
        .arg(sbx.unit_dir())
        .env("QUADLET_UNIT_DIRS", dir.path().join("containers/systemd"))
        .env("PODMAN", &fake)
        .output()
        .expect("run quadlet");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sbx.systemctl(&["daemon-reload"]);
    assert!(out.status.success());
    let _ = sbx.systemctl(&["start", "--no-block", "t-x.service"]);
    support::wait_for(
        Duration::from_secs(10),
        || argv_file.exists(),
        "podman run's argv",
    );
    std::thread::sleep(Duration::from_millis(100));
    let printed = std::fs::read_to_string(&argv_file).unwrap();
    let argv: Vec<&str> = printed.lines().collect();
    let after = |flag: &str| -> Vec<&str> {
        argv.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1])
            .collect()
    };
    let home = home.display().to_string();
    assert_eq!(
        after("--env"),
        [format!(
            r#"GREETING= x "y" \z $HOME ${{HOME}} it's {home} \"#
        )]
    );
    assert_eq!(after("-v"), [format!("{home}/my dir:/data")]);
    assert_eq!(after("--secret"), ["hf-token,type=env,target=HF_TOKEN"]);
    assert_eq!(
        after("--health-cmd"),
        [format!("curl -fsS http://127.0.0.1:{port}/health")]
    );
    let image = argv
        .iter()
        .position(|a| *a == "docker.io/library/busybox:latest")
        .expect("image");
    let port = port.to_string();
    let expected = [
        "vllm",
        "serve",
        "Org/Model-AWQ",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--quantization",
        "awq",
        "--dtype",
        "float16",
        "--enforce-eager",
        "--gpu-memory-utilization",
        "0.05",
        "--max-model-len",
        "2048",
        "--max-num-seqs",
        "4",
        "--kv-cache-dtype",
        "auto",
        "--enable-prefix-caching",
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "hermes",
    ];
    assert_eq!(&argv[image + 1..], expected);
    let _ = sbx.systemctl(&["stop", "t-x.service"]);
}

// ── writing: --check, pruning, atomicity ────────────────────────────────────────────

#[test]
fn check_passes_on_a_fresh_tree_and_fails_after_an_edit_writing_nothing() {
    let dir = tempdir();
    let out_dir = dir.path().join("gen");
    let o = out_dir.to_str().unwrap();
    let f = stack_path("stack");
    let f = f.to_str().unwrap();
    let missing = strixc(&["-f", f, "build", "--check", "-o", o], root(), &[]);
    assert_eq!(missing.status.code(), Some(1), "a missing tree differs");
    assert!(!out_dir.exists(), "--check wrote nothing");

    let built = strixc(&["-f", f, "build", "-o", o], root(), &[]);
    assert!(built.status.success());
    assert!(
        String::from_utf8_lossy(&built.stderr).contains("23 written, 0 unchanged, 0 removed"),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let fresh = strixc(&["-f", f, "build", "--check", "-o", o], root(), &[]);
    assert_eq!(
        fresh.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );

    let thor = out_dir.join("containers/systemd/norse-thor.container");
    let edited = std::fs::read_to_string(&thor)
        .unwrap()
        .replace("--max-num-seqs 4", "--max-num-seqs 8");
    std::fs::write(&thor, &edited).unwrap();
    std::fs::remove_file(out_dir.join("kernel/cmdline.txt")).unwrap();
    let before = read_dir(&out_dir);
    let stale = strixc(&["-f", f, "build", "--check", "-o", o], root(), &[]);
    assert_eq!(stale.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&stale.stdout);
    assert!(
        stdout.contains("changed  containers/systemd/norse-thor.container"),
        "{stdout}"
    );
    assert!(stdout.contains("added    kernel/cmdline.txt"), "{stdout}");
    assert!(
        stdout.contains("-Exec=vllm serve") && stdout.contains("+Exec=vllm serve"),
        "a unified diff: {stdout}"
    );
    assert_eq!(read_dir(&out_dir), before, "--check wrote nothing");

    // A rebuild rewrites just those two files and leaves the others' mtimes alone.
    let manifest = out_dir.join("manifest.json");
    let mtime = std::fs::metadata(&manifest).unwrap().modified().unwrap();
    let rebuilt = strixc(&["-f", f, "build", "-o", o], root(), &[]);
    assert!(
        String::from_utf8_lossy(&rebuilt.stderr).contains("2 written, 21 unchanged, 0 removed"),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    assert_eq!(
        std::fs::metadata(&manifest).unwrap().modified().unwrap(),
        mtime
    );
}

#[test]
fn pruning_removes_only_what_the_previous_manifest_lists() {
    let dir = tempdir();
    let d = dir.path();
    write(&build("llama"), d);
    assert!(d.join("systemd/lab-forge.service").exists());
    std::fs::write(
        d.join("systemd/my-own.service"),
        "[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    std::fs::write(d.join("notes.txt"), "mine").unwrap();
    let summary = strixc::tree::write::write_tree(&build("minimal"), d).unwrap();
    assert!(
        summary
            .removed
            .contains(&"systemd/lab-forge.service".to_owned()),
        "{summary:?}"
    );
    assert!(!d.join("systemd/lab-forge.service").exists());
    assert!(!d.join("sysctl.d").exists(), "emptied directories go too");
    assert!(
        d.join("systemd/my-own.service").exists(),
        "a user's file is kept"
    );
    assert!(d.join("notes.txt").exists());
    assert!(d.join("systemd/solo-main.target").exists());
    let left: BTreeSet<String> = read_dir(d).into_keys().collect();
    let expected: BTreeSet<String> = build("minimal")
        .paths()
        .map(str::to_owned)
        .chain(["systemd/my-own.service".to_owned(), "notes.txt".to_owned()])
        .collect();
    assert_eq!(left, expected);
}

#[test]
fn a_manifest_path_outside_the_tree_is_refused() {
    let dir = tempdir();
    let d = dir.path().join("gen");
    write(&build("minimal"), &d);
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let manifest_path = d.join("manifest.json");
    let mut manifest: Manifest =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest.files.insert("../victim.txt".into(), "00".into());
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    assert!(strixc::tree::write::write_tree(&build("llama"), &d).is_err());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
}

#[test]
fn a_symlinked_folder_in_the_tree_is_refused_and_nothing_written_through_it() {
    let dir = tempdir();
    let d = dir.path().join("gen");
    write(&build("minimal"), &d);
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::remove_dir_all(d.join("systemd")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, d.join("systemd")).unwrap();
    let o = d.to_str().unwrap();
    let f = stack_path("minimal");
    for args in [&["build", "-o", o][..], &["build", "--check", "-o", o]] {
        let args: Vec<&str> = ["-f", f.to_str().unwrap()]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let out = strixc(&args, root(), &[]);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("symbolic link"), "{stderr}");
        assert!(
            stderr.contains(&d.join("systemd").display().to_string()),
            "{stderr}"
        );
    }
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn a_failed_write_leaves_no_temporary_or_partial_file() {
    let dir = tempdir();
    let d = dir.path();
    write(&build("minimal"), d);
    let before = read_dir(d);
    // `systemd` must be a directory: make it a file, so writing under it fails.
    std::fs::remove_dir_all(d.join("systemd")).unwrap();
    std::fs::write(d.join("systemd"), "in the way").unwrap();
    let result = strixc::tree::write::write_tree(&build("llama"), d);
    assert!(result.is_err());
    for (path, bytes) in read_dir(d) {
        assert!(!path.contains(".strixc-"), "temporary file left: {path}");
        if let Some(old) = before.get(&path) {
            let new_tree = build("llama");
            let new = new_tree.get(&path);
            assert!(
                bytes == *old || new == Some(&bytes[..]),
                "{path} is neither old nor new"
            );
        }
    }
}
