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
    /// Back up the database, list, prune, verify and restore backups
    #[command(subcommand, after_help = BACKUP_HELP)]
    Backup(BackupCommand),
}

const BACKUP_HELP: &str = "\
Backups go to the target URL given by --target or SHOP_BACKUP_TARGET (default file://backups):
file:///absolute/dir, file://relative/dir or s3://bucket/prefix (SHOP_BACKUP_S3_ENDPOINT,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION). Each backup is a zstd-compressed data file
(pg_dump custom format on Postgres, a database copy on SQLite) with a JSON manifest beside it.
Exit codes: 0 ok, 1 failed, 2 usage or configuration error.";

#[derive(Debug, Clone, Subcommand)]
pub enum BackupCommand {
    /// Take a consistent backup of the database (DATABASE_URL) and store it at the target
    Create(CreateBackupArgs),
    /// List complete backups, newest first
    List(ListBackupsArgs),
    /// Delete old backups by policy; the newest backup is never deleted
    Prune(PruneBackupsArgs),
    /// Restore a backup into an empty database, after checking its SHA-256
    Restore(RestoreBackupArgs),
    /// Restore a backup into a scratch database and compare row counts with its manifest
    Verify(VerifyBackupArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TargetArg {
    /// Where backups are stored (overrides SHOP_BACKUP_TARGET)
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// Keep the N newest backups
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,
    /// Keep backups younger than this: 30d, 12h, 45m, 2w. With --keep-last too, a backup is
    /// deleted only when neither rule keeps it.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub max_age: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Args)]
pub struct CreateBackupArgs {
    #[command(flatten)]
    pub target: TargetArg,
    /// After a successful backup, prune by --keep-last and --max-age (for a CronJob)
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// After the backup is stored, verify it as `backup verify` does (a scratch database on the
    /// DATABASE_URL server). A failed verification keeps the backup and still exits 0 (the
    /// backup is stored); the outcome is printed and goes in the report as `verification`.
    #[arg(long)]
    pub verify: bool,
    /// After a successful backup, write a one-line JSON report (id, location, sizeBytes,
    /// createdAt) to this file; in Kubernetes, /dev/termination-log makes it the pod's
    /// termination message. Overrides SHOP_BACKUP_REPORT_FILE.
    #[arg(long, value_name = "FILE")]
    pub report_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ListBackupsArgs {
    #[command(flatten)]
    pub target: TargetArg,
    /// Print the manifests as a JSON array instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PruneBackupsArgs {
    #[command(flatten)]
    pub target: TargetArg,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreBackupArgs {
    /// The backup's id, as `backup list` shows it
    #[arg(value_name = "ID")]
    pub id: String,
    /// The database to restore into (postgres://... or sqlite:...); it must be empty
    #[arg(long, value_name = "DATABASE_URL")]
    pub to: String,
    /// Restore even though the database already has tables (they are replaced)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub target: TargetArg,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyBackupArgs {
    /// The backup's id, as `backup list` shows it
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub target: TargetArg,
}

/// `30d`, `12h`, `45m`, `90s`, `2w`: a whole number and a unit.
pub fn parse_age(raw: &str) -> Result<std::time::Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not an age like 30d, 12h, 45m or 2w"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("{raw:?} is not an age like 30d, 12h, 45m or 2w")),
    };
    number
        .checked_mul(seconds)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{raw:?} is too long"))
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

    #[test]
    fn ages_have_a_unit() {
        assert_eq!(
            parse_age("30d"),
            Ok(std::time::Duration::from_secs(30 * 86_400))
        );
        assert_eq!(
            parse_age("12h"),
            Ok(std::time::Duration::from_secs(12 * 3_600))
        );
        assert_eq!(
            parse_age("2w"),
            Ok(std::time::Duration::from_secs(14 * 86_400))
        );
        for bad in ["", "30", "d", "1.5h", "-1d", "3y"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
        let cli = Cli::try_parse_from([
            "shop-api",
            "backup",
            "create",
            "--prune",
            "--keep-last",
            "7",
            "--max-age",
            "30d",
        ])
        .expect("parses");
        assert!(matches!(
            cli.command,
            Some(Command::Backup(BackupCommand::Create(CreateBackupArgs {
                prune: true,
                ..
            })))
        ));
    }
}
