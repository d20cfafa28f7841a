//! Logs: `tracing` to standard error, as text for people or JSON for log collectors
//! (`SHOP_LOG_FORMAT`), filtered by `SHOP_LOG` (an `EnvFilter` directive such as
//! `info,shop_core=debug`). Standard output stays free for the command's own lines.

use std::io::IsTerminal as _;

use shop_core::config::{Config, ConfigError, LogFormat};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. An invalid filter is a configuration error naming `SHOP_LOG`.
pub fn init(config: &Config) -> Result<(), ConfigError> {
    let filter = EnvFilter::try_new(&config.log_filter).map_err(|error| ConfigError {
        origin: "SHOP_LOG".into(),
        message: format!("invalid filter {:?}: {error}", config.log_filter),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only help a person at a terminal; in files and pipes they are noise.
        .with_ansi(std::io::stderr().is_terminal());
    // `try_init` fails only when a subscriber is already installed (as in some tests); the one
    // in place then keeps logging, which is fine.
    let _ = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}
