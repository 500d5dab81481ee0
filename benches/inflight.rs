//! Memory of request bodies in flight: many concurrent gzip exports that
//! each decompress far beyond their size, over OTLP/HTTP and OTLP/gRPC at
//! once, against a server with the default `--max-inflight-mb` and against
//! one whose budget is set out of reach (as before there was one), side by
//! side. Reports per server: answers (ok / retry later / other), the peak
//! resident set size, and the resident size once the burst is over.
//!
//! ```sh
//! cargo build --release --bin reprise
//! cargo bench --bench inflight
//! ```

// The choke points of clippy.toml hold the library; tests and benchmarks
// read clocks, environment variables and gzip freely.
#![allow(clippy::disallowed_methods)]

#[path = "ingest/error.rs"]
#[allow(dead_code)]
mod error;
#[path = "ingest/server.rs"]
#[allow(dead_code)]
mod server;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;

#[derive(Debug, Parser)]
struct Args {
    /// Concurrent exports per transport.
    #[arg(long, default_value_t = 32)]
    concurrent: usize,
    /// Size of each export after decompression, in MB (inside the default
    /// per-request limit of half the budget).
    #[arg(long, default_value_t = 24)]
    expanded_mb: usize,
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Budgets (`--max-inflight-mb`) to measure, beside one out of reach.
    #[arg(long, value_delimiter = ',', default_values_t = [64])]
    budget_mb: Vec<u64>,
    /// Cargo passes `--bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Debug, Default)]
struct Outcome {
    ok: usize,
    retry_later: usize,
    other: usize,
    idle_rss_mib: u64,
    peak_rss_mib: u64,
    settled_rss_mib: u64,
}

/// One span per megabyte, each with a 1 MB attribute (inside the per-value
/// limit), so every export is valid and stored when it is let in.
fn export(expanded_mb: usize) -> ExportTraceServiceRequest {
    let spans = (0..expanded_mb)
        .map(|i| Span {
            trace_id: vec![1; 16],
            span_id: (i as u64 + 1).to_be_bytes().to_vec(),
            name: "large".into(),
            start_time_unix_nano: 1_765_000_000_000_000_000,
            end_time_unix_nano: 1_765_000_000_100_000_000,
            attributes: vec![KeyValue {
                key: "payload".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("a".repeat(1 << 20))),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

async fn burst(args: &Args, bin: &std::path::Path, budget_mb: u64) -> Outcome {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("reprise.db");
    let log = dir.path().join("server.log");
    let extra = vec!["--max-inflight-mb".to_owned(), budget_mb.to_string()];
    let server = server::start(bin, &db, &extra, &log)
        .await
        .expect("server starts");
    let request = export(args.expanded_mb);
    let body = gzip(&request.encode_to_vec());
    let idle_rss_mib = server::read_memory(server.pid).map_or(0, |m| m.rss_kib >> 10);
    let sampler = server::MemorySampler::start(server.pid);
    let client = reqwest::Client::new();
    let mut http = Vec::new();
    let mut grpc = Vec::new();
    for _ in 0..args.concurrent {
        let send = client
            .post(format!("{}/v1/traces", server.http_url))
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "gzip")
            .body(body.clone())
            .send();
        http.push(tokio::spawn(send));
        let endpoint = server.grpc_url.clone();
        let request = request.clone();
        grpc.push(tokio::spawn(async move {
            let mut client = TraceServiceClient::connect(endpoint)
                .await
                .expect("connect")
                .send_compressed(tonic::codec::CompressionEncoding::Gzip)
                .max_encoding_message_size(usize::MAX);
            client.export(request).await.map(|_| ())
        }));
    }
    let mut outcome = Outcome {
        idle_rss_mib,
        ..Outcome::default()
    };
    for task in http {
        match task.await.expect("task").map(|r| r.status().as_u16()) {
            Ok(200) => outcome.ok += 1,
            Ok(429) => outcome.retry_later += 1,
            _ => outcome.other += 1,
        }
    }
    for task in grpc {
        match task.await.expect("task") {
            Ok(()) => outcome.ok += 1,
            Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                outcome.retry_later += 1
            }
            Err(_) => outcome.other += 1,
        }
    }
    outcome.peak_rss_mib = sampler.finish(server.pid).rss_kib >> 10;
    // What the allocator gives back once the burst is over.
    tokio::time::sleep(Duration::from_secs(5)).await;
    outcome.settled_rss_mib = server::read_memory(server.pid).map_or(0, |m| m.rss_kib >> 10);
    server.stop().await.expect("server stops");
    outcome
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let bin = args.server_bin.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/reprise")
    });
    println!(
        "{} concurrent gzip exports per transport (HTTP and gRPC), {} MB each after decompression",
        args.concurrent, args.expanded_mb
    );
    println!("| budget | ok | retry later | other | RSS before | peak RSS | RSS 5 s later |");
    println!("|---|---|---|---|---|---|---|");
    let mut budgets: Vec<(String, u64)> = args
        .budget_mb
        .iter()
        .map(|mb| (format!("{mb} MB"), *mb))
        .collect();
    budgets.push(("out of reach".to_owned(), 1 << 20));
    for (label, budget_mb) in budgets {
        let outcome = burst(&args, &bin, budget_mb).await;
        println!(
            "| {label} | {} | {} | {} | {} MiB | {} MiB | {} MiB |",
            outcome.ok,
            outcome.retry_later,
            outcome.other,
            outcome.idle_rss_mib,
            outcome.peak_rss_mib,
            outcome.settled_rss_mib
        );
    }
}
