//! `shop-workers`: the email, invoice, notification and analytics consumers.
//!
//! Only the command line exists so far; the consumers arrive with the events issue. The binary
//! refuses to start rather than pretend to work.

use clap::Parser;

/// Background workers fed by RabbitMQ through the transactional outbox.
#[derive(Debug, Parser)]
#[command(name = "shop-workers", version, about)]
struct Cli {
    /// Run only these workers (comma separated: email, invoice, notification, analytics).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    eprintln!(
        "shop-workers: the workers ({}) are not implemented yet",
        if cli.only.is_empty() {
            "all".to_owned()
        } else {
            cli.only.join(",")
        }
    );
    std::process::ExitCode::from(2)
}
