//! The `vllm` personality: `vllm serve MODEL ...` plays vLLM's OpenAI server.

mod args;
mod faults;

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use crate::http::{models_json, read_request, respond};
use args::{Serve, parse};
use faults::Faults;

fn reject(message: &str) -> ! {
    eprintln!("usage: vllm serve [model_tag] [options]");
    eprintln!("vllm: error: {message}");
    std::process::exit(2);
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
    let faults = Faults::from_env();
    let listener = TcpListener::bind((serve.host, serve.port)).unwrap_or_else(|e| {
        eprintln!(
            "vllm-standin: cannot bind {}:{}: {e}",
            serve.host, serve.port
        );
        std::process::exit(1);
    });
    let started = Instant::now();
    eprintln!("vllm-standin: loading the model");
    faults.announce();
    let serve = Arc::new(serve);
    for stream in listener.incoming().flatten() {
        let health = faults.health(started.elapsed());
        let serve = Arc::clone(&serve);
        std::thread::spawn(move || answer(stream, health, &serve));
    }
    std::process::exit(1)
}

/// `/health` (as `health` says), `/v1/models`, `/metrics` with vLLM's names.
fn answer(stream: TcpStream, health: (&str, &str), serve: &Serve) {
    let path = read_request(&stream);
    match path.as_deref() {
        Some("/health") => respond(stream, health.0, "application/json", health.1),
        Some("/v1/models") => respond(
            stream,
            "200 OK",
            "application/json",
            &models_json(&serve.model, Some(serve.max_model_len)),
        ),
        Some("/metrics") => respond(
            stream,
            "200 OK",
            "text/plain; version=0.0.4",
            &metrics(&serve.model),
        ),
        _ => respond(
            stream,
            "404 Not Found",
            "application/json",
            "{\"detail\":\"Not Found\"}",
        ),
    }
}

fn metrics(model: &str) -> String {
    let m = model.replace('"', "");
    format!(
        "# HELP vllm:num_requests_running Number of requests in model execution batches.\n\
         # TYPE vllm:num_requests_running gauge\n\
         vllm:num_requests_running{{model_name=\"{m}\"}} 0.0\n\
         # HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n\
         # TYPE vllm:num_requests_waiting gauge\n\
         vllm:num_requests_waiting{{model_name=\"{m}\"}} 0.0\n\
         # HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n\
         # TYPE vllm:kv_cache_usage_perc gauge\n\
         vllm:kv_cache_usage_perc{{model_name=\"{m}\"}} 0.0\n"
    )
}
