//! Redaction cost: every captured OTLP trace fixture, decoded and
//! converted once, then redacted many times over with the built-in policy
//! (secrets only) and with every detector on. Prints microseconds per span
//! and per log record, the figure that says what redaction adds to ingest.
//!
//! ```sh
//! cargo bench --bench redact
//! ```

// The choke points of clippy.toml hold the library; tests and benchmarks
// read clocks, environment variables and gzip freely.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::time::Instant;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use reprise::ingest::limits::Limits;
use reprise::ingest::otlp::convert;
use reprise::model::telemetry::{LogGroup, SpanGroup};
use reprise::redact::{self, Redactor};

/// Passes over the whole fixture set per measurement.
const ROUNDS: usize = 200;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp");
    let (spans, logs) = load(&root);
    let span_count: usize = spans.iter().map(|g| g.spans.len()).sum();
    let log_count: usize = logs.iter().map(|g| g.records.len()).sum();
    println!("fixtures: {span_count} spans, {log_count} log records, {ROUNDS} rounds");

    let built_in = Redactor::built_in();
    let everything = match redact::config::parse(
        "[default]\ndetectors = [\"secrets\", \"email\", \"card\", \"phone\"]\n",
    ) {
        Ok(redactor) => redactor,
        Err(error) => {
            eprintln!("error: {error}");
            panic!("no fixtures at {}", root.display());
        }
    };
    for (name, redactor) in [
        ("secrets (default)", &built_in),
        ("every detector", &everything),
    ] {
        let policy = redactor.policy_for("default");
        let started = Instant::now();
        let mut changed = 0;
        for _ in 0..ROUNDS {
            let mut groups = spans.clone();
            changed += policy.redact_span_groups(&mut groups);
        }
        let span_total = started.elapsed();
        let started = Instant::now();
        for _ in 0..ROUNDS {
            let mut groups = logs.clone();
            changed += policy.redact_log_groups(&mut groups);
        }
        let log_total = started.elapsed();
        // The clone is part of the loop; measure it alone to subtract it.
        let started = Instant::now();
        for _ in 0..ROUNDS {
            std::hint::black_box(spans.clone());
        }
        let clone_spans = started.elapsed();
        let started = Instant::now();
        for _ in 0..ROUNDS {
            std::hint::black_box(logs.clone());
        }
        let clone_logs = started.elapsed();
        let per_span = (span_total.saturating_sub(clone_spans)).as_secs_f64() * 1e6
            / (ROUNDS * span_count.max(1)) as f64;
        let per_log = (log_total.saturating_sub(clone_logs)).as_secs_f64() * 1e6
            / (ROUNDS * log_count.max(1)) as f64;
        println!(
            "{name:<18} {per_span:>7.2} µs/span  {per_log:>7.2} µs/log record  ({} strings changed per round)",
            changed / ROUNDS
        );
    }
}

fn load(root: &Path) -> (Vec<SpanGroup>, Vec<LogGroup>) {
    let limits = Limits::default();
    let mut spans = Vec::new();
    let mut logs = Vec::new();
    let Ok(dirs) = std::fs::read_dir(root) else {
        panic!("no fixtures at {}", root.display());
    };
    for dir in dirs.flatten() {
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            let name = path.to_string_lossy().into_owned();
            if !name.ends_with(".pb") {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            if name.ends_with(".logs.pb") {
                if let Ok(request) = ExportLogsServiceRequest::decode(bytes.as_slice()) {
                    logs.extend(convert::convert_logs(request, &limits).groups);
                }
            } else if let Ok(request) = ExportTraceServiceRequest::decode(bytes.as_slice()) {
                spans.extend(convert::convert_traces(request, &limits).groups);
            }
        }
    }
    (spans, logs)
}
