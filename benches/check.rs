//! `check` on the shipped stack and on synthetic stacks of 100 and 256 agents (the most `check` admits).
//! The floor is the KDL parser; decode + check + budget should cost less than it.
//! Run: `cargo bench --bench check`.

#[path = "support/synthetic.rs"]
mod synthetic;

use divan::{Bencher, black_box};
use strixc::diagnostic::Diagnostics;
use strixc::source::Source;

fn main() {
    divan::main();
}

fn stack(agents: usize) -> String {
    match agents {
        0 => std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/stack.kdl"))
            .expect("stack.kdl is in the repository"),
        100 => synthetic::synthetic_stack(100, 20),
        n => synthetic::synthetic_stack(n, 200),
    }
}

/// 0 = the shipped stack.
const SIZES: [usize; 3] = [0, 100, 256];

/// The floor: kdl's parser alone.
#[divan::bench(args = SIZES)]
fn parse_only(bencher: Bencher, agents: usize) {
    let text = stack(agents);
    bencher.bench(|| black_box(kdl::KdlDocument::parse_v2(black_box(&text)).is_ok()));
}

/// Everything after the parse: decode, check, plan, budget.
#[divan::bench(args = SIZES)]
fn decode_check_budget(bencher: Bencher, agents: usize) {
    let text = stack(agents);
    let document = kdl::KdlDocument::parse_v2(&text).expect("valid KDL");
    bencher.bench(|| {
        let mut d = Diagnostics::new();
        let stack = strixc::decode::decode(black_box(&document), &mut d);
        strixc::check::check(&stack, &mut d);
        let plan = strixc::plan::plan(&stack).expect("plannable");
        strixc::plan::budget::check_budget(&plan, &mut d);
        assert!(!d.has_errors());
        black_box(plan.agents.len())
    });
}

/// The whole `strixc check` pipeline from text.
#[divan::bench(args = SIZES)]
fn compile_all(bencher: Bencher, agents: usize) {
    let source = Source::new("stack.kdl", stack(agents));
    bencher.bench(|| black_box(strixc::compile::compile(black_box(&source)).is_ok()));
}
