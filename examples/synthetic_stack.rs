//! Prints a synthetic stack for benchmark scripts (the generator: benches/support/synthetic.rs):
//! `cargo run --release --example synthetic_stack -- AGENTS PROFILES > big.kdl`, or
//! `... -- --warnings AGENTS` for agents that each draw two warnings.

#[path = "../benches/support/synthetic.rs"]
mod synthetic;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| args.get(i).and_then(|a| a.parse::<usize>().ok());
    let stack = match args.first().map(String::as_str) {
        Some("--warnings") => number(1)
            .filter(|&n| (1..=55_000).contains(&n))
            .map(synthetic::warning_stack),
        _ => number(0)
            .zip(number(1))
            .filter(|&(agents, profiles)| agents >= 2 && profiles >= 2)
            .map(|(agents, profiles)| synthetic::synthetic_stack(agents, profiles)),
    };
    match stack {
        Some(text) => print!("{text}"),
        None => {
            eprintln!(
                "usage: synthetic_stack AGENTS PROFILES (both at least 2)\n       synthetic_stack --warnings AGENTS (1 to 55000)"
            );
            std::process::exit(2);
        }
    }
}
