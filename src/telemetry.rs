//! reprise's own telemetry.
//!
//! Logs: structured, through `tracing`, to stderr. The level comes from
//! `RUST_LOG`, by default `info` for the server and `warn` for the other
//! commands, whose output is for people; colours only on a terminal;
//! `REPRISE_LOG_FORMAT=json` gives one JSON object per line.
//!
//! Traces: exported through `tracing-opentelemetry` when the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//! is set, with `OTEL_EXPORTER_OTLP_PROTOCOL` = `http/protobuf` (default),
//! `http/json` or `grpc`; `OTEL_SDK_DISABLED=true` turns it off. Only spans
//! of the API and replay paths are exported, never those of the ingest
//! path: pointed at itself (or at a collector that forwards back),
//! reprise would otherwise trace its own ingestion of its own traces, each
//! export causing the next.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// Targets whose spans may be exported: everything outside ingest.
const EXPORTED_TARGETS: &[&str] = &["reprise::api", "reprise::replay", "reprise::server"];

/// Keeps the trace exporter alive; flushes it when dropped.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Sets up logging at `default_level` unless `RUST_LOG` says otherwise, and
/// trace export if the environment asks for it. Call from inside the Tokio
/// runtime.
#[allow(
    clippy::disallowed_methods,
    reason = "the standard OTEL_* and RUST_LOG variables configure telemetry"
)]
pub fn init(default_level: &str) -> Telemetry {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let json = std::env::var("REPRISE_LOG_FORMAT").is_ok_and(|v| v == "json");
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let fmt = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let (provider, setup_error) = match tracer_provider() {
        Ok(provider) => (provider, None),
        Err(error) => (None, Some(error)),
    };
    let otel = provider.as_ref().map(|provider| {
        let targets = EXPORTED_TARGETS.iter().fold(Targets::new(), |t, target| {
            t.with_target(*target, LevelFilter::INFO)
        });
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("reprise"))
            .with_filter(targets)
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();
    if let Some(error) = setup_error {
        tracing::warn!(%error, "trace export is off: the OTEL_EXPORTER_OTLP_* settings are not usable");
    }
    Telemetry { provider }
}

#[allow(
    clippy::disallowed_methods,
    reason = "the standard OTEL_* and RUST_LOG variables configure telemetry"
)]
fn tracer_provider() -> Result<Option<SdkTracerProvider>, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let endpoint =
        var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"));
    if endpoint.is_none() {
        return Ok(None);
    }
    let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "http/protobuf".into());
    // The exporter reads the endpoint, headers, compression and timeout
    // variables itself; only the protocol decides which exporter to build.
    let exporter = match protocol.as_str() {
        "grpc" => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build(),
        "http/json" => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .build(),
        "http/protobuf" => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build(),
        other => return Err(format!("unknown OTEL_EXPORTER_OTLP_PROTOCOL {other:?}")),
    }
    .map_err(|e| e.to_string())?;
    let processor =
        BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    let resource = Resource::builder().with_service_name("reprise").build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource)
            .build(),
    ))
}
