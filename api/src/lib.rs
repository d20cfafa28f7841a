//! `shop-api`: the shop's HTTP server and its command line. The binary is a thin `main` over
//! [`run`]; REST and gRPC plug into [`server::router`] as they arrive.

pub mod app;
pub mod cli;
pub mod commands;
pub mod docs_page;
pub mod grpc;
pub mod maintenance;
pub mod metrics;
pub mod output;
pub mod payment_expiry;
pub mod problem;
pub mod rate_limit;
pub mod relay;
pub mod rest;
pub mod seed;
pub mod server;
pub mod telemetry;

use std::{process::ExitCode, time::Duration};

use clap::Parser as _;
use shop_core::config::Config;

use crate::cli::{Cli, Command};

/// Exit code for a command that failed (a refused input, an unreachable database, ...).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for unusable configuration or command-line usage, like clap's own usage errors.
pub const EXIT_USAGE: u8 = 2;

/// A command refused its arguments or configuration (a bad target URL, a missing option):
/// exits with [`EXIT_USAGE`] rather than [`EXIT_FAILURE`], so a CronJob can tell "fix the spec"
/// from "try again".
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Parses the command line and the configuration, then runs the command. Never panics on bad
/// input: every failure becomes `error: ...` on stderr and a non-zero exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // Inside the runtime: the trace exporter, when there is one, is a task on it.
    let telemetry = match runtime.block_on(async { telemetry::init(&config) }) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut command = cli.command.unwrap_or(Command::Serve);
    // The command line wins over the configuration.
    if let Command::Backup(cli::BackupCommand::Create(args)) = &mut command {
        args.report_file = args
            .report_file
            .take()
            .or_else(|| config.backup_report_file.clone());
    }
    let result = runtime.block_on(commands::run(command, config));
    // The spans of the last requests are exported before the runtime (their exporter) stops.
    telemetry.shutdown();
    // A blocking task (such as a read from stdin) must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", output::render_error(&error));
            if error.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::from(EXIT_FAILURE)
            }
        }
    }
}
