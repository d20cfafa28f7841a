//! Logs and traces, set up the same way by every binary (`shop-api`, `shop-workers`).
//!
//! Logs: `tracing` to standard error, as text for people or JSON for log collectors
//! (`SHOP_LOG_FORMAT`), filtered by `SHOP_LOG`. Standard output stays free for a command's own
//! lines.
//!
//! Traces: OpenTelemetry, exported over OTLP/HTTP (protobuf) only when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set. The SDK reads the
//! standard variables itself (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_SAMPLER` and `_ARG`, `OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_HEADERS`, ...). Without an
//! endpoint the subscriber is exactly the plain logger: no exporter, no extra layer, and the
//! debug-level spans below stay disabled at their call sites.
//!
//! Contexts travel as W3C trace context: `traceparent` in the outbox row, the CloudEvents
//! distributed-tracing extension and the AMQP headers (see [`continue_from`] and
//! [`TracedPublisher`]). In JSON logs a line written inside a traced span carries `trace_id` and
//! `span_id`.

use std::{
    cell::RefCell,
    collections::HashMap,
    io::IsTerminal as _,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use async_trait::async_trait;
use opentelemetry::{
    Context, KeyValue,
    propagation::TextMapPropagator as _,
    trace::{SpanId, TraceContextExt as _, TraceId, TracerProvider as _},
};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::{
    Resource, propagation::TraceContextPropagator, runtime::Tokio, trace::SdkTracerProvider,
    trace::span_processor_with_async_runtime::BatchSpanProcessor,
};
use tracing::{Span, Subscriber, span::Id};
use tracing_opentelemetry::{OpenTelemetrySpanExt as _, OtelData};
use tracing_subscriber::{
    EnvFilter, Layer, Registry,
    filter::{FilterExt as _, Targets, filter_fn},
    fmt::{self, FmtContext, FormatEvent, FormatFields, format::Writer},
    layer::Context as LayerContext,
    prelude::*,
    registry::LookupSpan,
};

use crate::{
    config::LogFormat,
    messaging::CloudEvent,
    ports::{EventPublisher, PublishError},
};

/// Whether spans are exported; set once by [`init`]. Everything that costs something only for
/// traces (reading and writing `traceparent`, naming spans) looks at it first.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether an OTLP exporter is installed.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Why logging or tracing could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("SHOP_LOG: invalid filter {filter:?}: {message}")]
    Filter { filter: String, message: String },
    #[error("OTEL_EXPORTER_OTLP_ENDPOINT: cannot set up the trace exporter: {0}")]
    Exporter(String),
}

/// Keeps the tracer provider; [`Telemetry::shutdown`] exports the spans still buffered.
#[derive(Debug, Default)]
#[must_use = "call shutdown() before exiting, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are being exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports what is buffered and stops the exporter. Call it after the async runtime's work
    /// is done but while the runtime still runs (the exporter is a task on it), from outside
    /// the runtime (it blocks).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            eprintln!("warning: could not export the last spans: {error}");
        }
    }
}

/// The variables that turn tracing on: either endpoint, non-empty.
fn endpoint_configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()))
        && !std::env::var("OTEL_SDK_DISABLED").is_ok_and(|value| value.eq_ignore_ascii_case("true"))
}

/// Installs the global subscriber: the logger, plus the OpenTelemetry layer when an OTLP endpoint
/// is configured. `service` names the service unless `OTEL_SERVICE_NAME` or
/// `OTEL_RESOURCE_ATTRIBUTES` does. With tracing on it must be called inside a Tokio runtime
/// (`Runtime::enter`): the batch exporter is a task on it.
///
/// A subscriber already in place (as in some tests) stays; that is not an error.
pub fn init(
    service: &'static str,
    format: LogFormat,
    filter: &str,
) -> Result<Telemetry, TelemetryError> {
    let env_filter = EnvFilter::try_new(filter).map_err(|error| TelemetryError::Filter {
        filter: filter.to_owned(),
        message: error.to_string(),
    })?;
    let ansi = std::io::stderr().is_terminal();
    if !endpoint_configured() {
        // Exactly the plain logger: the filter is global, so disabled spans cost nothing.
        let builder = tracing_subscriber::fmt()
            .with_env_filter(env_filter)
            .with_writer(std::io::stderr)
            // Colour codes only help a person at a terminal; in files and pipes they are noise.
            .with_ansi(ansi);
        let _ = match format {
            LogFormat::Text => builder.try_init(),
            LogFormat::Json => builder.json().flatten_event(true).try_init(),
        };
        return Ok(Telemetry::default());
    }
    let provider = provider(service)?;
    let tracer = provider.tracer("shop");
    // The exporter sees spans only (log events do not become span events), from every level
    // our crates use for them; the logger keeps its own filter, so logs read as without tracing.
    let traced = Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("shop_core", tracing::Level::DEBUG)
        .with_target("shop_api", tracing::Level::DEBUG)
        .with_target("shop_workers", tracing::Level::DEBUG);
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // Per-span extras that cost on every poll or span (busy/idle clocks, thread and
        // source-location attributes) and that a request's trace does not need.
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_filter(filter_fn(|metadata| metadata.is_span()).and(traced))
        .boxed();
    let logger = match format {
        LogFormat::Text => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .with_filter(env_filter)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .event_format(WithTraceIds(fmt::format().json().flatten_event(true)))
            .with_filter(env_filter)
            .boxed(),
    };
    // Order matters: the OpenTelemetry layer builds a span's context on enter, then
    // `CurrentIds` reads it.
    let layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> =
        vec![otel, CurrentIds.boxed(), logger];
    if tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .is_err()
    {
        // Someone else's subscriber is in place; ours would never see a span.
        let _ = provider.shutdown();
        return Ok(Telemetry::default());
    }
    ENABLED.store(true, Ordering::Relaxed);
    Ok(Telemetry {
        provider: Some(provider),
    })
}

fn provider(service: &'static str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .map_err(|error| TelemetryError::Exporter(error.to_string()))?;
    // The SDK's detectors read OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; our name is the
    // fallback for when neither names the service.
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|name| !name.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES")
            .is_ok_and(|attributes| attributes.contains("service.name="));
    let mut resource = Resource::builder();
    if !named {
        resource = resource.with_service_name(service);
    }
    let resource = resource
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    // The batch processor as a Tokio task, so the exporter can use the async HTTP client; its
    // settings come from OTEL_BSP_* (the sampler from OTEL_TRACES_SAMPLER in the default config).
    let processor = BatchSpanProcessor::builder(exporter, Tokio).build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource)
        .build())
}

/// A span entered on this thread and the ids it logs under.
type EnteredIds = (Id, Option<(TraceId, SpanId)>);

thread_local! {
    /// The trace and span ids of the spans entered on this thread, innermost last, for the JSON
    /// log lines (the logger's own view of spans is limited by its filter).
    static CURRENT_IDS: RefCell<Vec<EnteredIds>> = const { RefCell::new(Vec::new()) };
}

/// Tracks [`CURRENT_IDS`].
struct CurrentIds;

impl<S> Layer<S> for CurrentIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let own = ctx.span(id).and_then(|span| {
            let extensions = span.extensions();
            let data = extensions.get::<OtelData>()?;
            Some((data.trace_id()?, data.span_id()?))
        });
        CURRENT_IDS.with(|stack| {
            let mut stack = stack.borrow_mut();
            // A span the exporter does not see logs under its nearest traced ancestor's ids.
            let ids = own.or_else(|| stack.last().and_then(|(_, ids)| *ids));
            stack.push((id.clone(), ids));
        });
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        CURRENT_IDS.with(|stack| {
            let mut stack = stack.borrow_mut();
            if let Some(position) = stack.iter().rposition(|(entered, _)| entered == id) {
                stack.remove(position);
            }
        });
    }
}

/// The JSON line of the wrapped format with `trace_id` and `span_id` added when the event
/// happens inside a span with a valid context.
struct WithTraceIds<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let ids = CURRENT_IDS.with(|stack| stack.borrow().last().and_then(|(_, ids)| *ids));
        let Some((trace_id, span_id)) =
            ids.filter(|(trace, span)| *trace != TraceId::INVALID && *span != SpanId::INVALID)
        else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        // The line is one JSON object and a newline: the ids go in before the closing brace.
        match line.trim_end().strip_suffix('}') {
            Some(object) => {
                let separator = if object.trim_end().ends_with('{') {
                    ""
                } else {
                    ","
                };
                writeln!(
                    writer,
                    "{object}{separator}\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}"
                )
            }
            None => writer.write_str(&line),
        }
    }
}

/// The W3C headers of `context` (`traceparent`, and `tracestate` when not empty).
fn headers_of(context: &Context) -> Option<(String, Option<String>)> {
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(context, &mut carrier);
    let traceparent = carrier.remove("traceparent")?;
    let tracestate = carrier
        .remove("tracestate")
        .filter(|state| !state.is_empty());
    Some((traceparent, tracestate))
}

/// The `traceparent` of the current span, for an outbox row; `None` when tracing is off or no
/// traced span is current.
pub fn current_traceparent() -> Option<String> {
    if !enabled() {
        return None;
    }
    headers_of(&Span::current().context()).map(|(traceparent, _)| traceparent)
}

/// The `traceparent` and `tracestate` of `span`, for a message's headers.
pub fn trace_headers(span: &Span) -> Option<(String, Option<String>)> {
    if !enabled() {
        return None;
    }
    headers_of(&span.context())
}

/// Makes the remote context in `traceparent`/`tracestate` the parent of `span` (which must not
/// have been entered yet). An absent or malformed `traceparent` leaves `span` where it is.
pub fn continue_from(span: &Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    if !enabled() {
        return;
    }
    let Some(traceparent) = traceparent else {
        return;
    };
    let mut carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    if let Some(tracestate) = tracestate {
        carrier.insert("tracestate".to_owned(), tracestate.to_owned());
    }
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// [`continue_from`] the `traceparent` and `tracestate` that `header` finds (an HTTP request's
/// headers, a gRPC call's metadata); `header` is not even asked when tracing is off.
pub fn continue_from_headers<'a>(span: &Span, header: impl Fn(&str) -> Option<&'a str>) {
    if enabled() {
        continue_from(span, header("traceparent"), header("tracestate"));
    }
}

/// Renames `span` in traces, also after it has started (when recording `otel.name` no longer
/// does): a request span learns its route template only once routing is done.
pub fn rename(span: &Span, name: String) {
    if enabled() {
        span.context().span().update_name(name);
    }
}

/// The span of one worker handling one event: a child of the span that published it.
/// `system` is the bus it came through (`rabbitmq`, or `in-process` on the embedded default).
pub fn consumer_span(
    system: &'static str,
    worker: &'static str,
    event: &CloudEvent,
    traceparent: Option<&str>,
    tracestate: Option<&str>,
) -> Span {
    let span = tracing::debug_span!(
        "handle",
        otel.name = %format_args!("{worker} process {}", event.event_type),
        otel.kind = "consumer",
        messaging.system = system,
        messaging.operation.type = "process",
        messaging.message.id = %event.id,
        worker,
    );
    continue_from(
        &span,
        traceparent.or(event.traceparent.as_deref()),
        tracestate.or(event.tracestate.as_deref()),
    );
    span
}

/// Wraps the relay's publisher: one `publish` span per event, a child of the span that wrote the
/// outbox row, whose context the published envelope then carries. Without tracing it is the
/// publisher itself.
pub fn traced_publisher(inner: Arc<dyn EventPublisher>) -> Arc<dyn EventPublisher> {
    if enabled() {
        Arc::new(TracedPublisher { inner })
    } else {
        inner
    }
}

/// See [`traced_publisher`].
pub struct TracedPublisher {
    inner: Arc<dyn EventPublisher>,
}

impl std::fmt::Debug for TracedPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedPublisher")
            .field("backend", &self.inner.backend())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl EventPublisher for TracedPublisher {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn publish(&self, events: &[CloudEvent]) -> Result<(), PublishError> {
        let backend = self.inner.backend();
        // The spans stay open until the whole batch is confirmed: that is each event's publish.
        let (spans, events): (Vec<Span>, Vec<CloudEvent>) = events
            .iter()
            .map(|event| {
                let span = tracing::debug_span!(
                    "publish",
                    otel.name = %format_args!("publish {}", event.event_type),
                    otel.kind = "producer",
                    messaging.system = backend,
                    messaging.operation.type = "send",
                    messaging.destination.name = crate::messaging::EXCHANGE,
                    messaging.message.id = %event.id,
                );
                continue_from(
                    &span,
                    event.traceparent.as_deref(),
                    event.tracestate.as_deref(),
                );
                let mut event = event.clone();
                if let Some((traceparent, tracestate)) = trace_headers(&span) {
                    event.traceparent = Some(traceparent);
                    event.tracestate = tracestate;
                }
                (span, event)
            })
            .unzip();
        let result = self.inner.publish(&events).await;
        if let Err(error) = &result {
            for span in &spans {
                span.set_status(opentelemetry::trace::Status::error(error.to_string()));
            }
        }
        result
    }
}
