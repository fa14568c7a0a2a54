//! The test server's own command line (not the `vllm` personality's).

use std::time::Duration;

use crate::completions::Streaming;

/// What `strixc-test-server` was asked to do.
pub struct Options {
    pub port: u16,
    pub ready_after: Duration,
    pub fail_after: Option<Duration>,
    pub streaming: Streaming,
    /// Relay bytes to this port instead of serving (`--relay-to`).
    pub relay_to: Option<u16>,
}

fn usage(problem: &str) -> ! {
    eprintln!("strixc-test-server: {problem}");
    eprintln!(
        "usage: strixc-test-server --port P [--ready-after SECS] [--fail-after SECS] [--fail] [--chunks N] [--chunk-delay SECS] [--relay-to PORT]"
    );
    std::process::exit(64);
}

/// A non-negative number of seconds, fractions allowed.
pub fn parse_seconds(value: &str) -> Option<Duration> {
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

/// Reads the arguments in order; a problem, or `--fail`, ends the process there.
pub fn parse(mut args: impl Iterator<Item = String>) -> Options {
    let mut port = None;
    let mut ready_after = Duration::ZERO;
    let mut fail_after = None;
    let mut relay_to = None;
    let mut streaming = Streaming {
        chunks: 3,
        delay: Duration::from_millis(50),
        port: 0,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse::<u16>().ok()),
            "--chunks" => {
                streaming.chunks = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage("--chunks needs a count"))
            }
            "--relay-to" => {
                relay_to = Some(
                    args.next()
                        .and_then(|p| p.parse::<u16>().ok())
                        .unwrap_or_else(|| usage("--relay-to needs a port")),
                )
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
    Options {
        port,
        ready_after,
        fail_after,
        streaming,
        relay_to,
    }
}
