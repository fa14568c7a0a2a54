//! `build_tree` on the shipped stack and on the largest stack `check` admits (256 container
//! agents, 201 profiles: a base of 2 agents, 200 extending it with 5 more), plus render
//! alone (the part after parse/check/plan).
//!
//! `cargo bench --bench build`

use std::fmt::Write as _;

use strixc::compile::build_tree;
use strixc::compile::compile;
use strixc::source::Source;
use strixc::tree::assemble::render_tree;

fn main() {
    divan::main();
}

fn shipped() -> Source {
    Source::read(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/stack.kdl"
    )))
    .expect("stack.kdl")
}

fn largest_stack() -> Source {
    let mut text = String::from(
        "stack \"big\"\nhost {\n    memory \"1024GiB\"\n    gpu \"gfx1151\" memory=\"1000GiB\" unified=#true\n    podman \"5.4\"\n}\n\
         runtime \"vllm\" {\n    image \"docker.io/kyuz0/vllm-therock-gfx1151:latest\"\n    device \"/dev/kfd\"\n    device \"/dev/dri\"\n\
         \x20   env \"VLLM_ROCM_USE_AITER\" \"0\"\n    volume \"%h/.cache/huggingface\" \"/root/.cache/huggingface\"\n\
         \x20   health \"/health\" interval=\"30s\" start-period=\"15m\"\n}\n\
         model \"qwen2.5-3b-awq\" {\n    repo \"Qwen/Qwen2.5-3B-Instruct-AWQ\"\n    quant \"awq\"\n    weights \"2.69GB\"\n    layers 36\n    kv-heads 2\n    head-dim 128\n    max-context 32768\n}\n",
    );
    for i in 0..strixc::check::MAX_AGENTS {
        let _ = write!(
            text,
            "agent \"a{i:04}\" {{\n    role \"Agent {i}\"\n    model \"qwen2.5-3b-awq\"\n    port {}\n    context 16384\n    tool-parser \"hermes\"\n    opencode \"oc-{i:04}\"\n}}\n",
            20000 + i
        );
    }
    text.push_str("profile \"base\" default=#true {\n    agents \"a0000\" \"a0001\"\n}\n");
    for p in 0..200 {
        let _ = write!(text, "profile \"p{p:03}\" extends=\"base\" {{\n    agents");
        for k in 0..5 {
            let _ = write!(text, " \"a{:04}\"", 2 + (5 * p + k) % 254);
        }
        text.push_str("\n}\n");
    }
    Source::new("big.kdl", text)
}

#[divan::bench]
fn build_shipped_stack(bencher: divan::Bencher) {
    let source = shipped();
    bencher.bench(|| build_tree(divan::black_box(&source)).expect("builds"));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn build_256_agents(bencher: divan::Bencher) {
    let source = largest_stack();
    bencher.bench(|| build_tree(divan::black_box(&source)).expect("builds"));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn render_256_agents(bencher: divan::Bencher) {
    let source = largest_stack();
    let compiled = compile(&source).expect("checks");
    bencher.bench(|| render_tree(divan::black_box(compiled.plan())).expect("renders"));
}
