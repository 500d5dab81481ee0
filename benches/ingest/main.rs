//! The ingest benchmark: realistic LLM-app traffic played against the real
//! `reprise serve` binary over OTLP/HTTP, reporting throughput, latency,
//! memory and storage efficiency.
//!
//! A run has four parts, each in its own module. [`traffic`] generates a
//! seeded, deterministic workload in memory (users of several services in
//! multi-turn chats, with text from [`text`]), in the OTel GenAI 1.37+
//! convention of [`spans`] or, with `--workload openinference`, in the
//! OpenInference one of [`openinference`] (with RAG retrievals from
//! [`knowledge`]); [`batches`] encodes it into export requests before any
//! clock starts. [`server`] spawns the binary on a fresh database in a
//! temporary directory, and [`transport`] posts the requests from
//! concurrent clients, retrying 429/503 as told, until every one is
//! acknowledged; then [`backlog`] polls `/healthz` until the server owes
//! no more work, which ends the end-to-end time (calls may be derived
//! behind the acknowledgement). With `--rate`, the requests go at a steady
//! rate instead and [`freshness`] measures how soon acknowledged exports
//! are queryable as calls. After a clean shutdown (SIGTERM), [`storage`]
//! measures the files on disk against the raw protobuf and against the
//! whole workload compressed as one stream by `zstd -3` and by `zstd -19
//! --long=27`, the same workload's multi-turn chats are ingested again on
//! their own database to price them per call, and [`verify`] reads a
//! sample of traces and their calls back from a restarted server.
//! [`report`] prints a table and writes JSON.
//!
//! Run it with `cargo bench --bench ingest -- --spans 20000`. `cargo bench`
//! passes `--bench`; without it and without `--spans` (as when `cargo test
//! --benches` runs it), the run is a small smoke test of the whole path.
//! With `--stages`, [`stages`] times each step of the ingest path in this
//! process instead, without a server.

// The choke points of clippy.toml hold the library; tests and benchmarks
// read clocks, environment variables and gzip freely.
#![allow(clippy::disallowed_methods)]

mod backlog;
mod batches;
mod catalog;
mod error;
mod freshness;
mod knowledge;
mod openinference;
mod report;
mod rng;
mod selfcheck;
mod server;
mod spans;
mod stages;
mod storage;
mod text;
mod traffic;
mod transport;
mod verify;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;

use crate::batches::Request;
use crate::error::BenchError;
use crate::report::{
    FreshnessStats, IngestStats, Report, SegmentStats, Settings, StorageStats, VerifiedStats,
    WorkloadStats, ZstdStats, percentile_ms, ratio,
};
use crate::storage::{DiskUsage, TableSize, ZstdBaseline};
use crate::traffic::{Convention, SampledTrace, Workload};

const DEFAULT_SPANS: usize = 100_000;
/// Spans in a smoke run (no `--bench`, no `--spans`).
const SMOKE_SPANS: usize = 600;

/// Benchmark OTLP/HTTP ingest of LLM traffic into a real `reprise serve`.
#[derive(Debug, Parser)]
#[command(name = "ingest-bench", bin_name = "cargo bench --bench ingest --")]
struct Args {
    /// Spans to generate and send [default: 100000; 600 outside `cargo bench`].
    #[arg(long)]
    spans: Option<usize>,
    /// The conventions the spans are written in.
    #[arg(long, value_enum, default_value_t = Convention::GenAi)]
    workload: Convention,
    /// Concurrent exporting clients [default: 8; 4 for openinference].
    #[arg(long)]
    clients: Option<usize>,
    /// Spans per export request [default: 200; 512 for openinference].
    #[arg(long)]
    batch: Option<usize>,
    /// Send at this many spans per second instead of as fast as the server
    /// acknowledges, and measure how soon acknowledged exports are
    /// queryable as calls.
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    /// Send request bodies gzip-compressed (`Content-Encoding: gzip`).
    #[arg(long)]
    gzip: bool,
    /// Seed of the workload: the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Skip the `zstd -19 --long=27` baseline (it takes a while on big runs).
    #[arg(long)]
    skip_zstd: bool,
    /// Skip the second run that prices the multi-turn chats on their own.
    #[arg(long)]
    skip_multi_turn: bool,
    /// The `reprise` binary [default: the one cargo built for this bench,
    /// else target/release/reprise].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// An extra argument for `reprise serve`; repeat for more
    /// (e.g. `--server-arg=--fsync=os`).
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Keep the temporary directory with the databases and server logs.
    #[arg(long)]
    keep_db: bool,
    /// Where to create the temporary directory (the disk under test)
    /// [default: the system's temporary directory].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Generate the workload, print its figures and stop; no server.
    #[arg(long)]
    dry_run: bool,
    /// Generate the workload, then time each step of the ingest path on it
    /// in this process (no server, no SQL) and stop.
    #[arg(long)]
    stages: bool,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    /// `--clients`, else the workload's default: OpenInference exporters
    /// are usually a few app processes sending big batches.
    fn clients(&self) -> usize {
        let default = match self.workload {
            Convention::GenAi => 8,
            Convention::OpenInference => 4,
        };
        self.clients.unwrap_or(default).max(1)
    }

    /// `--batch`, else the workload's default (the Python SDK's
    /// `BatchSpanProcessor` exports up to 512 spans at a time).
    fn batch(&self) -> usize {
        let default = match self.workload {
            Convention::GenAi => 200,
            Convention::OpenInference => 512,
        };
        self.batch.unwrap_or(default).max(1)
    }
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a positive number of spans per second"
        )),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), BenchError> {
    let smoke = args.spans.is_none() && !args.bench;
    let spans_requested = match args.spans {
        Some(spans) => spans,
        None if args.bench => DEFAULT_SPANS,
        None => {
            eprintln!("no --bench and no --spans: smoke run with {SMOKE_SPANS} spans");
            SMOKE_SPANS
        }
    };
    let batch = args.batch();

    eprintln!(
        "generating {spans_requested} {} spans (seed {})",
        workload_name(args.workload),
        args.seed
    );
    let started = Instant::now();
    let workload = traffic::generate(spans_requested, args.seed, args.workload);
    let requests = batches::build_requests(&workload, |_| true, batch);
    let workload_stats = workload_stats(&workload, &requests, started.elapsed());
    if smoke {
        let again = traffic::generate(spans_requested, args.seed, args.workload);
        let again = batches::build_requests(&again, |_| true, batch);
        selfcheck::same_digest(&workload_stats.digest, &selfcheck::digest(&again))?;
        selfcheck::content_is_valid(&workload)?;
        eprintln!("self-check: the workload is deterministic and its content attributes are valid");
    }
    eprintln!(
        "workload {}: {} spans, {} LLM calls, {:.1} MB raw protobuf, {:.0} B per span, {} requests",
        workload_stats.digest,
        workload_stats.spans,
        workload_stats.llm_calls,
        workload_stats.raw_protobuf_bytes as f64 / 1e6,
        workload_stats.raw_bytes_per_span,
        workload_stats.requests
    );
    if args.dry_run {
        return Ok(());
    }
    if args.stages {
        let bodies: Vec<Bytes> = requests
            .iter()
            .map(|r| Bytes::from(r.body.clone()))
            .collect();
        return stages::measure(&bodies, workload_stats.spans);
    }

    let server_bin = server_bin(&args);
    let mut builder = tempfile::Builder::new();
    builder.prefix("reprise-bench-");
    let dir = match &args.work_dir {
        Some(parent) => builder.tempdir_in(parent),
        None => builder.tempdir(),
    }
    .map_err(BenchError::io("cannot create a temporary directory"))?;
    let pace = args.rate.map(|rate| Pace {
        interval: Duration::from_secs_f64(batch as f64 / rate),
        probe_traces: Arc::new(requests.iter().map(|r| r.probe_trace.clone()).collect()),
    });
    let raw_bodies: Vec<Bytes> = requests.into_iter().map(|r| Bytes::from(r.body)).collect();

    eprintln!(
        "ingesting with {} clients into {}{}",
        args.clients(),
        dir.path().display(),
        args.rate
            .map(|rate| format!(" at {rate:.0} spans/s"))
            .unwrap_or_default()
    );
    let main_db = dir.path().join("bench.db");
    let sent = bodies_to_send(&raw_bodies, args.gzip)?;
    let main_run = ingest_run(
        &server_bin,
        &main_db,
        &args,
        sent,
        Some(&workload.samples),
        pace,
    )
    .await?;

    let multi_turn = if args.skip_multi_turn {
        None
    } else {
        eprintln!("ingesting the multi-turn chats alone");
        Some(multi_turn_run(&workload, &server_bin, dir.path(), &args).await?)
    };

    eprintln!("compressing the workload with zstd -3");
    let zstd_fast = storage::zstd_stream(&raw_bodies, 3)?;
    let zstd = if args.skip_zstd {
        None
    } else {
        eprintln!("compressing the workload with zstd -19 --long=27");
        Some(storage::zstd_baseline(&raw_bodies, dir.path())?)
    };

    let report = build_report(
        &args,
        spans_requested,
        &server_bin,
        workload_stats,
        main_run,
        Baselines { zstd_fast, zstd },
        multi_turn,
    );
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", report::table(&report));
    let _ = stdout.flush();
    if let Some(path) = &args.json_out {
        report::write_json(&report, path)?;
        eprintln!("wrote {}", path.display());
    }
    if args.keep_db {
        let kept = dir.keep();
        eprintln!("kept {}", kept.display());
    }
    Ok(())
}

fn workload_name(convention: Convention) -> &'static str {
    match convention {
        Convention::GenAi => "GenAI",
        Convention::OpenInference => "OpenInference",
    }
}

fn server_bin(args: &Args) -> PathBuf {
    if let Some(path) = &args.server_bin {
        return path.clone();
    }
    // Cargo sets this for benches, pointing at the binary it built for them.
    if let Some(path) = option_env!("CARGO_BIN_EXE_reprise") {
        return PathBuf::from(path);
    }
    PathBuf::from("target/release/reprise")
}

fn workload_stats(
    workload: &Workload,
    requests: &[Request],
    generation: Duration,
) -> WorkloadStats {
    let mut raw_protobuf_bytes = 0;
    let mut spans = 0;
    let mut llm_calls = 0;
    for request in requests {
        raw_protobuf_bytes += request.body.len() as u64;
        spans += request.spans;
        llm_calls += request.llm_calls;
    }
    WorkloadStats {
        digest: selfcheck::digest(requests),
        spans,
        llm_calls,
        traces: workload.traces,
        conversations: workload.conversations,
        requests: requests.len(),
        raw_protobuf_bytes,
        raw_bytes_per_span: ratio(raw_protobuf_bytes as f64, spans as f64),
        vocabulary_words: workload.vocabulary_words,
        system_prompts: workload.system_prompt_bytes.len(),
        system_prompt_bytes_min: workload
            .system_prompt_bytes
            .iter()
            .copied()
            .min()
            .unwrap_or(0),
        system_prompt_bytes_max: workload
            .system_prompt_bytes
            .iter()
            .copied()
            .max()
            .unwrap_or(0),
        generation,
    }
}

/// The bodies as they go on the wire, compressed before the clock starts.
fn bodies_to_send(raw: &[Bytes], gzip: bool) -> Result<Arc<Vec<Bytes>>, BenchError> {
    if !gzip {
        return Ok(Arc::new(raw.to_vec()));
    }
    let mut compressed = Vec::with_capacity(raw.len());
    for body in raw {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(body)
            .map_err(BenchError::io("cannot gzip a request body"))?;
        let bytes = encoder
            .finish()
            .map_err(BenchError::io("cannot gzip a request body"))?;
        compressed.push(Bytes::from(bytes));
    }
    Ok(Arc::new(compressed))
}

/// `--rate`: how the main run is paced and probed.
struct Pace {
    /// Between the scheduled starts of consecutive requests.
    interval: Duration,
    /// Per request, the trace whose call shows it queryable.
    probe_traces: Arc<Vec<Option<String>>>,
}

/// What one server run measured.
struct RunResult {
    outcome: transport::Outcome,
    drained: backlog::Drained,
    freshness: Option<freshness::Freshness>,
    memory: server::MemoryPeaks,
    disk: DiskUsage,
    tables: Option<Vec<TableSize>>,
    verified: Option<verify::Verified>,
    load_average_before: Option<f64>,
    load_average_after: Option<f64>,
    /// CPU seconds the server used while the bodies were sent.
    server_cpu_seconds: Option<f64>,
    /// … and until its backlog was empty.
    server_cpu_seconds_end_to_end: Option<f64>,
}

/// What sending measured, up to the empty backlog.
struct Sent {
    outcome: transport::Outcome,
    drained: backlog::Drained,
    freshness: Option<freshness::Freshness>,
    cpu_acknowledged: Option<f64>,
    cpu_drained: Option<f64>,
}

/// Starts a server on `db`, sends `bodies` (paced and probed given
/// `pace`), waits for its backlog to empty, stops it cleanly and measures
/// the files; then, given `samples`, restarts it and reads them back.
async fn ingest_run(
    server_bin: &Path,
    db: &Path,
    args: &Args,
    bodies: Arc<Vec<Bytes>>,
    samples: Option<&[SampledTrace]>,
    pace: Option<Pace>,
) -> Result<RunResult, BenchError> {
    let log = db.with_extension("log");
    let server = server::start(server_bin, db, &args.server_args, &log).await?;
    let sampler = server::MemorySampler::start(server.pid);
    let load_average_before = server::load_average();
    let cpu_before = server::cpu_seconds(server.pid);
    let sent = send_and_drain(&server, bodies, args, pace).await;
    let load_average_after = server::load_average();
    let memory = sampler.finish(server.pid);
    // Stop the server even when sending failed, so no process outlives the run.
    let stopped = server.stop().await;
    let sent = sent?;
    stopped?;
    let disk = storage::disk_usage(db);
    let tables = storage::table_sizes(db);

    let verified = match samples {
        None => None,
        Some(samples) => {
            let server = server::start(server_bin, db, &args.server_args, &log).await?;
            let checked = verify::read_back(&server.http_url, samples).await;
            let stopped = server.stop().await;
            let checked = checked?;
            stopped?;
            Some(checked)
        }
    };
    let since_start = |after: Option<f64>| after.zip(cpu_before).map(|(a, b)| a - b);
    Ok(RunResult {
        outcome: sent.outcome,
        drained: sent.drained,
        freshness: sent.freshness,
        memory,
        disk,
        tables,
        verified,
        load_average_before,
        load_average_after,
        server_cpu_seconds: since_start(sent.cpu_acknowledged),
        server_cpu_seconds_end_to_end: since_start(sent.cpu_drained),
    })
}

/// Sends every body, then polls the server until its backlog is empty.
async fn send_and_drain(
    server: &server::ServerProcess,
    bodies: Arc<Vec<Bytes>>,
    args: &Args,
    pace: Option<Pace>,
) -> Result<Sent, BenchError> {
    let (interval, probing) = match pace {
        None => (None, None),
        Some(pace) => (
            Some(pace.interval),
            Some(freshness::start(&server.http_url, pace.probe_traces)),
        ),
    };
    let options = transport::SendOptions {
        clients: args.clients(),
        gzip: args.gzip,
        interval,
        acks: probing.as_ref().map(|(acks, _)| acks.clone()),
    };
    let outcome = transport::send_all(&server.http_url, bodies, options).await;
    let cpu_acknowledged = server::cpu_seconds(server.pid);
    let outcome = outcome?;
    // No more picks once everything is acknowledged; the probes under way
    // finish by the time the backlog is empty, so they are awaited after
    // it, not before (that would delay the end of the end-to-end time).
    let probes = probing.map(|(acks, handle)| {
        drop(acks);
        handle
    });
    let drained = backlog::wait_until_drained(&reqwest::Client::new(), &server.http_url).await?;
    let cpu_drained = server::cpu_seconds(server.pid);
    let freshness = match probes {
        None => None,
        Some(handle) => Some(handle.await.map_err(BenchError::Join)??),
    };
    Ok(Sent {
        outcome,
        drained,
        freshness,
        cpu_acknowledged,
        cpu_drained,
    })
}

/// Ingests only the spans of multi-turn conversations on a fresh database.
async fn multi_turn_run(
    workload: &Workload,
    server_bin: &Path,
    dir: &Path,
    args: &Args,
) -> Result<SegmentStats, BenchError> {
    let requests = batches::build_requests(workload, |span| span.multi_turn, args.batch());
    let mut spans = 0;
    let mut llm_calls = 0;
    let mut raw_protobuf_bytes = 0;
    let mut raw_bodies = Vec::with_capacity(requests.len());
    for request in requests {
        spans += request.spans;
        llm_calls += request.llm_calls;
        raw_protobuf_bytes += request.body.len() as u64;
        raw_bodies.push(Bytes::from(request.body));
    }
    let sent = bodies_to_send(&raw_bodies, args.gzip)?;
    drop(raw_bodies);
    let run = ingest_run(
        server_bin,
        &dir.join("multi-turn.db"),
        args,
        sent,
        None,
        None,
    )
    .await?;
    Ok(SegmentStats {
        spans,
        llm_calls,
        raw_protobuf_bytes,
        raw_bytes_per_llm_call: ratio(raw_protobuf_bytes as f64, llm_calls as f64),
        disk: run.disk,
        disk_bytes_per_llm_call: ratio(run.disk.total_bytes as f64, llm_calls as f64),
        logical_bytes_per_llm_call: run
            .tables
            .as_deref()
            .map(|tables| ratio(storage::logical_bytes(tables) as f64, llm_calls as f64)),
        ratio_to_raw: ratio(run.disk.total_bytes as f64, raw_protobuf_bytes as f64),
        wall: run.outcome.wall,
    })
}

/// The compressors the disk is compared with.
struct Baselines {
    /// `zstd -3` of the workload as one stream.
    zstd_fast: ZstdBaseline,
    /// `zstd -19 --long=27`, unless skipped.
    zstd: Option<ZstdBaseline>,
}

fn build_report(
    args: &Args,
    spans_requested: usize,
    server_bin: &Path,
    workload: WorkloadStats,
    run: RunResult,
    baselines: Baselines,
    multi_turn: Option<SegmentStats>,
) -> Report {
    let mut latencies = run.outcome.latencies;
    latencies.sort_unstable();
    let wall_seconds = run.outcome.wall.as_secs_f64();
    let end_to_end = run.drained.at - run.outcome.started;
    let raw = workload.raw_protobuf_bytes as f64;
    let disk_total = run.disk.total_bytes as f64;
    let per_span = |seconds: Option<f64>| seconds.map(|s| ratio(s * 1e6, workload.spans as f64));
    let ingest = IngestStats {
        wall: run.outcome.wall,
        spans_per_second: ratio(workload.spans as f64, wall_seconds),
        end_to_end,
        end_to_end_spans_per_second: ratio(workload.spans as f64, end_to_end.as_secs_f64()),
        backlog_at_last_ack: run.drained.first,
        raw_mb_per_second: ratio(raw / 1e6, wall_seconds),
        wire_bytes: run.outcome.wire_bytes,
        latency_p50_ms: percentile_ms(&latencies, 0.50),
        latency_p99_ms: percentile_ms(&latencies, 0.99),
        latency_max_ms: percentile_ms(&latencies, 1.0),
        spans_per_second_by_tenth: report::rate_by_tenth(
            run.outcome.ack_times,
            ratio(workload.spans as f64, workload.requests as f64),
        ),
        status_429: run.outcome.status_429,
        status_503: run.outcome.status_503,
        peak_rss_bytes: run.memory.rss_kib * 1024,
        peak_anon_bytes: run.memory.anon_kib * 1024,
        load_average_before: run.load_average_before,
        load_average_after: run.load_average_after,
        server_cpu_seconds: run.server_cpu_seconds,
        server_cpu_us_per_span: per_span(run.server_cpu_seconds),
        server_cpu_seconds_end_to_end: run.server_cpu_seconds_end_to_end,
        server_cpu_us_per_span_end_to_end: per_span(run.server_cpu_seconds_end_to_end),
    };
    let storage = StorageStats {
        disk: run.disk,
        bytes_per_span: ratio(disk_total, workload.spans as f64),
        bytes_per_llm_call: ratio(disk_total, workload.llm_calls as f64),
        ratio_to_raw: ratio(disk_total, raw),
        logical_bytes: run.tables.as_deref().map(storage::logical_bytes),
        tables: run.tables,
    };
    let compared = |command: &'static str, baseline: ZstdBaseline| ZstdStats {
        command,
        bytes_per_span: ratio(baseline.compressed_bytes as f64, workload.spans as f64),
        ratio_to_raw: ratio(baseline.compressed_bytes as f64, raw),
        disk_over_zstd: ratio(disk_total, baseline.compressed_bytes as f64),
        baseline,
    };
    let zstd_fast = compared("zstd -3", baselines.zstd_fast);
    let zstd = baselines
        .zstd
        .map(|baseline| compared("zstd -19 --long=27", baseline));
    let freshness = run.freshness.map(freshness_stats);
    let verified = run.verified.map_or(
        VerifiedStats {
            traces: 0,
            spans: 0,
            calls_expected: 0,
            calls_found: 0,
            after_restart: false,
        },
        |v| VerifiedStats {
            traces: v.traces,
            spans: v.spans,
            calls_expected: v.calls_expected,
            calls_found: v.calls_found,
            after_restart: true,
        },
    );
    Report {
        settings: Settings {
            workload: args.workload,
            spans_requested,
            clients: args.clients(),
            batch_spans: args.batch(),
            rate_spans_per_second: args.rate,
            gzip: args.gzip,
            seed: args.seed,
            server_bin: server_bin.display().to_string(),
            server_args: args.server_args.clone(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        },
        workload,
        ingest,
        storage,
        zstd,
        zstd_fast,
        multi_turn,
        freshness,
        verified,
    }
}

fn freshness_stats(freshness: freshness::Freshness) -> FreshnessStats {
    let mut latencies = freshness.latencies;
    latencies.sort_unstable();
    FreshnessStats {
        probes: latencies.len() + freshness.timed_out,
        timed_out: freshness.timed_out,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        max_ms: percentile_ms(&latencies, 1.0),
    }
}
