//! `strixc serve` on a real systemd user manager: the real build of a stack with a
//! `gateway` node, applied with the real `strixc apply`, the gateway started by its socket,
//! and native agents running `strixc-test-server` (which streams). Its benchmarks are in
//! `gateway_bench.rs`.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::gateway::{Gateway, request};

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
    let moved = support::free_port();
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
