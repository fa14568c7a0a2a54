//! Prints a synthetic stack for benchmark scripts:
//! `cargo run --release --example synthetic_stack -- AGENTS PROFILES > big.kdl`

#[path = "../benches/support/synthetic.rs"]
mod synthetic;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    match (args.next(), args.next()) {
        (Some(Ok(agents)), Some(Ok(profiles))) if agents >= 2 && profiles >= 2 => {
            print!("{}", synthetic::synthetic_stack(agents, profiles));
        }
        _ => {
            eprintln!("usage: synthetic_stack AGENTS PROFILES (both at least 2)");
            std::process::exit(2);
        }
    }
}
