//! A stand-in for an inference server, for strixc's activation and end-to-end tests. std only.
//!
//! ```text
//! strixc-test-server --port P [--ready-after SECS] [--fail-after SECS] [--fail]
//!                    [--chunks N] [--chunk-delay SECS]
//! strixc-test-server --port P --relay-to PORT
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
//!
//! With `--relay-to PORT` it serves nothing itself: it copies bytes between each client and
//! 127.0.0.1:PORT (the least a proxy adds, for the gateway's benchmark).

mod args;
mod completions;
mod http;
mod relay;
mod server;
mod signals;
mod vllm;

fn main() {
    signals::exit_on_sigterm_as_pid1();
    let argv0 = std::env::args().next().unwrap_or_default();
    if argv0.ends_with("vllm") {
        vllm::main();
    }
    server::main(args::parse(std::env::args().skip(1)));
}
