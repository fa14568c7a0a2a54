//! A stand-in for an inference server, for strixc's activation and end-to-end tests. std only.
//!
//! ```text
//! strixc-test-server --port P [--ready-after SECS] [--fail-after SECS] [--fail]
//!                    [--chunks N] [--chunk-delay SECS]
//! vllm serve MODEL --host H --port P [vLLM flags strixc writes]    (called as `vllm`)
//! ```
//! Binds 127.0.0.1:P. `GET /health` answers 503 until `--ready-after` seconds have passed,
//! then 200; `GET /v1/models` answers a tiny model list; `--fail-after` exits with code 2
//! after that many seconds; `--fail` exits with code 1 at once. SIGTERM ends it promptly.
//!
//! `POST /v1/chat/completions`, `/v1/completions` and `/v1/embeddings` answer an OpenAI-shaped
//! reply naming the request's `model` and the server's port; with `"stream": true` a chat or
//! completion streams `--chunks` server-sent events (default 3), `--chunk-delay` seconds
//! apart (default 0.05), each written as soon as it is produced, then `data: [DONE]`; a
//! request's own `"chunks"` and `"chunk_delay_ms"` override both. `GET /metrics` answers
//! vLLM's gauges: `vllm:num_requests_running` (completions being answered now),
//! `vllm:num_requests_waiting` (0) and `vllm:kv_cache_usage_perc` (0.1 per running request).
//!
//! Called through a name ending in `vllm` (the end-to-end suite installs it as `vllm` in a
//! container image), it plays vLLM's OpenAI server: `vllm serve MODEL` accepts exactly the
//! flags strixc writes onto vLLM's command line, with vLLM's value shapes, and exits 2 with a
//! message naming any other flag or a bad value (as vLLM's argument parser does). It serves
//! `/health`, `/v1/models` and `/metrics` (vLLM's metric names) on `--host`:`--port`, and
//! these environment variables (a stack's `env`) change its behaviour:
//!
//! | variable | effect |
//! |---|---|
//! | `STANDIN_READY_AFTER=SECS` | `/health` answers 503 until then (model loading) |
//! | `STANDIN_EXIT_AT_START=CODE` | print a start-up error and exit with CODE at once |
//! | `STANDIN_HANG=1` | never becomes healthy (a load that hangs) |
//! | `STANDIN_UNHEALTHY_AFTER=SECS` | `/health` answers 500 after serving that long |
//!
//! It prints `vllm-standin: ready at UNIX_MS ms, uptime SECS s` the instant `/health` starts
//! answering 200 (/proc/uptime counts from boot like systemd's `...Monotonic` timestamps;
//! the two differ only by time spent suspended).

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SIGTERM: i32 = 15;
const SIGINT: i32 = 2;

unsafe extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
    fn _exit(status: i32) -> !;
}

extern "C" fn on_term(_: i32) {
    // Only async-signal-safe calls here: write(2) through a raw fd is not in std, so say
    // nothing and leave at once. 143 = 128 + SIGTERM, what a shell reports for it.
    unsafe { _exit(143) }
}

/// As PID 1 of a container, a signal without a handler is ignored: install one, so that
/// `podman stop` (SIGTERM) ends the server at once instead of after the stop timeout. Only
/// there: anywhere else SIGTERM's default action ends the process *by the signal*, which
/// systemd counts as a clean stop (an exit status of 143 would be a failure).
fn exit_on_sigterm_as_pid1() {
    if std::process::id() != 1 {
        return;
    }
    let handler = on_term as extern "C" fn(i32) as usize;
    unsafe {
        signal(SIGTERM, handler);
        signal(SIGINT, handler);
    }
}

/// Completions being answered now (`/metrics`).
static RUNNING: AtomicUsize = AtomicUsize::new(0);

fn usage(problem: &str) -> ! {
    eprintln!("strixc-test-server: {problem}");
    eprintln!(
        "usage: strixc-test-server --port P [--ready-after SECS] [--fail-after SECS] [--fail] [--chunks N] [--chunk-delay SECS]"
    );
    std::process::exit(64);
}

fn parse_seconds(value: &str) -> Option<Duration> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn seconds(value: Option<String>, flag: &str) -> Duration {
    value
        .as_deref()
        .and_then(parse_seconds)
        .unwrap_or_else(|| usage(&format!("{flag} needs a number of seconds")))
}

fn main() {
    exit_on_sigterm_as_pid1();
    let argv0 = std::env::args().next().unwrap_or_default();
    if argv0.ends_with("vllm") {
        vllm::main();
    }
    let mut port = None;
    let mut ready_after = Duration::ZERO;
    let mut fail_after = None;
    let mut streaming = Streaming {
        chunks: 3,
        delay: Duration::from_millis(50),
        port: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse::<u16>().ok()),
            "--chunks" => {
                streaming.chunks = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage("--chunks needs a count"))
            }
            "--chunk-delay" => streaming.delay = seconds(args.next(), "--chunk-delay"),
            "--ready-after" => ready_after = seconds(args.next(), "--ready-after"),
            "--fail-after" => fail_after = Some(seconds(args.next(), "--fail-after")),
            "--fail" => {
                eprintln!("strixc-test-server: failing on request (--fail)");
                std::process::exit(1);
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let port = port.unwrap_or_else(|| usage("--port P is required"));
    streaming.port = port;
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
    for stream in listener.incoming().flatten() {
        let ready = started.elapsed() >= ready_after;
        std::thread::spawn(move || {
            let Some((path, body)) = read_with_body(&stream) else {
                return;
            };
            if let Some(body) = body {
                RUNNING.fetch_add(1, Ordering::SeqCst);
                complete(stream, &path, &body, streaming);
                RUNNING.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            let (status, body) = match Some(path.as_str()) {
                Some("/health") if ready => ("200 OK", "{\"status\":\"ok\"}".to_string()),
                Some("/health") => (
                    "503 Service Unavailable",
                    "{\"status\":\"loading\"}".to_string(),
                ),
                Some("/v1/models") => ("200 OK", models_json("test-model", None)),
                Some("/metrics") => {
                    let running = RUNNING.load(Ordering::SeqCst);
                    let text = format!(
                        "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{{model_name=\"test-model\"}} {running}.0\nvllm:num_requests_waiting{{model_name=\"test-model\"}} 0.0\nvllm:kv_cache_usage_perc{{model_name=\"test-model\"}} {}\n",
                        (running as f64 * 0.1).min(1.0)
                    );
                    return respond(stream, "200 OK", "text/plain", &text);
                }
                _ => ("404 Not Found", "{}".to_string()),
            };
            respond(stream, status, "application/json", &body);
        });
    }
}

/// The request's path, and its body when it is a `POST` (read by `Content-Length`).
fn read_with_body(stream: &TcpStream) -> Option<(String, Option<String>)> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    reader.read_line(&mut request).ok()?;
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
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    if !request.starts_with("POST ") {
        return Some((path, None));
    }
    let mut body = vec![0u8; length.min(64 << 20)];
    std::io::Read::read_exact(&mut reader, &mut body).ok()?;
    Some((path, Some(String::from_utf8_lossy(&body).into_owned())))
}

/// The request line's path; the headers are read and dropped. `None` when nothing came.
fn read_request(stream: &TcpStream) -> Option<String> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    reader.read_line(&mut request).ok()?;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    Some(request.split_whitespace().nth(1).unwrap_or("/").to_string())
}

fn respond(mut stream: TcpStream, status: &str, content_type: &str, body: &str) {
    // One write: a client may read the status line from the first segment.
    let response = format!(
        "HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

fn models_json(id: &str, max_model_len: Option<u64>) -> String {
    let id = id.replace('\\', "\\\\").replace('"', "\\\"");
    let len = max_model_len.map_or(String::new(), |n| format!(",\"max_model_len\":{n}"));
    format!(
        "{{\"object\":\"list\",\"data\":[{{\"id\":\"{id}\",\"object\":\"model\",\"owned_by\":\"vllm\",\"root\":\"{id}\"{len}}}]}}"
    )
}

/// How `POST` completions answer.
#[derive(Clone, Copy)]
struct Streaming {
    chunks: u32,
    delay: Duration,
    port: u16,
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
fn complete(mut stream: TcpStream, path: &str, body: &str, streaming: Streaming) {
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

/// The first field of /proc/uptime: seconds since boot, as systemd's `...Monotonic` stamps.
fn uptime() -> String {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

mod vllm {
    use super::*;

    /// What `vllm serve` was asked to do, after checking every flag.
    #[derive(Debug, PartialEq)]
    pub struct Serve {
        pub model: String,
        pub host: IpAddr,
        pub port: u16,
        pub max_model_len: u64,
        pub max_num_seqs: u64,
        pub gpu_memory_utilization: f64,
    }

    fn reject(message: &str) -> ! {
        eprintln!("usage: vllm serve [model_tag] [options]");
        eprintln!("vllm: error: {message}");
        std::process::exit(2);
    }

    fn one_of(flag: &str, value: &str, choices: &[&str]) -> Result<String, String> {
        if choices.contains(&value) {
            Ok(value.to_string())
        } else {
            Err(format!(
                "argument {flag}: invalid choice: '{value}' (choose from {})",
                choices.join(", ")
            ))
        }
    }

    fn number<T: std::str::FromStr>(flag: &str, value: &str, kind: &str) -> Result<T, String> {
        value
            .parse::<T>()
            .map_err(|_| format!("argument {flag}: invalid {kind} value: '{value}'"))
    }

    /// Parses `serve MODEL FLAGS...` as vLLM does for the flags strixc writes; the first
    /// problem is the error.
    pub fn parse(args: &[String]) -> Result<Serve, String> {
        let mut args = args.iter();
        match args.next().map(String::as_str) {
            Some("serve") => {}
            Some(other) => return Err(format!("invalid choice: '{other}' (choose from serve)")),
            None => return Err("a subcommand is required (serve)".into()),
        }
        let model = match args.next() {
            Some(m) if !m.starts_with("--") && !m.is_empty() => m.clone(),
            _ => return Err("the following arguments are required: model_tag".into()),
        };
        let (mut host, mut port) = (None, None);
        let (mut max_model_len, mut max_num_seqs, mut utilization) = (None, None, None);
        let mut seen: Vec<&str> = Vec::new();
        let mut tool_choice = false;
        let mut tool_parser = false;
        while let Some(flag) = args.next() {
            let flag = flag.as_str();
            if seen.contains(&flag) {
                return Err(format!("argument {flag}: given twice"));
            }
            seen.push(flag);
            let mut value = || {
                args.next()
                    .filter(|v| !v.starts_with("--"))
                    .map(String::as_str)
                    .ok_or_else(|| format!("argument {flag}: expected one argument"))
            };
            match flag {
                "--host" => {
                    let v = value()?;
                    host = Some(number::<IpAddr>(flag, v, "IP address")?);
                }
                "--port" => {
                    let v = value()?;
                    port = Some(number::<u16>(flag, v, "int")?).filter(|p| *p != 0);
                    if port.is_none() {
                        return Err(format!("argument {flag}: invalid port: '{v}'"));
                    }
                }
                "--quantization" => {
                    one_of(
                        flag,
                        value()?,
                        &["awq", "gptq", "marlin", "fp8", "awq_marlin"],
                    )?;
                }
                "--dtype" => {
                    one_of(
                        flag,
                        value()?,
                        &["auto", "half", "float16", "bfloat16", "float", "float32"],
                    )?;
                }
                "--kv-cache-dtype" => {
                    one_of(flag, value()?, &["auto", "fp8", "fp8_e4m3", "fp8_e5m2"])?;
                }
                "--gpu-memory-utilization" => {
                    let v = value()?;
                    let u = number::<f64>(flag, v, "float")?;
                    if !(u > 0.0 && u <= 1.0) {
                        return Err(format!("argument {flag}: must be in (0, 1], got '{v}'"));
                    }
                    utilization = Some(u);
                }
                "--max-model-len" | "--max-num-seqs" => {
                    let v = value()?;
                    let n = number::<u64>(flag, v, "int")?;
                    if n == 0 {
                        return Err(format!("argument {flag}: must be positive, got '{v}'"));
                    }
                    if flag == "--max-model-len" {
                        max_model_len = Some(n);
                    } else {
                        max_num_seqs = Some(n);
                    }
                }
                "--tool-call-parser" => {
                    let v = value()?;
                    if v.is_empty()
                        || !v
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                    {
                        return Err(format!("argument {flag}: invalid parser name: '{v}'"));
                    }
                    tool_parser = true;
                }
                "--enforce-eager" | "--enable-prefix-caching" => {}
                "--enable-auto-tool-choice" => tool_choice = true,
                other => return Err(format!("unrecognized arguments: {other}")),
            }
        }
        if tool_choice && !tool_parser {
            return Err("--enable-auto-tool-choice requires --tool-call-parser".into());
        }
        Ok(Serve {
            model,
            host: host.unwrap_or(IpAddr::from([0, 0, 0, 0])),
            port: port.unwrap_or(8000),
            max_model_len: max_model_len.unwrap_or(4096),
            max_num_seqs: max_num_seqs.unwrap_or(256),
            gpu_memory_utilization: utilization.unwrap_or(0.9),
        })
    }

    fn env_seconds(name: &str) -> Option<Duration> {
        let value = std::env::var(name).ok()?;
        Some(parse_seconds(&value).unwrap_or_else(|| {
            eprintln!("vllm-standin: {name}={value:?} is not a number of seconds");
            std::process::exit(64);
        }))
    }

    pub fn main() -> ! {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let serve = parse(&args).unwrap_or_else(|e| reject(&e));
        eprintln!(
            "vllm-standin: serve {} on {}:{} (max-model-len {}, max-num-seqs {}, gpu-memory-utilization {})",
            serve.model,
            serve.host,
            serve.port,
            serve.max_model_len,
            serve.max_num_seqs,
            serve.gpu_memory_utilization
        );
        if let Ok(code) = std::env::var("STANDIN_EXIT_AT_START") {
            let code = code.parse::<i32>().unwrap_or(1);
            eprintln!(
                "vllm-standin: RuntimeError: engine core initialization failed (STANDIN_EXIT_AT_START={code})"
            );
            std::process::exit(code);
        }
        let hang = std::env::var("STANDIN_HANG").is_ok_and(|v| !v.is_empty() && v != "0");
        let ready_after = env_seconds("STANDIN_READY_AFTER").unwrap_or_default();
        let unhealthy_after = env_seconds("STANDIN_UNHEALTHY_AFTER");
        let listener = TcpListener::bind((serve.host, serve.port)).unwrap_or_else(|e| {
            eprintln!(
                "vllm-standin: cannot bind {}:{}: {e}",
                serve.host, serve.port
            );
            std::process::exit(1);
        });
        let started = Instant::now();
        eprintln!("vllm-standin: loading the model");
        if !hang {
            std::thread::spawn(move || {
                std::thread::sleep(ready_after);
                eprintln!(
                    "vllm-standin: ready at {} ms, uptime {} s",
                    unix_ms(),
                    uptime()
                );
                if let Some(after) = unhealthy_after {
                    std::thread::sleep(after);
                    eprintln!("vllm-standin: unhealthy from now on (STANDIN_UNHEALTHY_AFTER)");
                }
            });
        }
        let serve = Arc::new(serve);
        for stream in listener.incoming().flatten() {
            let elapsed = started.elapsed();
            let health = if hang || elapsed < ready_after {
                ("503 Service Unavailable", "{\"status\":\"loading\"}")
            } else if unhealthy_after.is_some_and(|u| elapsed >= ready_after + u) {
                ("500 Internal Server Error", "{\"status\":\"engine dead\"}")
            } else {
                ("200 OK", "")
            };
            let serve = Arc::clone(&serve);
            std::thread::spawn(move || {
                let path = read_request(&stream);
                match path.as_deref() {
                    Some("/health") => respond(stream, health.0, "application/json", health.1),
                    Some("/v1/models") => respond(
                        stream,
                        "200 OK",
                        "application/json",
                        &models_json(&serve.model, Some(serve.max_model_len)),
                    ),
                    Some("/metrics") => {
                        let m = serve.model.replace('"', "");
                        let body = format!(
                            "# HELP vllm:num_requests_running Number of requests in model execution batches.\n\
                             # TYPE vllm:num_requests_running gauge\n\
                             vllm:num_requests_running{{model_name=\"{m}\"}} 0.0\n\
                             # HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n\
                             # TYPE vllm:num_requests_waiting gauge\n\
                             vllm:num_requests_waiting{{model_name=\"{m}\"}} 0.0\n\
                             # HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n\
                             # TYPE vllm:kv_cache_usage_perc gauge\n\
                             vllm:kv_cache_usage_perc{{model_name=\"{m}\"}} 0.0\n"
                        );
                        respond(stream, "200 OK", "text/plain; version=0.0.4", &body)
                    }
                    _ => respond(
                        stream,
                        "404 Not Found",
                        "application/json",
                        "{\"detail\":\"Not Found\"}",
                    ),
                }
            });
        }
        std::process::exit(1)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn args(line: &str) -> Vec<String> {
            line.split_whitespace().map(String::from).collect()
        }

        #[test]
        fn accepts_what_strixc_writes() {
            let serve = parse(&args(
                "serve Qwen/Qwen2.5-7B-Instruct-AWQ --host 127.0.0.1 --port 8001 --quantization awq \
                 --dtype float16 --enforce-eager --gpu-memory-utilization 0.25 --max-model-len 32768 \
                 --max-num-seqs 4 --kv-cache-dtype auto --enable-prefix-caching \
                 --enable-auto-tool-choice --tool-call-parser hermes",
            ))
            .unwrap();
            assert_eq!(serve.port, 8001);
            assert_eq!(serve.max_model_len, 32768);
            assert_eq!(serve.gpu_memory_utilization, 0.25);
        }

        #[test]
        fn refuses_unknown_flags_and_bad_values() {
            let base = "serve m --host 127.0.0.1 --port 8001";
            for (extra, says) in [
                ("--frobnicate", "unrecognized arguments: --frobnicate"),
                ("--gpu-memory-utilization 1.5", "must be in (0, 1]"),
                ("--gpu-memory-utilization x", "invalid float value"),
                ("--max-model-len 0", "must be positive"),
                ("--kv-cache-dtype fp4", "invalid choice: 'fp4'"),
                ("--quantization int3", "invalid choice: 'int3'"),
                ("--enable-auto-tool-choice", "requires --tool-call-parser"),
                ("--port 8002", "given twice"),
                ("--max-num-seqs", "expected one argument"),
            ] {
                let err = parse(&args(&format!("{base} {extra}"))).unwrap_err();
                assert!(err.contains(says), "{extra}: {err}");
            }
            assert!(parse(&args("serve --host 127.0.0.1")).is_err());
            assert!(parse(&args("run m")).is_err());
            assert!(parse(&args("serve m --host localhost")).is_err());
        }
    }
}
