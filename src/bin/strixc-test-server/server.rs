//! The test server personality: `/health` after `--ready-after`, `/v1/models`, vLLM's
//! gauges on `/metrics`, completions; `--fail-after` ends it.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::args::Options;
use crate::completions::{Streaming, complete};
use crate::http::{models_json, read_with_body, respond};

/// Completions being answered now (`/metrics`).
static RUNNING: AtomicUsize = AtomicUsize::new(0);

pub fn main(options: Options) {
    let Options {
        port,
        ready_after,
        fail_after,
        streaming,
        relay_to,
    } = options;
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
    if let Some(target) = relay_to {
        crate::relay::main(listener, target);
    }
    for stream in listener.incoming().flatten() {
        let ready = started.elapsed() >= ready_after;
        std::thread::spawn(move || answer(stream, ready, streaming));
    }
}

fn answer(stream: TcpStream, ready: bool, streaming: Streaming) {
    let Some((path, body)) = read_with_body(&stream) else {
        return;
    };
    if let Some(body) = body {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        complete(stream, &path, &body, streaming);
        RUNNING.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let (status, body) = match path.as_str() {
        "/health" if ready => ("200 OK", "{\"status\":\"ok\"}".to_string()),
        "/health" => (
            "503 Service Unavailable",
            "{\"status\":\"loading\"}".to_string(),
        ),
        "/v1/models" => ("200 OK", models_json("test-model", None)),
        "/metrics" => return respond(stream, "200 OK", "text/plain", &metrics()),
        _ => ("404 Not Found", "{}".to_string()),
    };
    respond(stream, status, "application/json", &body);
}

fn metrics() -> String {
    let running = RUNNING.load(Ordering::SeqCst);
    format!(
        "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{{model_name=\"test-model\"}} {running}.0\nvllm:num_requests_waiting{{model_name=\"test-model\"}} 0.0\nvllm:kv_cache_usage_perc{{model_name=\"test-model\"}} {}\n",
        (running as f64 * 0.1).min(1.0)
    )
}
