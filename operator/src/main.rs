//! `shop-operator`: reconciles `Shop`, `Worker` and `Backup` custom resources.
//!
//! Only the command line exists so far; the reconcilers arrive with the operator issue. The binary
//! refuses to start rather than pretend to work.

use clap::{Parser, Subcommand};

/// Kubernetes operator for the shop platform.
#[derive(Debug, Parser)]
#[command(name = "shop-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the controllers (default).
    Run,
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let what = match cli.command.unwrap_or(Command::Run) {
        Command::Run => "the controllers",
        Command::Crd => "the CRD generator",
    };
    eprintln!("shop-operator: {what} are not implemented yet");
    std::process::ExitCode::from(2)
}
