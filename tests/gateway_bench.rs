//! The gateway's performance goals, measured: `scripts/bench-gateway` (release build; the
//! real llama.cpp server where `STRIXC_LLAMA_SERVER` and `STRIXC_LLAMA_MODEL` name one, as
//! `scripts/test` sets them). Each measurement interleaves the ways it compares, in one
//! run, and prints medians and ratios; nothing here asserts a time.

mod support;

use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use support::gateway::{Gateway, request};

/// Median of a sample, in microseconds.
fn median_us(mut v: Vec<Duration>) -> f64 {
    v.sort_unstable();
    v[v.len() / 2].as_secs_f64() * 1e6
}

/// A byte relay in front of `target` (`strixc-test-server --relay-to`): the least any
/// proxy adds, the second TCP hop alone. Killed on drop.
struct ByteRelay {
    child: Child,
    port: u16,
}

impl ByteRelay {
    fn start(target: u16) -> ByteRelay {
        let port = support::free_port();
        let child = Command::new(support::test_server())
            .args([
                "--port",
                &port.to_string(),
                "--relay-to",
                &target.to_string(),
            ])
            .spawn()
            .expect("start the byte relay");
        support::wait_for(
            Duration::from_secs(5),
            || TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "the byte relay listening",
        );
        ByteRelay { child, port }
    }
}

impl Drop for ByteRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Streamed throughput of 32 concurrent streams of `body`: the agent directly, through
/// `relay` and through the gateway, interleaved over five rounds. Prints the median rates,
/// their ratios, and the CPU time each side spent per event (from /proc): what a proxy
/// adds to the work.
fn compare_streams(what: &str, gw: &Gateway, relay: &ByteRelay, body: &str) {
    const ROUNDS: usize = 5;
    let sandbox = gw.sbx.dir.path().display().to_string();
    let ways = [
        ("direct", gw.agents[0]),
        ("relay", relay.port),
        ("gateway", gw.port),
    ];
    let mut rates: [Vec<f64>; 3] = Default::default();
    let mut cpu = [[0.0; 3]; 3];
    let mut events = [0usize; 3];
    for _ in 0..ROUNDS {
        for (way, (_, port)) in ways.iter().enumerate() {
            let before = cpu_seconds(&sandbox, relay.child.id());
            let started = Instant::now();
            let streamed = streams(*port, body);
            rates[way].push(streamed as f64 / started.elapsed().as_secs_f64());
            let after = cpu_seconds(&sandbox, relay.child.id());
            events[way] += streamed;
            for side in 0..3 {
                cpu[way][side] += after[side] - before[side];
            }
        }
    }
    let [direct, relayed, gateway] = rates.map(|mut r| {
        r.sort_unstable_by(f64::total_cmp);
        r[ROUNDS / 2]
    });
    eprintln!(
        "32 streams, {what}: direct {direct:.0} events/s; relay {relayed:.0} ({:.3}× direct); gateway {gateway:.0} ({:.3}× direct, {:.3}× relay)",
        relayed / direct,
        gateway / direct,
        gateway / relayed,
    );
    for (way, (name, _)) in ways.iter().enumerate() {
        let [agent, proxy, clients] = cpu[way].map(|s| s * 1e6 / events[way].max(1) as f64);
        eprintln!(
            "  CPU per event, {name}: agent {agent:.2} µs + proxy {proxy:.2} µs + clients {clients:.2} µs"
        );
    }
}

/// 32 concurrent streamed completions of `body` from `port`: the events that arrived.
fn streams(port: u16, body: &str) -> usize {
    let clients: Vec<_> = (0..32)
        .map(|_| {
            let body = body.to_owned();
            std::thread::spawn(move || {
                request(port, "POST", "/v1/chat/completions", &body)
                    .events
                    .len()
            })
        })
        .collect();
    clients.into_iter().map(|c| c.join().unwrap()).sum()
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

/// CPU seconds (user + system) a process spent so far (0 once it is gone).
fn cpu_of(proc: &std::path::Path) -> f64 {
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
}

/// CPU seconds (user + system) so far: the agents (`strixc-test-server`, `llama-server`),
/// the proxies (`strixc serve`, and the byte relay: process `relay`), and this process
/// (the clients' threads).
fn cpu_seconds(sandbox: &str, relay: u32) -> [f64; 3] {
    let proxies = cpu_of(&std::path::Path::new("/proc").join(relay.to_string()));
    let mut seconds = [0.0, proxies, cpu_of(std::path::Path::new("/proc/self"))];
    for (cmdline, proc) in sandbox_processes(sandbox) {
        if cmdline.ends_with("\0serve\0") {
            seconds[1] += cpu_of(&proc);
        } else if cmdline.contains("strixc-test-server") || cmdline.contains("llama-server") {
            seconds[0] += cpu_of(&proc);
        }
    }
    seconds
}

/// The numbers of the gateway's performance goals with the test server as the agent, in
/// one run, interleaving gateway and direct.
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
    //    tokens/s a stream, faster than any local model).
    let relay = ByteRelay::start(thor);
    for (what, chunks, delay_ms) in [
        ("unpaced, 400 events", 400, 0),
        ("unpaced, 4000 events", 4000, 0),
        ("paced 5 ms", 200, 5),
    ] {
        let body = format!(
            r#"{{"model":"thor","stream":true,"chunks":{chunks},"chunk_delay_ms":{delay_ms}}}"#
        );
        compare_streams(what, &gw, &relay, &body);
    }
    drop(relay);

    // 3. The gateway's resident memory.
    let sandbox = gw.sbx.dir.path().display().to_string();
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

/// Streamed throughput with the real llama.cpp server (the tiny model, 32 slots): 32
/// concurrent chat completions of 200 tokens, directly, through the byte relay and through
/// the gateway. Twice: with two threads the model's compute takes both cores, which the
/// gateway and the clients need too; with one thread it leaves one, as a model on a GPU
/// leaves the CPU (the deployment strixc is for).
#[test]
#[ignore = "a benchmark: run it on purpose, with --release"]
fn bench_gateway_against_direct_with_the_real_llama_cpp_server() {
    let (Some(server), Some(model)) = (
        std::env::var_os("STRIXC_LLAMA_SERVER"),
        std::env::var_os("STRIXC_LLAMA_MODEL"),
    ) else {
        eprintln!(
            "SKIPPED: STRIXC_LLAMA_SERVER and STRIXC_LLAMA_MODEL name no llama-server and model (scripts/bench-gateway sets them)"
        );
        return;
    };
    let (server, model) = (server.to_string_lossy(), model.to_string_lossy());
    for threads in [2, 1] {
        let port = support::free_port();
        let gw = Gateway::with_stack(&llama_stack(&server, &model, threads, port), vec![port], "");
        let body = r#"{"model":"saga","messages":[{"role":"user","content":"hi"}],"max_tokens":200,"stream":true}"#;
        let relay = ByteRelay::start(port);
        for _ in 0..3 {
            streams(gw.port, body);
        }
        let what = format!("llama.cpp on {threads} thread(s), 200 tokens");
        compare_streams(&what, &gw, &relay, body);
    }
}

/// Stack "r": agent saga, llama.cpp's `server` with `model` on `port`, 32 slots,
/// `threads` threads.
fn llama_stack(server: &str, model: &str, threads: u32, port: u16) -> String {
    let tiny = support::stack::tiny_model(model);
    format!(
        r#"stack "r" {{
    description "the real llama.cpp server behind the gateway"
}}
host {{
    memory "16GiB"
}}
runtime "llama" {{
    engine "llama.cpp"
    command "{server}" "--model" "{{model}}" "--host" "{{host}}" "--port" "{{port}}" "--ctx-size" "{{context}}" "--parallel" "32" "-t" "{threads}"
    health "/health" interval="10s" start-period="60s"
}}
{tiny}
agent "saga" {{
    model "tiny"
    runtime "llama"
    port {port}
    context 8192
}}
profile "chat" default=#true {{
    agents "saga"
}}
"#
    )
}
