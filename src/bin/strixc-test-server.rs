//! A stand-in for an inference server, for strixc's activation tests. std only.
//!
//! ```text
//! strixc-test-server --port P [--ready-after SECS] [--fail-after SECS] [--fail]
//! ```
//! Binds 127.0.0.1:P. `GET /health` answers 503 until `--ready-after` seconds have passed,
//! then 200; `GET /v1/models` answers a tiny model list; `--fail-after` exits with code 2
//! after that many seconds; `--fail` exits with code 1 at once. SIGTERM's default action
//! ends it promptly.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn usage(problem: &str) -> ! {
    eprintln!("strixc-test-server: {problem}");
    eprintln!(
        "usage: strixc-test-server --port P [--ready-after SECS] [--fail-after SECS] [--fail]"
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
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse::<u16>().ok()),
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
        std::thread::spawn(move || answer(stream, ready));
    }
}

fn answer(mut stream: TcpStream, ready: bool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    // Skip the headers.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/health" if ready => ("200 OK", "{\"status\":\"ok\"}"),
        "/health" => ("503 Service Unavailable", "{\"status\":\"loading\"}"),
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
