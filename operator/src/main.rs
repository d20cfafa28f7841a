//! `shop-operator`: reconciles `Shop`, `Worker` and `Backup` custom resources.

use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Print the CustomResourceDefinitions as YAML, or write one file per CRD into a directory.
    Crd {
        /// Write `shop.dev_<plural>.yaml` files here instead of printing.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => {
            eprintln!("shop-operator: the controllers are not implemented yet");
            ExitCode::from(2)
        }
        Command::Crd { out_dir } => match print_crds(out_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("shop-operator: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn print_crds(out_dir: Option<PathBuf>) -> anyhow::Result<()> {
    use anyhow::Context as _;
    match out_dir {
        None => print!("{}", shop_operator::crd::all_as_yaml()?),
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for (file, yaml) in shop_operator::crd::files()? {
                let path = dir.join(file);
                std::fs::write(&path, yaml)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
    }
    Ok(())
}
