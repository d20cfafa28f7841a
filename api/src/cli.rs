//! The command line. Configuration deliberately does not appear here: it comes from the
//! environment (or the file `SHOP_CONFIG_FILE` names), the same for every command, so a
//! Kubernetes pod and a developer's shell configure the shop the same way.

use clap::{Args, Parser, Subcommand};

const CONFIGURATION_HELP: &str = "\
Configuration comes from environment variables (SHOP_HTTP_ADDR, DATABASE_URL, SHOP_LOG, ...)
and optionally a TOML file named by SHOP_CONFIG_FILE; see the README for the full list.
Without DATABASE_URL the shop runs on the SQLite file shop.db in the working directory.";

#[derive(Debug, Parser)]
#[command(
    name = "shop-api",
    version,
    about = "The shop's API server and administration commands",
    long_about = "The shop's API server and administration commands.\n\n\
                  Without a command, `shop-api` runs `shop-api serve`.",
    after_help = CONFIGURATION_HELP,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default): migrate the database, then serve until SIGTERM or Ctrl-C
    #[command(after_help = CONFIGURATION_HELP)]
    Serve,
    /// Bring the database schema up to date, then exit
    #[command(after_help = CONFIGURATION_HELP)]
    Migrate,
    /// Manage user accounts
    #[command(subcommand)]
    User(UserCommand),
    /// Load data into the database
    Seed(SeedArgs),
}

#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is the first line of standard input when it is piped in;
    /// otherwise one is generated and printed once.
    #[command(after_help = "Example:\n  \
        printf '%s\\n' \"$PASSWORD\" | shop-api user create --email ada@example.com --admin")]
    Create(CreateUserArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CreateUserArgs {
    /// The user's e-mail address, which they sign in with
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// Full name; defaults to the part of the e-mail address before the @
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Make the user an administrator instead of a customer
    #[arg(long)]
    pub admin: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Load the demo catalog (categories and about fifty products); skipped when the catalog
    /// already has products
    #[arg(long, required = true)]
    pub demo: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_means_serve() {
        let cli = Cli::try_parse_from(["shop-api"]).expect("parses");
        assert!(cli.command.is_none());
        let cli =
            Cli::try_parse_from(["shop-api", "user", "create", "--email", "a@b.co", "--admin"])
                .expect("parses");
        assert!(matches!(
            cli.command,
            Some(Command::User(UserCommand::Create(CreateUserArgs {
                admin: true,
                ..
            })))
        ));
        assert!(Cli::try_parse_from(["shop-api", "seed"]).is_err());
    }
}
