//! Logging: JSON lines for log collectors or plain text for people, filtered like `RUST_LOG`.
//! Logs go to stderr so that stdout stays free for command output (`shop-operator crd`).

use anyhow::anyhow;
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Installs the global subscriber. `filter` is a tracing filter directive such as `info`.
pub fn init(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|error| anyhow!("invalid log filter {filter:?} (SHOP_LOG): {error}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    installed.map_err(|error| anyhow!("cannot install the logger: {error}"))
}
