//! Property tests: whatever the bytes, `compile` returns (a stack or diagnostics) and never
//! panics, overflows or reports a span outside the text. Bounded for CI: a few seconds in a
//! debug build, where the kdl parser takes about 70 ms for the 5 KB shipped stack, so the
//! properties built on it run fewer cases. `PROPTEST_CASES=N` runs N cases of each instead.

use proptest::prelude::*;
use proptest::sample::Index;

use strixc::compile::compile;
use strixc::diagnostic::{RenderStyle, render};
use strixc::source::Source;

const SHIPPED: &str = include_str!("../stack.kdl");

/// Compiles and renders; the properties every input must keep.
fn compile_never_panics(name: &str, bytes: &[u8]) {
    let source = Source::from_bytes(name, bytes);
    let diagnostics = match compile(&source) {
        Ok(checked) => checked.warnings,
        Err(diagnostics) => {
            assert!(diagnostics.has_errors(), "Err without an error");
            diagnostics
        }
    };
    let len = source.text().len();
    for d in diagnostics.iter() {
        assert!(
            d.span.offset() + d.span.len() <= len,
            "{} has span {:?} past the end ({len})",
            d.problem.code(),
            d.span
        );
        for label in &d.related {
            assert!(label.span.offset() + label.span.len() <= len);
        }
    }
    // Rendering walks the spans too (line and column lookups).
    let _ = render(&diagnostics, &source, RenderStyle::Plain);
}

/// Text fragments that trip parsers: block openers and closers, quotes, raw-string hashes,
/// comments, slashdash, keywords, escapes.
const FRAGMENTS: [&str; 20] = [
    "{", "}", "\"", "#", "/*", "*/", "//", "/-", "=", "\n", "\\", ";", "\"\"\"", "##\"", "(t)",
    "#true", "#null", "-", "0x", "\u{0}",
];

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    Truncate(Index),
    Insert(Index, &'static str),
    Delete(Index, usize),
    Duplicate(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Mutation::FlipBit(i, bit)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), proptest::sample::select(&FRAGMENTS[..]))
            .prop_map(|(i, f)| Mutation::Insert(i, f)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1usize..256).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match mutation {
        Mutation::FlipBit(i, bit) => {
            let i = i.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(bytes.len())),
        Mutation::Insert(i, fragment) => {
            let i = i.index(bytes.len() + 1);
            bytes.splice(i..i, fragment.bytes());
        }
        Mutation::Delete(i, n) => {
            let i = i.index(bytes.len());
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
        Mutation::Duplicate(i, n) => {
            let i = i.index(bytes.len());
            let end = (i + n).min(bytes.len());
            let copy = bytes[i..end].to_vec();
            bytes.splice(end..end, copy);
        }
    }
}

/// Numbers that overflow careless arithmetic, for every integer of the stack.
const NUMBERS: [&str; 12] = [
    "0",
    "1",
    "-1",
    "15",
    "17",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "1e400",
];
/// Sizes at the edges, for every size of the stack.
const SIZES: [&str; 8] = [
    "\"0B\"",
    "\"1B\"",
    "\"1.5B\"",
    "\"16384TiB\"",
    "\"18446744073709551615B\"",
    "\"99999999TiB\"",
    "\"0.000000001GB\"",
    "\"1TB\"",
];

/// The shipped stack with a few of its numbers or sizes replaced by values at the edges:
/// few, so that most cases still decode and reach the budget arithmetic.
fn with_edge_numbers(picks: &[(Index, Index)]) -> String {
    let mut words: Vec<String> = SHIPPED.split(' ').map(str::to_owned).collect();
    let is_number = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let is_size = |w: &str| {
        w.len() > 3
            && w.starts_with('"')
            && w.ends_with("B\"")
            && w[1..].starts_with(|c: char| c.is_ascii_digit())
    };
    let targets: Vec<usize> = (0..words.len())
        .filter(|&i| is_number(&words[i]) || is_size(&words[i]))
        .collect();
    for (target, value) in picks {
        let i = targets[target.index(targets.len())];
        words[i] = if is_size(&words[i]) {
            SIZES[value.index(SIZES.len())].to_owned()
        } else {
            NUMBERS[value.index(NUMBERS.len())].to_owned()
        };
    }
    words.join(" ")
}

/// Agent fields that reach the budget and the checks, at their edges.
const AGENT_LINES: [&str; 14] = [
    "kv-tokens 4294967295",
    "kv-tokens 1",
    "gpu-memory-utilization 1.0",
    "gpu-memory-utilization 0.01",
    "overhead \"0B\"",
    "overhead \"16EiB\"",
    "max-seqs 4294967295",
    "kv-cache-dtype \"fp8\"",
    "after \"thor\"",
    "after \"odin\" \"valkyrie\"",
    "bind \"::\"",
    "opencode \"sisyphus\" max-tokens=4294967295",
    "runtime \"vllm\"",
    "quadlet \"Service\" \"Nice\" \"5\"",
];

/// `default` cases, or `PROPTEST_CASES` when set (for a longer run by hand or nightly).
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        compile_never_panics("bytes.kdl", &bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[ -~\n\t{}\"#/*\\\\=é]{0,160}") {
        compile_never_panics("text.kdl", text.as_bytes());
    }
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn mutations_of_the_shipped_stack_never_panic(mutations in proptest::collection::vec(mutation(), 1..8)) {
        let mut bytes = SHIPPED.as_bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        compile_never_panics("stack.kdl", &bytes);
    }

    #[test]
    fn edge_numbers_in_the_shipped_stack_never_panic(picks in proptest::collection::vec(any::<(Index, Index)>(), 1..4)) {
        compile_never_panics("numbers.kdl", with_edge_numbers(&picks).as_bytes());
    }

    #[test]
    fn edge_agent_fields_never_panic(
        lines in proptest::collection::vec((any::<Index>(), proptest::sample::select(&AGENT_LINES[..])), 1..6)
    ) {
        // Each line goes into a random agent block, just after its opening brace.
        let mut text = SHIPPED.to_owned();
        for (agent, line) in &lines {
            let openings: Vec<usize> = text.match_indices("agent \"").map(|(i, _)| i).collect();
            let start = openings[agent.index(openings.len())];
            let brace = start + text[start..].find('{').unwrap() + 1;
            text.insert_str(brace, &format!("\n    {line}"));
        }
        compile_never_panics("fields.kdl", text.as_bytes());
    }
}

#[test]
fn the_shipped_stack_compiles_unchanged() {
    let source = Source::new("stack.kdl", SHIPPED);
    assert!(compile(&source).is_ok());
}
