//! Command line of `shop-operator`. Every flag of `run` also reads an environment variable, so the
//! Deployment can configure the operator without rewriting its arguments.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::ffi::OsString;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Where Kubernetes mounts the namespace of the pod's service account.
pub const SERVICE_ACCOUNT_NAMESPACE_FILE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// Kubernetes operator for the shop platform.
#[derive(Debug, Parser)]
#[command(
    name = "shop-operator",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do; `run` when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `run`, accepted without the subcommand too, since `run` is the default.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controllers (default).
    Run(RunArgs),
    /// Print the CustomResourceDefinitions as YAML, or write one file per CRD into a directory.
    Crd {
        /// Write `shop.dev_<plural>.yaml` files here instead of printing.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Print, as YAML, every object the operator would create for the given Shop, Worker and
    /// Backup resources on an empty cluster where the CRDs exist (as `helm template` does for a
    /// chart). Invalid resources are refused with exit code 2, naming the file and field.
    Render {
        /// Files of resources (multi-document YAML); `-` reads standard input.
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// Namespace of resources that name none.
        #[arg(short, long, value_name = "NS", default_value = "default", value_parser = parse_name)]
        namespace: String,
    },
}

/// Settings of the controllers.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// Namespaces to watch, comma-separated; empty means all namespaces.
    #[arg(
        long,
        env = "SHOP_OPERATOR_NAMESPACES",
        value_name = "NS,...",
        value_delimiter = ',',
        value_parser = parse_namespace
    )]
    pub namespaces: Vec<String>,
    /// Address of the HTTP server for /metrics, /healthz and /readyz.
    #[arg(
        long,
        env = "SHOP_OPERATOR_METRICS_ADDR",
        value_name = "ADDR",
        default_value = "0.0.0.0:8081"
    )]
    pub metrics_addr: SocketAddr,
    /// Name of the Lease used for leader election.
    #[arg(
        long,
        env = "SHOP_OPERATOR_LEASE_NAME",
        value_name = "NAME",
        default_value = "shop-operator",
        value_parser = parse_name
    )]
    pub lease_name: String,
    /// Namespace of the Lease [default: the pod's namespace, else "default"].
    #[arg(long, env = "POD_NAMESPACE", value_name = "NS", value_parser = parse_name)]
    pub lease_namespace: Option<String>,
    /// Log line format.
    #[arg(long, env = "SHOP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Which logs to write, as a tracing filter (`info`, `shop_operator=debug,kube=warn`, ...).
    #[arg(
        long,
        env = "SHOP_LOG",
        value_name = "FILTER",
        default_value = "info",
        value_parser = parse_log_filter
    )]
    pub log_filter: String,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines.
    Text,
}

impl Cli {
    /// Parses the process's arguments, exiting with status 2 and a message on a bad value.
    pub fn parse_args() -> Self {
        Self::try_parse_args_from(std::env::args_os()).unwrap_or_else(|error| error.exit())
    }

    /// Parses `args` (the first is the program name).
    ///
    /// When a subcommand is named, the top-level copies of the `run` flags stop reading their
    /// environment variables: `shop-operator crd` must not fail on a bad `SHOP_OPERATOR_*` value
    /// it does not use, and `shop-operator run` reads them through its own flags.
    pub fn try_parse_args_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let mut command = Self::command();
        let names_a_subcommand = args.get(1).is_some_and(|first| {
            command
                .get_subcommands()
                .any(|subcommand| subcommand.get_name() == first.as_os_str())
                || first == "help"
        });
        if names_a_subcommand {
            command = command.mut_args(|arg| arg.env(None::<&str>));
        }
        let matches = command.try_get_matches_from(args)?;
        Self::from_arg_matches(&matches)
    }
}

impl RunArgs {
    /// The namespaces to watch, without blanks and duplicates; empty means all.
    pub fn watched_namespaces(&self) -> Vec<String> {
        let mut namespaces: Vec<String> = Vec::new();
        for namespace in &self.namespaces {
            if !namespace.is_empty() && !namespaces.contains(namespace) {
                namespaces.push(namespace.clone());
            }
        }
        namespaces
    }

    /// The Lease's namespace: the flag, else the pod's own namespace, else `default`.
    pub fn lease_namespace(&self) -> String {
        resolve_lease_namespace(
            self.lease_namespace.as_deref(),
            Path::new(SERVICE_ACCOUNT_NAMESPACE_FILE),
        )
    }
}

/// The Lease's namespace given the flag and where the service account's namespace file would be.
pub fn resolve_lease_namespace(flag: Option<&str>, service_account_file: &Path) -> String {
    if let Some(namespace) = flag.filter(|namespace| !namespace.is_empty()) {
        return namespace.to_owned();
    }
    std::fs::read_to_string(service_account_file)
        .ok()
        .map(|text| text.trim().to_owned())
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

/// A namespace name, or nothing (so that `SHOP_OPERATOR_NAMESPACES=""` means all namespaces).
fn parse_namespace(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    parse_name(value)
}

/// A DNS-1123 label, as namespace and Lease names must be; checked here so that a typo fails at
/// startup rather than as a stream of API errors.
fn parse_name(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "{value:?} is not a valid name: at most 63 lowercase letters, digits and '-', \
             starting and ending with a letter or digit"
        ))
    }
}

fn parse_log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| value.to_owned())
        .map_err(|error| format!("{value:?} is not a valid log filter: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_args_from(std::iter::once("shop-operator").chain(args.iter().copied()))
    }

    #[test]
    fn namespaces_are_split_trimmed_and_deduplicated() {
        let cli = parse(&["run", "--namespaces", "shop-a, shop-b,,shop-a"]).expect("valid");
        let Some(Command::Run(args)) = cli.command else {
            panic!("expected run");
        };
        assert_eq!(args.watched_namespaces(), ["shop-a", "shop-b"]);
    }

    #[test]
    fn run_flags_work_without_the_subcommand() {
        let cli =
            parse(&["--metrics-addr", "127.0.0.1:9000", "--log-format", "text"]).expect("valid");
        assert!(cli.command.is_none());
        assert_eq!(cli.run.metrics_addr.port(), 9000);
        assert_eq!(cli.run.log_format, LogFormat::Text);
        assert!(cli.run.watched_namespaces().is_empty());
    }

    #[test]
    fn bad_names_and_filters_are_rejected() {
        assert!(parse(&["--namespaces", "Shop_A"]).is_err());
        assert!(parse(&["--lease-name", "-x"]).is_err());
        assert!(parse(&["--log-filter", "shop_operator=loud"]).is_err());
    }

    #[test]
    fn lease_namespace_comes_from_the_flag_then_the_service_account_then_default() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let file = dir.path().join("namespace");
        assert_eq!(resolve_lease_namespace(None, &file), "default");
        std::fs::write(&file, "shop-system\n").expect("write namespace file");
        assert_eq!(resolve_lease_namespace(None, &file), "shop-system");
        assert_eq!(resolve_lease_namespace(Some("ops"), &file), "ops");
        assert_eq!(resolve_lease_namespace(Some(""), &file), "shop-system");
    }
}
