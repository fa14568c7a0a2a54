//! The one generator of synthetic stacks, for benches and tests (included with `#[path]`)
//! and scripts (`cargo run --release --example synthetic_stack`).
//!
//! `synthetic_stack`: `agents` container agents on one small AWQ model and `profiles`
//! profiles, a default `base` of two agents and the rest extending it, each with an equal
//! share of the other agents (at least one). Every profile fits the Strix Halo budget.
//! `warning_stack`: agents that each draw two warnings, for the cost of reporting.
#![allow(dead_code)] // each includer uses some of it

pub fn synthetic_stack(agents: usize, profiles: usize) -> String {
    assert!(
        agents >= 2 && profiles >= 2,
        "a base of two agents and one more profile"
    );
    let mut s = header(agents);
    for i in 0..agents {
        s.push_str(&format!(
            "agent \"a{i}\" {{\n    role \"Agent {i}\"\n    model \"qwen2.5-3b-awq\"\n    port {}\n    context 16384\n    max-seqs 4\n    tool-parser \"hermes\"\n    opencode \"oc{i}\"\n}}\n",
            10_000 + i
        ));
    }
    s.push_str("profile \"base\" default=#true {\n    agents \"a0\" \"a1\"\n}\n");
    let extensions = profiles - 1;
    for p in 0..extensions {
        let mut members: Vec<usize> = (2 + p..agents).step_by(extensions).collect();
        if members.is_empty() {
            // More profiles than agents to share: each still runs one.
            members.push(if agents > 2 { 2 + p % (agents - 2) } else { 1 });
        }
        s.push_str(&format!("profile \"p{p}\" extends=\"base\" {{\n    agents"));
        for i in members {
            s.push_str(&format!(" \"a{i}\""));
        }
        s.push_str("\n}\n");
    }
    s
}

/// `agents` agents bound to 0.0.0.0 and in no profile (two warnings each), and a default
/// profile running the first: `strixc check`'s cost per diagnostic.
pub fn warning_stack(agents: usize) -> String {
    assert!((1..=55_000).contains(&agents), "one port each, from 10000");
    let mut s = header(agents);
    for i in 0..agents {
        s.push_str(&format!(
            "agent \"a{i}\" {{\n    model \"qwen2.5-3b-awq\"\n    port {}\n    context 4096\n    bind \"0.0.0.0\"\n}}\n",
            10_000 + i
        ));
    }
    s.push_str("profile \"standard\" default=#true {\n    agents \"a0\"\n}\n");
    s
}

/// The stack, host, runtime and model every synthetic stack shares.
fn header(agents: usize) -> String {
    let mut s = String::with_capacity(agents * 240 + 1024);
    s.push_str(
        r#"stack "bench" {
    description "A synthetic stack for benchmarks"
}
host {
    memory "128GiB"
    gpu "gfx1151" memory="124GiB" unified=#true
    reserve "8GiB"
    max-utilization 0.90
    podman "5.4"
}
runtime "vllm" {
    image "docker.io/kyuz0/vllm-therock-gfx1151:latest"
    device "/dev/kfd"
    device "/dev/dri"
    env "VLLM_ROCM_USE_AITER" "0"
    volume "%h/.cache/huggingface" "/root/.cache/huggingface"
    health "/health" interval="30s" start-period="15m"
}
model "qwen2.5-3b-awq" {
    repo "Qwen/Qwen2.5-3B-Instruct-AWQ"
    quant "awq"
    weights "2.69GB"
    layers 36
    kv-heads 2
    head-dim 128
    max-context 32768
}
"#,
    );
    s
}
