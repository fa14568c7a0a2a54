//! A stand-in for an inference server, for strixc's activation tests. std only.
//!
//! ```text
//! strixc-test-server --port P [--ready-after SECS] [--fail-after SECS] [--fail]
//!                    [--chunks N] [--chunk-delay SECS]
//! ```
//! Binds 127.0.0.1:P. `GET /health` answers 503 until `--ready-after` seconds have passed,
//! then 200; `GET /v1/models` answers a tiny model list; `--fail-after` exits with code 2
//! after that many seconds; `--fail` exits with code 1 at once. SIGTERM's default action
//! ends it promptly.
//!
//! `POST /v1/chat/completions`, `/v1/completions` and `/v1/embeddings` answer an OpenAI-shaped
//! reply naming the request's `model` and the server's port; with `"stream": true` a chat or
//! completion streams `--chunks` server-sent events (default 3), `--chunk-delay` seconds
//! apart (default 0.05), each written as soon as it is produced, then `data: [DONE]`; a
//! request's own `"chunks"` and `"chunk_delay_ms"` override both.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Completions being answered now (`/metrics`).
static RUNNING: AtomicUsize = AtomicUsize::new(0);

fn usage(problem: &str) -> ! {
    eprintln!("strixc-test-server: {problem}");
    eprintln!(
        "usage: strixc-test-server --port P [--ready-after SECS] [--fail-after SECS] [--fail] [--chunks N] [--chunk-delay SECS]"
    );
    std::process::exit(64);
}

fn seconds(value: Option<String>, flag: &str) -> Duration {
    value
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or_else(|| usage(&format!("{flag} needs a number of seconds")))
}

fn main() {
    let mut port = None;
    let mut ready_after = Duration::ZERO;
    let mut fail_after = None;
    let mut stream = Streaming {
        chunks: 3,
        delay: Duration::from_millis(50),
        port: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse::<u16>().ok()),
            "--ready-after" => ready_after = seconds(args.next(), "--ready-after"),
            "--fail-after" => fail_after = Some(seconds(args.next(), "--fail-after")),
            "--chunks" => {
                stream.chunks = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage("--chunks needs a count"))
            }
            "--chunk-delay" => stream.delay = seconds(args.next(), "--chunk-delay"),
            "--fail" => {
                eprintln!("strixc-test-server: failing on request (--fail)");
                std::process::exit(1);
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let port = port.unwrap_or_else(|| usage("--port P is required"));
    stream.port = port;
    let started = Instant::now();
    if let Some(after) = fail_after {
        std::thread::spawn(move || {
            std::thread::sleep(after);
            eprintln!("strixc-test-server: failing after {after:?} (--fail-after)");
            std::process::exit(2);
        });
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("strixc-test-server: cannot bind 127.0.0.1:{port}: {e}");
        std::process::exit(1);
    });
    eprintln!("strixc-test-server: listening on 127.0.0.1:{port}");
    for stream_ in listener.incoming().flatten() {
        let (stream, streaming) = (stream_, stream);
        let ready = started.elapsed() >= ready_after;
        std::thread::spawn(move || answer(stream, ready, streaming));
    }
}

/// How `POST` completions answer.
#[derive(Clone, Copy)]
struct Streaming {
    chunks: u32,
    delay: Duration,
    port: u16,
}

fn answer(mut stream: TcpStream, ready: bool, streaming: Streaming) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    // The headers: only the body's length matters.
    let mut length = 0usize;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    if request.starts_with("POST ") {
        let mut body = vec![0u8; length.min(64 << 20)];
        if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
            return;
        }
        drop(reader);
        RUNNING.fetch_add(1, Ordering::SeqCst);
        complete(
            &mut stream,
            path,
            &String::from_utf8_lossy(&body),
            streaming,
        );
        RUNNING.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let (status, body) = match path {
        "/health" if ready => ("200 OK", "{\"status\":\"ok\"}"),
        "/health" => ("503 Service Unavailable", "{\"status\":\"loading\"}"),
        "/metrics" => {
            let running = RUNNING.load(Ordering::SeqCst);
            let text = format!(
                "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{{model_name=\"test-model\"}} {running}.0\nvllm:num_requests_waiting{{model_name=\"test-model\"}} 0.0\nvllm:kv_cache_usage_perc{{model_name=\"test-model\"}} {}\n",
                (running as f64 * 0.1).min(1.0)
            );
            let response = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = stream.write_all(response.as_bytes());
            return;
        }
        "/v1/models" => (
            "200 OK",
            "{\"object\":\"list\",\"data\":[{\"id\":\"test-model\",\"object\":\"model\"}]}",
        ),
        _ => ("404 Not Found", "{}"),
    };
    // One write: a client may read the status line from the first segment.
    let response = format!(
        "HTTP/1.0 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// The value of `"key": "..."` or `"key": true` in a flat JSON text (std only: no parser).
fn json_field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let rest = &body[body.find(&format!("\"{key}\""))? + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    match rest.strip_prefix('"') {
        Some(text) => text.split('"').next(),
        None => rest.split([',', '}', ' ']).next(),
    }
}

/// A completion: one JSON reply, or `chunks` server-sent events written as produced.
fn complete(stream: &mut TcpStream, path: &str, body: &str, streaming: Streaming) {
    let model = json_field(body, "model").unwrap_or("");
    // A request may ask for its own stream shape (tests of long streams).
    let mut streaming = streaming;
    if let Some(n) = json_field(body, "chunks").and_then(|n| n.parse().ok()) {
        streaming.chunks = n;
    }
    if let Some(ms) = json_field(body, "chunk_delay_ms").and_then(|n| n.parse().ok()) {
        streaming.delay = Duration::from_millis(ms);
    }
    let port = streaming.port;
    let known = matches!(
        path,
        "/v1/chat/completions" | "/v1/completions" | "/v1/embeddings"
    );
    if !known {
        let _ = stream.write_all(
            b"HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        );
        return;
    }
    if json_field(body, "stream") == Some("true") && path != "/v1/embeddings" {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        for i in 0..streaming.chunks {
            if i > 0 {
                std::thread::sleep(streaming.delay);
            }
            let event = format!(
                "data: {{\"object\":\"chat.completion.chunk\",\"model\":\"{model}\",\"port\":{port},\"index\":{i},\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"chunk {i} \"}}}}]}}\n\n"
            );
            if stream.write_all(event.as_bytes()).is_err() {
                return;
            }
        }
        let _ = stream.write_all(b"data: [DONE]\n\n");
        return;
    }
    let reply = format!(
        "{{\"object\":\"chat.completion\",\"model\":\"{model}\",\"port\":{port},\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"ok\"}}}}]}}"
    );
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = stream.write_all(response.as_bytes());
}
