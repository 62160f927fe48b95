//! The `idtrail` binary: see `api::cli`.

use clap::Parser;

fn main() {
    let cli = api::cli::Cli::parse();
    if let Err(e) = api::cli::run(cli) {
        eprintln!("idtrail: {e:#}");
        std::process::exit(1);
    }
}
