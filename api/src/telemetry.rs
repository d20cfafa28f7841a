//! Logs and traces of `shop-api`: the shared set-up of [`shop_core::telemetry`] (logs to standard
//! error as text or JSON per `SHOP_LOG_FORMAT`, filtered by `SHOP_LOG`; OpenTelemetry traces over
//! OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set).

use shop_core::{
    config::{Config, ConfigError},
    telemetry::{self, Telemetry, TelemetryError},
};

/// Installs the global subscriber; call it inside the Tokio runtime (`Runtime::enter`). An
/// invalid filter is a configuration error naming `SHOP_LOG`.
pub fn init(config: &Config) -> Result<Telemetry, ConfigError> {
    telemetry::init("shop-api", config.log_format, &config.log_filter).map_err(
        |error| match error {
            TelemetryError::Filter { filter, message } => ConfigError {
                origin: "SHOP_LOG".into(),
                message: format!("invalid filter {filter:?}: {message}"),
            },
            TelemetryError::Exporter(message) => ConfigError {
                origin: "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
                message,
            },
        },
    )
}
