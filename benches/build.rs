//! `build_tree` on the shipped stack and on the largest stack `check` admits (256 container
//! agents, 201 profiles: a base of 2 agents, 200 extending it with 5 more), plus render
//! alone (the part after parse/check/plan).
//!
//! `cargo bench --bench build`

use strixc::compile::build_tree;
use strixc::compile::compile;
use strixc::source::Source;
use strixc::tree::assemble::render_tree;

#[path = "support/synthetic.rs"]
mod synthetic;

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

/// The largest stack `check` admits in agents, with 200 profiles.
fn largest_stack() -> Source {
    Source::new(
        "big.kdl",
        synthetic::synthetic_stack(strixc::check::MAX_AGENTS, 200),
    )
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
