//! `strixc serve` on a real systemd user manager: the real build of a stack with a
//! `gateway` node, applied with the real `strixc apply`, the gateway started by its socket,
//! and native agents running `strixc-test-server` (which streams).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::Sandbox;
use support::stack::{native_kdl, ports};

/// A sandbox with stack "r" applied (profile standard = thor + valkyrie, odin = thor +
/// odin) and a gateway on its own port.
struct Gateway {
    sbx: Sandbox,
    port: u16,
    agents: [u16; 3],
}

impl Gateway {
    fn start(odin_args: &str, gateway: &str) -> Gateway {
        let sbx = Sandbox::start();
        let p = ports(4);
        let agents = [p[0], p[1], p[2]];
        let text = format!(
            "{}\ngateway {{\n    port {}\n    strixc \"{}\"\n{gateway}\n}}\n",
            native_kdl(
                &agents,
                odin_args,
                r#"quadlet "Unit" "StartLimitIntervalSec" "0""#
            ),
            p[3],
            support::strixc_bin(),
        );
        let file = sbx.dir.path().join("stack.kdl");
        std::fs::write(&file, text).expect("write stack");
        let gw = Gateway {
            sbx,
            port: p[3],
            agents,
        };
        let out = gw.strixc(&["apply", "--user", "-f", file.to_str().expect("utf-8")]);
        assert!(
            out.status.success(),
            "apply failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        gw
    }

    /// The real `strixc` with this sandbox's environment, its state where the manager's
    /// `%S` points (the manager has no `$XDG_STATE_HOME`: `~/.local/state`).
    fn strixc(&self, args: &[&str]) -> std::process::Output {
        let state = self.sbx.dir.path().join("home/.local/state");
        Command::new(support::strixc_bin())
            .args(args)
            .env_clear()
            .envs(self.sbx.env())
            .env("XDG_STATE_HOME", state)
            .output()
            .expect("run strixc")
    }

    /// What the manager says about the gateway, for failure messages.
    fn logs(&self) -> String {
        let status = self.sbx.systemctl(&[
            "show",
            "-p",
            "Result,ExecMainStatus,ExecMainCode,ExecStart,Environment,StatusText",
            "r-gateway.service",
        ]);
        let mut manager = String::new();
        for log in ["log/systemd.log", "log/systemd.err"] {
            manager.push_str(
                &std::fs::read_to_string(self.sbx.dir.path().join(log)).unwrap_or_default(),
            );
        }
        let tail: Vec<&str> = manager.lines().rev().take(40).collect();
        format!(
            "{}\n--- manager log (last lines, newest first) ---\n{}",
            String::from_utf8_lossy(&status.stdout),
            tail.join("\n")
        )
    }

    fn active(&self, unit: &str) -> bool {
        self.sbx.active_state(unit) == "active"
    }

    fn post(&self, path: &str, body: &str) -> Reply {
        request(self.port, "POST", path, body)
    }

    fn chat(&self, model: &str, extra: &str) -> Reply {
        self.post(
            "/v1/chat/completions",
            &format!(
                r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]{extra}}}"#
            ),
        )
    }

    fn metric(&self, name_and_labels: &str) -> f64 {
        let text = request(self.port, "GET", "/metrics", "").body;
        text.lines()
            .find_map(|l| l.strip_prefix(name_and_labels))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

/// One response: status, body (chunked encoding left in: tests look for substrings), and
/// when each `data:` event arrived.
struct Reply {
    status: u16,
    body: String,
    events: Vec<Instant>,
    /// When the connection closed (the whole response was in).
    done: Instant,
}

fn request(port: u16, method: &str, path: &str, body: &str) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the gateway");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut raw = Vec::new();
    let mut events = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let now = Instant::now();
        let seen = String::from_utf8_lossy(&buf[..n]).matches("data: ").count();
        events.extend(std::iter::repeat_n(now, seen));
        raw.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    Reply {
        status,
        body,
        events,
        done: Instant::now(),
    }
}

#[test]
fn a_request_for_an_agent_outside_the_profile_switches_streams_and_idles_back() {
    let gw = Gateway::start(
        r#""--ready-after" "0.2""#,
        "    idle \"3s\"\n    hold \"1s\"",
    );
    assert!(
        gw.active("r-gateway.socket"),
        "apply starts the gateway's socket"
    );
    assert!(gw.active("r-standard.target"));

    let models = request(gw.port, "GET", "/v1/models", "");
    assert_eq!(models.status, 200, "{}", gw.logs());
    for agent in ["thor", "valkyrie", "odin"] {
        assert!(
            models.body.contains(&format!("\"id\":\"{agent}\"")),
            "{}",
            models.body
        );
    }

    // An agent of the running profile: straight through, the model rewritten to its id.
    let thor = gw.chat("thor", "");
    assert_eq!(thor.status, 200, "{}", thor.body);
    assert!(
        thor.body.contains(&format!("\"port\":{}", gw.agents[0])),
        "{}",
        thor.body
    );
    assert!(
        thor.body.contains("/srv/models/m.gguf"),
        "served id: {}",
        thor.body
    );

    // Odin is not running: the gateway switches, then streams event by event.
    let started = Instant::now();
    let odin = gw.chat("odin", r#","stream":true,"chunks":5,"chunk_delay_ms":300"#);
    assert_eq!(odin.status, 200, "{}", odin.body);
    assert!(
        odin.body.contains(&format!("\"port\":{}", gw.agents[2])),
        "{}",
        odin.body
    );
    assert_eq!(odin.events.len(), 6, "5 chunks and [DONE]: {}", odin.body);
    let spread = odin.events[5] - odin.events[0];
    assert!(
        spread >= Duration::from_millis(1000),
        "the first chunk must arrive before the last is produced (spread {spread:?})"
    );
    assert!(gw.active("r-odin.target"));
    assert!(
        !gw.active("r-valkyrie.service"),
        "odin's profile replaced valkyrie"
    );
    eprintln!("switch + stream took {:?}", started.elapsed());
    assert_eq!(
        gw.metric("strixc_gateway_switches_total{profile=\"odin\",result=\"ok\"}"),
        1.0
    );

    // Errors, OpenAI-style.
    let unknown = gw.chat("loki", "");
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("model_not_found"), "{}", unknown.body);
    let malformed = gw.post("/v1/chat/completions", "{\"model\": ");
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.body.contains("invalid_json"),
        "{}",
        malformed.body
    );

    // No request for odin for `idle` (3 s): the default profile comes back by itself.
    support::wait_for(
        Duration::from_secs(30),
        || gw.active("r-standard.target") && gw.active("r-valkyrie.service"),
        "the default profile after idle",
    );
    assert!(!gw.active("r-odin.service"));
}

#[test]
fn a_failing_summon_answers_503_with_the_reason_and_keeps_the_profile() {
    let gw = Gateway::start(r#""--fail""#, "");
    let odin = gw.chat("odin", "");
    assert_eq!(odin.status, 503, "{}", odin.body);
    assert!(odin.body.contains("switch_failed"), "{}", odin.body);
    assert!(odin.body.contains("\"agent\":\"odin\""), "{}", odin.body);
    assert!(
        odin.body.contains("r-odin.service"),
        "the reason names the unit: {}",
        odin.body
    );
    assert!(
        gw.active("r-standard.target"),
        "the previous profile is back"
    );
    let valkyrie = gw.chat("valkyrie", "");
    assert_eq!(valkyrie.status, 200, "{}", valkyrie.body);
}

#[test]
fn in_flight_requests_finish_and_twenty_clients_across_two_profiles_all_succeed() {
    let gw = Gateway::start(
        r#""--ready-after" "0.2""#,
        "    idle \"10m\"\n    hold \"1s\"",
    );
    // A long stream on valkyrie, which a switch to odin stops: it must finish first.
    let long = {
        let port = gw.port;
        std::thread::spawn(move || {
            request(
                port,
                "POST",
                "/v1/chat/completions",
                r#"{"model":"valkyrie","stream":true,"chunks":10,"chunk_delay_ms":150}"#,
            )
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let odin = gw.chat("odin", "");
    let long = long.join().expect("the long stream");
    assert_eq!(long.status, 200);
    assert_eq!(
        long.events.len(),
        11,
        "all 10 chunks and [DONE]: {}",
        long.body
    );
    assert_eq!(odin.status, 200, "{}", odin.body);
    let last_chunk = *long.events.last().expect("events");
    assert!(
        odin.done > last_chunk,
        "the switch waited for valkyrie's stream to end"
    );

    // 20 clients at once, half for each of two profiles that cannot run together.
    let clients: Vec<_> = (0..20)
        .map(|i| {
            let port = gw.port;
            let model = if i % 2 == 0 { "valkyrie" } else { "odin" };
            std::thread::spawn(move || {
                let reply = request(
                    port,
                    "POST",
                    "/v1/chat/completions",
                    &format!(r#"{{"model":"{model}","stream":true,"chunks":3}}"#),
                );
                (model, reply)
            })
        })
        .collect();
    for client in clients {
        let (model, reply) = client.join().expect("client");
        assert_eq!(reply.status, 200, "{model}: {}", reply.body);
        assert_eq!(reply.events.len(), 4, "{model}: {}", reply.body);
    }
    let switches = gw.metric("strixc_gateway_switches_total{profile=\"odin\",result=\"ok\"}")
        + gw.metric("strixc_gateway_switches_total{profile=\"standard\",result=\"ok\"}");
    // One to odin for the first request; then at most one per batch: back and forth once.
    assert!(
        switches <= 3.0,
        "{switches} switches: batches, not one per request"
    );
}

#[test]
fn malformed_oversized_and_slow_clients_do_not_hold_up_others() {
    let gw = Gateway::start(r#""--ready-after" "0.2""#, "");
    // A client that sends half a request and waits.
    let mut slow = TcpStream::connect(("127.0.0.1", gw.port)).expect("connect");
    slow.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: g\r\nContent-Length: 100\r\n\r\n{\"mo",
    )
    .expect("write");
    let started = Instant::now();
    let thor = gw.chat("thor", "");
    assert_eq!(thor.status, 200, "{}", thor.body);
    // Far below the 60 s a body may take: the half-sent request holds nobody up.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let big = format!(r#"{{"model":"thor","prompt":"{}"}}"#, "x".repeat(17 << 20));
    let oversized = gw.post("/v1/completions", &big);
    assert_eq!(oversized.status, 413, "{}", oversized.body);
    let thor = gw.chat("thor", "");
    assert_eq!(thor.status, 200, "{}", thor.body);
    drop(slow);

    // `strixc status` during a stream: the gateway's count and the engine's own numbers.
    let port = gw.port;
    let stream = std::thread::spawn(move || {
        request(
            port,
            "POST",
            "/v1/chat/completions",
            r#"{"model":"thor","stream":true,"chunks":40,"chunk_delay_ms":100}"#,
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    let status = gw.strixc(&["status", "--user"]);
    let text = String::from_utf8_lossy(&status.stdout).to_string();
    let line = text
        .lines()
        .find(|l| l.contains(" thor "))
        .unwrap_or_else(|| panic!("no thor line: {text}"));
    assert!(line.contains("gateway: 1 in flight, 0 waiting"), "{line}");
    assert!(line.contains("KV cache 10%, 1 running, 0 queued"), "{line}");
    assert_eq!(stream.join().expect("stream").status, 200);
}

#[test]
fn a_switch_made_by_apply_behind_the_gateways_back_is_noticed() {
    let gw = Gateway::start(r#""--ready-after" "0.2""#, "");
    assert_eq!(gw.chat("valkyrie", "").status, 200);
    let file = gw.sbx.dir.path().join("stack.kdl");
    let out = gw.strixc(&[
        "apply",
        "--user",
        "--profile",
        "odin",
        "-f",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!gw.active("r-valkyrie.service"));
    // The gateway still believes standard runs: valkyrie refuses the connection, the
    // gateway asks systemd, and switches back.
    let valkyrie = gw.chat("valkyrie", "");
    assert_eq!(valkyrie.status, 200, "{}", valkyrie.body);
    assert!(gw.active("r-standard.target"));
}

#[test]
fn apply_moves_a_running_gateway_to_its_new_port() {
    let gw = Gateway::start("", "");
    assert_eq!(gw.chat("valkyrie", "").status, 200, "{}", gw.logs());
    assert!(gw.active("r-gateway.service"));
    let file = gw.sbx.dir.path().join("stack.kdl");
    let moved = ports(1)[0];
    let text = std::fs::read_to_string(&file).expect("read stack");
    let text = text.replace(
        &format!("port {}\n    strixc", gw.port),
        &format!("port {moved}\n    strixc"),
    );
    std::fs::write(&file, text).expect("write stack");
    let out = gw.strixc(&["apply", "--user", "-f", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The socket listens where the stack now says, as soon as apply returns; the old
    // address is closed and the service stopped (the next connection starts it anew).
    assert!(
        TcpStream::connect(("127.0.0.1", gw.port)).is_err(),
        "the old port still listens"
    );
    assert!(!gw.active("r-gateway.service"));
    let answer = request(
        moved,
        "POST",
        "/v1/chat/completions",
        r#"{"model":"valkyrie","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(answer.status, 200, "{}\n{}", answer.body, gw.logs());
}

/// A long stream written as fast as the agent can arrives whole and in order, to a fast
/// client and to a slow one: the frames the gateway passes on together (and holds back
/// while a client cannot take more) lose, repeat and reorder nothing.
#[test]
fn a_long_fast_stream_arrives_whole_and_in_order_to_fast_and_slow_clients() {
    let gw = Gateway::start(r#""--ready-after" "0.2""#, "");
    let body = r#"{"model":"thor","stream":true,"chunks":20000,"chunk_delay_ms":0}"#;
    for pause in [Duration::ZERO, Duration::from_millis(1)] {
        let (head, payload) = read_stream(gw.port, body, pause);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(payload.ends_with("data: [DONE]\n\n"), "pause {pause:?}");
        // Each event: `data: {... "port":P,"index":I,"choices":[{"index":0 ...`.
        let indices: Vec<u32> = payload
            .split("data: ")
            .filter_map(|event| event.split("\"index\":").nth(1))
            .map(|rest| rest.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert!(
            indices.iter().copied().eq(0..20000),
            "pause {pause:?}: {} events, first out of place at {:?}",
            indices.len(),
            indices.iter().zip(0..).position(|(i, n)| *i != n)
        );
    }
}

/// A streamed response read 4 KiB at a time with `pause` between reads: its head and its
/// body, the chunked encoding taken off.
fn read_stream(port: u16, body: &str, pause: Duration) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the gateway");
    write!(
        stream,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let (mut raw, mut buf) = (Vec::new(), [0u8; 4096]);
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => panic!("reading the stream: {e}"),
        }
        std::thread::sleep(pause);
    }
    let text = String::from_utf8(raw).expect("UTF-8");
    let (head, mut chunked) = text.split_once("\r\n\r\n").expect("a head");
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    let mut payload = String::new();
    loop {
        let (size, rest) = chunked.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size, 16).expect("a hexadecimal chunk size");
        if size == 0 {
            break;
        }
        payload.push_str(&rest[..size]);
        chunked = rest[size..]
            .strip_prefix("\r\n")
            .expect("CRLF after a chunk");
    }
    (head.to_owned(), payload)
}

/// Median of a sample, in microseconds.
fn median_us(mut v: Vec<Duration>) -> f64 {
    v.sort_unstable();
    v[v.len() / 2].as_secs_f64() * 1e6
}

/// 32 concurrent streamed completions of `chunks` events from `port`: events a second,
/// and the CPU seconds spent meanwhile by the agents, the gateway and the clients.
fn measured_streams(sandbox: &str, port: u16, chunks: u32, delay_ms: u32) -> (f64, [f64; 3]) {
    let before = cpu_seconds(sandbox);
    let started = Instant::now();
    let clients: Vec<_> = (0..32)
        .map(|_| {
            std::thread::spawn(move || {
                let body = format!(
                    r#"{{"model":"thor","stream":true,"chunks":{chunks},"chunk_delay_ms":{delay_ms}}}"#
                );
                request(port, "POST", "/v1/chat/completions", &body)
                    .events
                    .len()
            })
        })
        .collect();
    let events: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let rate = events as f64 / started.elapsed().as_secs_f64();
    let after = cpu_seconds(sandbox);
    (rate, [0, 1, 2].map(|i| after[i] - before[i]))
}

/// The processes the sandbox's manager started (their environment names the sandbox):
/// each one's command line and /proc folder.
fn sandbox_processes(sandbox: &str) -> Vec<(String, std::path::PathBuf)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| {
            let environ = std::fs::read(p.path().join("environ")).ok()?;
            let cmdline = std::fs::read(p.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&environ)
                .contains(sandbox)
                .then(|| (String::from_utf8_lossy(&cmdline).into_owned(), p.path()))
        })
        .collect()
}

/// CPU seconds (user + system) so far: the agents (`strixc-test-server`), the gateway
/// (`strixc serve`), and this process (the clients' threads).
fn cpu_seconds(sandbox: &str) -> [f64; 3] {
    let of = |proc: &std::path::Path| {
        let stat = std::fs::read_to_string(proc.join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / 100.0
    };
    let mut seconds = [0.0, 0.0, of(std::path::Path::new("/proc/self"))];
    for (cmdline, proc) in sandbox_processes(sandbox) {
        if cmdline.contains("strixc-test-server") {
            seconds[0] += of(&proc);
        } else if cmdline.ends_with("\0serve\0") {
            seconds[1] += of(&proc);
        }
    }
    seconds
}

fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// The numbers of the gateway's performance goals, in one run, interleaving gateway and
/// direct: `cargo test --release --test gateway bench -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark: run it on purpose, with --release"]
fn bench_gateway_against_direct() {
    let gw = Gateway::start(r#""--ready-after" "0.2""#, "    hold \"1ms\"");
    let thor = gw.agents[0];
    let body = r#"{"model":"thor","messages":[{"role":"user","content":"hi"}]}"#;
    for _ in 0..20 {
        request(gw.port, "POST", "/v1/chat/completions", body);
        request(thor, "POST", "/v1/chat/completions", body);
    }
    // 1. Added latency, median over interleaved requests (one via the gateway, one direct).
    let (mut via, mut direct) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        let t = Instant::now();
        assert_eq!(
            request(gw.port, "POST", "/v1/chat/completions", body).status,
            200
        );
        via.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(
            request(thor, "POST", "/v1/chat/completions", body).status,
            200
        );
        direct.push(t.elapsed());
    }
    let (via_us, direct_us) = (median_us(via), median_us(direct));
    eprintln!(
        "latency median: gateway {via_us:.0} µs, direct {direct_us:.0} µs, added {:.0} µs",
        via_us - direct_us
    );

    // 2. Streamed throughput, 32 concurrent streams as fast as the server writes them
    //    (CPU-bound: server, clients and gateway share the two cores), of 400 events each
    //    (connection set-up weighs in) and of 4000; and paced at 5 ms an event (200
    //    tokens/s a stream, faster than any local model). Beside the rate, the CPU time
    //    each side spent per event (from /proc): what the gateway adds to the work.
    let sandbox = gw.sbx.dir.path().display().to_string();
    let cases = [
        ("unpaced, 400 events", 400, 0),
        ("unpaced, 4000 events", 4000, 0),
        ("paced 5 ms", 200, 5),
    ];
    for (what, chunks, delay_ms) in cases {
        let (mut via, mut direct) = (Vec::new(), Vec::new());
        let (mut via_cpu, mut direct_cpu) = ([0.0; 3], [0.0; 3]);
        for _ in 0..3 {
            let (rate, cpu) = measured_streams(&sandbox, gw.port, chunks, delay_ms);
            via.push(rate);
            via_cpu = add(via_cpu, cpu);
            let (rate, cpu) = measured_streams(&sandbox, thor, chunks, delay_ms);
            direct.push(rate);
            direct_cpu = add(direct_cpu, cpu);
        }
        let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        let per_event = |cpu: [f64; 3]| cpu.map(|s| s * 1e6 / (3 * 32 * chunks) as f64);
        let ([agent, gateway, clients], [agent_d, _, clients_d]) =
            (per_event(via_cpu), per_event(direct_cpu));
        eprintln!(
            "32 streams, {what}: gateway {:.0} events/s, direct {:.0} events/s, ratio {:.3}\n  CPU per event: via the gateway: agent {agent:.2} µs + gateway {gateway:.2} µs + clients {clients:.2} µs; direct: agent {agent_d:.2} µs + clients {clients_d:.2} µs",
            best(&via),
            best(&direct),
            best(&via) / best(&direct)
        );
    }

    // 3. The gateway's resident memory.
    let serve = sandbox_processes(&sandbox)
        .into_iter()
        .find(|(cmdline, _)| cmdline.ends_with("\0serve\0"))
        .expect("the gateway's process");
    let status = std::fs::read_to_string(serve.1.join("status")).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("VmRSS");
    eprintln!("gateway RSS {:.1} MB", rss_kb as f64 / 1024.0);

    // 4. A request that needs a switch, vs `strixc apply --profile` + the same request.
    let file = gw.sbx.dir.path().join("stack.kdl");
    let file = file.to_str().unwrap();
    let odin = r#"{"model":"odin","messages":[{"role":"user","content":"hi"}]}"#;
    let (mut via, mut direct) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        // From standard, known to the gateway.
        assert_eq!(gw.chat("valkyrie", "").status, 200);
        let t = Instant::now();
        assert_eq!(
            request(gw.port, "POST", "/v1/chat/completions", odin).status,
            200
        );
        via.push(t.elapsed());
        assert_eq!(gw.chat("valkyrie", "").status, 200);
        let t = Instant::now();
        let out = gw.strixc(&["apply", "--user", "--profile", "odin", "-f", file]);
        assert!(out.status.success());
        assert_eq!(
            request(gw.agents[2], "POST", "/v1/chat/completions", odin).status,
            200
        );
        direct.push(t.elapsed());
    }
    let (via_ms, direct_ms) = (median_us(via) / 1e3, median_us(direct) / 1e3);
    eprintln!(
        "switch + request: gateway {via_ms:.0} ms, apply --profile + request {direct_ms:.0} ms, ratio {:.3}",
        via_ms / direct_ms
    );
}

#[test]
fn stopping_the_stacks_slice_stops_the_gateway_too() {
    let gw = Gateway::start(r#""--ready-after" "0.2""#, "");
    assert_eq!(
        gw.chat("thor", r#","max_tokens":2"#).status,
        200,
        "{}",
        gw.logs()
    );
    assert!(gw.active("r-gateway.service"), "{}", gw.logs());
    let out = gw.sbx.systemctl(&["stop", "r.slice"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for unit in ["r-gateway.socket", "r-gateway.service", "r-thor.service"] {
        support::wait_for(
            std::time::Duration::from_secs(20),
            || !gw.active(unit),
            unit,
        );
    }
    assert!(
        TcpStream::connect(("127.0.0.1", gw.port)).is_err(),
        "the gateway's port still accepts connections"
    );
}
