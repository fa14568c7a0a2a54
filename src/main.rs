use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = strixc::cli::Cli::parse();
    strixc::run(cli).into()
}
