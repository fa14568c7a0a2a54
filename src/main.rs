use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = strixc::cli::args::Cli::parse();
    strixc::run(cli).into()
}
