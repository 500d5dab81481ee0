//! The results: one [`Report`] printed as a table for people and written
//! as JSON for scripts. MB are 10^6 bytes; latencies are milliseconds.

use std::path::Path;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::backlog::Backlog;
use crate::error::BenchError;
use crate::storage::{DiskUsage, TableSize, ZstdBaseline};
use crate::traffic::Convention;

#[derive(Debug, Serialize)]
pub struct Report {
    pub settings: Settings,
    pub workload: WorkloadStats,
    pub ingest: IngestStats,
    pub storage: StorageStats,
    /// `zstd -19 --long=27` of the whole workload.
    pub zstd: Option<ZstdStats>,
    /// `zstd -3` of the whole workload as one stream.
    pub zstd_fast: ZstdStats,
    pub multi_turn: Option<SegmentStats>,
    /// Only with `--rate`.
    pub freshness: Option<FreshnessStats>,
    pub verified: VerifiedStats,
}

#[derive(Debug, Serialize)]
pub struct Settings {
    pub workload: Convention,
    pub spans_requested: usize,
    pub clients: usize,
    pub batch_spans: usize,
    /// `--rate`: the offered load; `None` sends as fast as acknowledged.
    pub rate_spans_per_second: Option<f64>,
    pub gzip: bool,
    pub seed: u64,
    pub server_bin: String,
    pub server_args: Vec<String>,
    pub cpus: usize,
}

#[derive(Debug, Serialize)]
pub struct WorkloadStats {
    /// Names the exact bytes sent: equal digests, equal workloads.
    pub digest: String,
    pub spans: usize,
    pub llm_calls: usize,
    pub traces: usize,
    pub conversations: usize,
    pub requests: usize,
    pub raw_protobuf_bytes: u64,
    pub raw_bytes_per_span: f64,
    pub vocabulary_words: usize,
    pub system_prompts: usize,
    pub system_prompt_bytes_min: usize,
    pub system_prompt_bytes_max: usize,
    #[serde(serialize_with = "seconds")]
    pub generation: Duration,
}

#[derive(Debug, Serialize)]
pub struct IngestStats {
    /// From the first export to the last acknowledgement.
    #[serde(serialize_with = "seconds")]
    pub wall: Duration,
    /// Acknowledged spans per second over `wall`.
    pub spans_per_second: f64,
    /// From the first export until `/healthz` showed no backlog: every
    /// acknowledged span queryable as its calls.
    #[serde(serialize_with = "seconds")]
    pub end_to_end: Duration,
    pub end_to_end_spans_per_second: f64,
    /// The backlog fields at the first poll after the last acknowledgement
    /// (those the server reports; missing ones count as 0).
    pub backlog_at_last_ack: Backlog,
    /// Raw (uncompressed) protobuf MB per second.
    pub raw_mb_per_second: f64,
    /// Bytes of accepted bodies as sent (gzip-compressed with `--gzip`).
    pub wire_bytes: u64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    /// Commit rate over each tenth of the requests, in acknowledgement
    /// order: a falling rate means ingest slows as the database grows.
    pub spans_per_second_by_tenth: Vec<f64>,
    pub status_429: u64,
    pub status_503: u64,
    pub peak_rss_bytes: u64,
    /// Highest sampled `RssAnon`: resident memory without the pages of the
    /// database file that the readers map (which `VmHWM` counts).
    pub peak_anon_bytes: u64,
    /// 1-minute load average when the timed run started and ended: other
    /// work on the machine skews every figure here.
    pub load_average_before: Option<f64>,
    pub load_average_after: Option<f64>,
    /// CPU seconds (user and system) the server used during the run, and
    /// per span: steadier than throughput on a shared machine, so the
    /// figure to compare two builds by.
    pub server_cpu_seconds: Option<f64>,
    pub server_cpu_us_per_span: Option<f64>,
    /// The same until the backlog was empty: what the spans cost in all
    /// when derivation runs behind the acknowledgement.
    pub server_cpu_seconds_end_to_end: Option<f64>,
    pub server_cpu_us_per_span_end_to_end: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct StorageStats {
    pub disk: DiskUsage,
    pub bytes_per_span: f64,
    pub bytes_per_llm_call: f64,
    /// Disk bytes over raw protobuf bytes.
    pub ratio_to_raw: f64,
    /// `None` when the `sqlite3` CLI (with `dbstat`) is not installed.
    /// Bytes of the pages in use (the file size after a checkpoint), from
    /// `dbstat`; `None` when the `sqlite3` CLI is missing or lacks it.
    pub logical_bytes: Option<u64>,
    /// From `dbstat`, like `logical_bytes`.
    pub tables: Option<Vec<TableSize>>,
}

#[derive(Debug, Serialize)]
pub struct ZstdStats {
    pub command: &'static str,
    #[serde(flatten)]
    pub baseline: ZstdBaseline,
    pub bytes_per_span: f64,
    /// Compressed bytes over raw protobuf bytes.
    pub ratio_to_raw: f64,
    /// Disk bytes over zstd bytes: how far the store is from the baseline.
    pub disk_over_zstd: f64,
}

/// The same measurement on the multi-turn chats alone (conversations of two
/// or more turns, with their traces' other spans), on a fresh database.
#[derive(Debug, Serialize)]
pub struct SegmentStats {
    pub spans: usize,
    pub llm_calls: usize,
    pub raw_protobuf_bytes: u64,
    pub raw_bytes_per_llm_call: f64,
    pub disk: DiskUsage,
    pub disk_bytes_per_llm_call: f64,
    /// Per call, counting only the pages in use (see `StorageStats`).
    pub logical_bytes_per_llm_call: Option<f64>,
    pub ratio_to_raw: f64,
    #[serde(serialize_with = "seconds")]
    pub wall: Duration,
}

#[derive(Debug, Serialize)]
pub struct VerifiedStats {
    pub traces: usize,
    pub spans: usize,
    /// Model-call spans in the sampled traces, and the calls the server
    /// lists for them.
    pub calls_expected: usize,
    pub calls_found: usize,
    /// Whether the read-back ran on a restarted server.
    pub after_restart: bool,
}

/// `--rate`: acknowledgement to queryable as a call, for one export in
/// each ~100 ms.
#[derive(Debug, Serialize)]
pub struct FreshnessStats {
    pub probes: usize,
    pub timed_out: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub fn seconds<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// Below this many requests a tenth holds too few to say anything: the
/// server commits concurrent requests together, so acknowledgements come
/// in bursts of up to `--clients`.
const MIN_REQUESTS_FOR_TENTHS: usize = 100;

/// Spans per second over each tenth of the acknowledged requests, taking
/// every request as `spans_per_request` spans (all are but the last).
/// Empty for short runs.
pub fn rate_by_tenth(mut ack_times: Vec<Duration>, spans_per_request: f64) -> Vec<f64> {
    ack_times.sort_unstable();
    let mut rates = Vec::with_capacity(10);
    if ack_times.len() < MIN_REQUESTS_FOR_TENTHS {
        return rates;
    }
    let mut previous_end = Duration::ZERO;
    let mut previous_index = 0;
    for tenth in 1..=10 {
        let end_index = ack_times.len() * tenth / 10;
        let end = ack_times[end_index - 1];
        let requests = (end_index - previous_index) as f64;
        let seconds = (end - previous_end).as_secs_f64();
        rates.push(ratio(requests * spans_per_request, seconds));
        previous_end = end;
        previous_index = end_index;
    }
    rates
}

/// The value at quantile `q` (nearest rank) of `sorted`, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

pub fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 {
        return 0.0;
    }
    numerator / denominator
}

pub fn write_json(report: &Report, path: &Path) -> Result<(), BenchError> {
    let mut text = serde_json::to_string_pretty(report).map_err(|e| BenchError::Io {
        context: "cannot serialize the report".into(),
        source: std::io::Error::other(e),
    })?;
    text.push('\n');
    std::fs::write(path, text).map_err(BenchError::io(format!("cannot write {}", path.display())))
}

fn optional(value: Option<f64>) -> String {
    value.map_or_else(|| "unknown".to_owned(), |v| format!("{v:.2}"))
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn kb(bytes: f64) -> String {
    if bytes >= 1e6 {
        format!("{:.2} MB", bytes / 1e6)
    } else if bytes >= 1000.0 {
        format!("{:.2} KB", bytes / 1000.0)
    } else {
        format!("{bytes:.0} B")
    }
}

/// The report as aligned `name  value` rows.
pub fn table(report: &Report) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut row = |name: &str, value: String| rows.push((name.to_owned(), value));
    let s = &report.settings;
    let w = &report.workload;
    let i = &report.ingest;
    let d = &report.storage;
    row(
        "settings",
        format!(
            "{} workload, {} clients, {} spans/request, {}, gzip {}, seed {}, {} CPUs",
            match s.workload {
                Convention::GenAi => "genai",
                Convention::OpenInference => "openinference",
            },
            s.clients,
            s.batch_spans,
            s.rate_spans_per_second.map_or_else(
                || "as fast as acknowledged".to_owned(),
                |r| format!("{r:.0} spans/s offered")
            ),
            if s.gzip { "on" } else { "off" },
            s.seed,
            s.cpus
        ),
    );
    row(
        "workload",
        format!(
            "{} spans, {} LLM calls, {} traces, {} conversations, {} requests (digest {})",
            w.spans, w.llm_calls, w.traces, w.conversations, w.requests, w.digest
        ),
    );
    row(
        "raw protobuf",
        format!(
            "{} total, {} per span",
            mb(w.raw_protobuf_bytes),
            kb(w.raw_bytes_per_span)
        ),
    );
    row("wall time", format!("{:.2} s", i.wall.as_secs_f64()));
    row(
        "throughput (committed)",
        format!(
            "{:.0} spans/s, {:.1} MB/s raw",
            i.spans_per_second, i.raw_mb_per_second
        ),
    );
    row(
        "throughput (end to end)",
        format!(
            "{:.0} spans/s; backlog empty {:.0} ms after the last acknowledgement",
            i.end_to_end_spans_per_second,
            i.end_to_end.saturating_sub(i.wall).as_secs_f64() * 1000.0
        ),
    );
    row("backlog at last ack", backlog_line(&i.backlog_at_last_ack));
    if let Some(f) = &report.freshness {
        row(
            "ack to queryable call",
            format!(
                "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} probes, {} timed out)",
                f.p50_ms, f.p99_ms, f.max_ms, f.probes, f.timed_out
            ),
        );
    }
    row(
        "export latency",
        format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            i.latency_p50_ms, i.latency_p99_ms, i.latency_max_ms
        ),
    );
    if !i.spans_per_second_by_tenth.is_empty() {
        let mut rates = Vec::with_capacity(10);
        for rate in &i.spans_per_second_by_tenth {
            rates.push(format!("{rate:.0}"));
        }
        row("spans/s by tenth of run", rates.join(" "));
    }
    row(
        "retried (429 / 503)",
        format!("{} / {}", i.status_429, i.status_503),
    );
    row("server peak RSS", mb(i.peak_rss_bytes));
    row("server peak anonymous", mb(i.peak_anon_bytes));
    row(
        "server CPU",
        match (i.server_cpu_seconds, i.server_cpu_us_per_span) {
            (Some(seconds), Some(per_span)) => format!("{seconds:.2} s, {per_span:.0} µs per span"),
            _ => "unknown".to_owned(),
        },
    );
    row(
        "server CPU (end to end)",
        match (
            i.server_cpu_seconds_end_to_end,
            i.server_cpu_us_per_span_end_to_end,
        ) {
            (Some(seconds), Some(per_span)) => format!("{seconds:.2} s, {per_span:.0} µs per span"),
            _ => "unknown".to_owned(),
        },
    );
    row(
        "machine load (1 min)",
        format!(
            "{} before, {} after",
            optional(i.load_average_before),
            optional(i.load_average_after)
        ),
    );
    row(
        "on disk after shutdown",
        format!(
            "{} (db {}, wal {}, shm {})",
            mb(d.disk.total_bytes),
            mb(d.disk.db_bytes),
            mb(d.disk.wal_bytes),
            mb(d.disk.shm_bytes)
        ),
    );
    row(
        "on disk per span / call",
        format!("{} / {}", kb(d.bytes_per_span), kb(d.bytes_per_llm_call)),
    );
    row(
        "disk / raw",
        format!(
            "{:.3} ({:.1}x smaller)",
            d.ratio_to_raw,
            ratio(1.0, d.ratio_to_raw)
        ),
    );
    if let Some(logical) = d.logical_bytes {
        row(
            "pages in use (checkpointed)",
            format!(
                "{} ({} per span, {} per call)",
                mb(logical),
                kb(ratio(logical as f64, w.spans as f64)),
                kb(ratio(logical as f64, w.llm_calls as f64))
            ),
        );
    }
    let z3 = &report.zstd_fast;
    row(
        "bytes per span",
        format!(
            "disk {}, zstd -3 {}, zstd -19 --long=27 {}",
            kb(d.bytes_per_span),
            kb(z3.bytes_per_span),
            report
                .zstd
                .as_ref()
                .map_or_else(|| "skipped".to_owned(), |z| kb(z.bytes_per_span))
        ),
    );
    row(
        "zstd -3 (one stream)",
        format!(
            "{} ({} per span, {:.1}x smaller than raw) in {:.1} s; disk / zstd -3 {:.2}",
            mb(z3.baseline.compressed_bytes),
            kb(z3.bytes_per_span),
            ratio(1.0, z3.ratio_to_raw),
            z3.baseline.duration.as_secs_f64(),
            z3.disk_over_zstd
        ),
    );
    if let Some(z) = &report.zstd {
        row(
            "zstd -19 --long=27",
            format!(
                "{} ({} per span, {:.1}x smaller than raw) in {:.1} s",
                mb(z.baseline.compressed_bytes),
                kb(z.bytes_per_span),
                ratio(1.0, z.ratio_to_raw),
                z.baseline.duration.as_secs_f64()
            ),
        );
        row("disk / zstd -19", format!("{:.2}", z.disk_over_zstd));
    }
    if let Some(m) = &report.multi_turn {
        row(
            "multi-turn chats only",
            format!(
                "{} calls: raw {} per call, disk {} per call ({:.1}x smaller){}",
                m.llm_calls,
                kb(m.raw_bytes_per_llm_call),
                kb(m.disk_bytes_per_llm_call),
                ratio(1.0, m.ratio_to_raw),
                m.logical_bytes_per_llm_call
                    .map(|b| format!(", pages in use {} per call", kb(b)))
                    .unwrap_or_default()
            ),
        );
    }
    if let Some(tables) = &d.tables {
        row("by table and index", table_breakdown(tables));
    }
    let v = &report.verified;
    row(
        "read back",
        format!(
            "{} traces, {} spans, all present{}; {} calls listed for {} model-call spans",
            v.traces,
            v.spans,
            if v.after_restart {
                " after a restart"
            } else {
                ""
            },
            v.calls_found,
            v.calls_expected
        ),
    );

    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, value) in rows {
        out.push_str(&format!("{name:<width$}  {value}\n"));
    }
    out
}

/// `name value, …`, or that the server reports no backlog at all.
fn backlog_line(backlog: &Backlog) -> String {
    if backlog.is_empty() {
        return "none reported".to_owned();
    }
    let mut parts = Vec::with_capacity(backlog.len());
    for (name, value) in backlog {
        parts.push(format!("{name} {value}"));
    }
    parts.join(", ")
}

/// `name size, …` for the tables and indexes that hold at least 1% of the
/// file, then the rest as one figure.
fn table_breakdown(tables: &[TableSize]) -> String {
    let total: u64 = tables.iter().map(|t| t.bytes).sum();
    let mut parts = Vec::new();
    let mut rest = 0;
    let mut rest_count = 0;
    for table in tables {
        if table.bytes * 100 >= total {
            parts.push(format!("{} {}", table.name, kb(table.bytes as f64)));
        } else {
            rest += table.bytes;
            rest_count += 1;
        }
    }
    if rest_count > 0 {
        parts.push(format!("{rest_count} others {}", kb(rest as f64)));
    }
    parts.join(", ")
}
