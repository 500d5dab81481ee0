//! Query benchmark: a store of a million LLM calls, filled with `reprise
//! import`, then the query API under a single client: the latency of
//! listing with common filters, full-text search, stats over all calls and
//! fetching one call, and the import rate.
//!
//! ```sh
//! cargo build --release --bin reprise
//! cargo bench --bench query -- --calls 1000000
//! ```

// The choke points of clippy.toml hold the library; tests and benchmarks
// read clocks, environment variables and gzip freely.
#![allow(clippy::disallowed_methods)]

#[path = "../ingest/error.rs"]
#[allow(dead_code)]
mod error;
#[path = "../ingest/rng.rs"]
#[allow(dead_code)]
mod rng;
#[path = "../ingest/server.rs"]
#[allow(dead_code)]
mod server;

use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};

use rng::Rng;

#[derive(Debug, Parser)]
struct Args {
    /// Calls in the store.
    #[arg(long, default_value_t = 1_000_000)]
    calls: usize,
    /// Requests per query kind.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Stats queries (each reads every call).
    #[arg(long, default_value_t = 10)]
    stats_requests: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Directory for the JSONL file and the database.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Reuse the database of an earlier run in --work-dir instead of importing.
    #[arg(long)]
    reuse: bool,
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// cargo bench passes --bench.
    #[arg(long, hide = true)]
    bench: bool,
}

const WORDS: &str = include_str!("../ingest/words.txt");
const SERVICES: [&str; 8] = [
    "support-bot",
    "code-assistant",
    "docs-search",
    "travel",
    "contracts",
    "email",
    "billing",
    "onboarding",
];
const MODELS: [(&str, &str); 8] = [
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4o"),
    ("openai", "gpt-4.1"),
    ("openai", "o4-mini"),
    ("anthropic", "claude-3-5-haiku"),
    ("anthropic", "claude-sonnet-4"),
    ("anthropic", "claude-haiku-4-5"),
    ("openai", "gpt-5-mini"),
];
const DAY_NANOS: u64 = 86_400_000_000_000;

fn sentence(rng: &mut Rng, words: &[&str], count: usize) -> String {
    let mut out = String::new();
    for i in 0..count {
        if i > 0 {
            out.push(' ');
        }
        // Squaring a uniform draw favours the first words of the list.
        let u = (rng.next_u64() % 1_000_000) as f64 / 1_000_000.0;
        out.push_str(words[((u * u) * words.len() as f64) as usize % words.len()]);
    }
    out
}

/// One raw record: an OpenAI or Anthropic exchange.
fn record(i: usize, rng: &mut Rng, words: &[&str], now: u64) -> Value {
    let (provider, model) = MODELS[(rng.next_u64() % MODELS.len() as u64) as usize];
    let service = SERVICES[(rng.next_u64() % SERVICES.len() as u64) as usize];
    let question_words = 8 + (rng.next_u64() % 60) as usize;
    let question = sentence(rng, words, question_words);
    let answer_words = 15 + (rng.next_u64() % 120) as usize;
    let answer = sentence(rng, words, answer_words);
    let input = 50 + (rng.next_u64() % 2000) as i64;
    let output = 20 + (rng.next_u64() % 800) as i64;
    let start =
        now - 30 * DAY_NANOS + (i as u64 * (30 * DAY_NANOS / 1_000_000).max(1)) % (30 * DAY_NANOS);
    let (request, response) = if provider == "anthropic" {
        (
            json!({"model": model, "max_tokens": 1024, "system": "You are a helpful assistant.",
                   "messages": [{"role": "user", "content": question}]}),
            json!({"id": format!("msg_{i}"), "type": "message", "role": "assistant", "model": model,
                   "content": [{"type": "text", "text": answer}], "stop_reason": "end_turn",
                   "usage": {"input_tokens": input, "output_tokens": output}}),
        )
    } else {
        (
            json!({"model": model, "messages": [{"role": "system", "content": "You are a helpful assistant."},
                   {"role": "user", "content": question}]}),
            json!({"id": format!("chatcmpl-{i}"), "model": model,
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": input, "completion_tokens": output}}),
        )
    };
    let failed = rng.next_u64().is_multiple_of(50);
    json!({
        "provider": provider, "request": request, "response": response,
        "start_time": start, "duration_ms": 200.0 + (rng.next_u64() % 8000) as f64,
        "ttft_ms": 50.0 + (rng.next_u64() % 900) as f64,
        "status": if failed { "error" } else { "ok" },
        "service": service,
        "session_id": format!("session-{}", rng.next_u64() % 50_000),
        "user_id": format!("user-{}", rng.next_u64() % 10_000),
        "tags": [format!("tier-{}", rng.next_u64() % 3)],
        "metadata": {"tenant": format!("tenant-{}", rng.next_u64() % 100)},
        "idempotency_key": format!("bench-{i}"),
    })
}

fn write_workload(path: &PathBuf, calls: usize, seed: u64) -> std::io::Result<u64> {
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let mut rng = Rng::new(seed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    for i in 0..calls {
        serde_json::to_writer(&mut out, &record(i, &mut rng, &words, now))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Latencies of one kind of request, in milliseconds.
struct Timings {
    name: String,
    millis: Vec<f64>,
}

impl Timings {
    fn percentile(&self, q: f64) -> f64 {
        let mut sorted = self.millis.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
        sorted.get(rank - 1).copied().unwrap_or(0.0)
    }
}

async fn time_requests(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    paths: &[String],
) -> Timings {
    let mut millis = Vec::with_capacity(paths.len());
    for path in paths {
        let started = Instant::now();
        let response = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.bytes().await.expect("body");
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Timings {
        name: name.to_owned(),
        millis,
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let bin = args
        .server_bin
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_reprise")));
    let work = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join("reprise-query-bench"),
    };
    std::fs::create_dir_all(&work).expect("work dir");
    let db = work.join("query.db");
    let jsonl = work.join("calls.jsonl");
    let mut report = json!({"calls": args.calls});
    if !args.reuse {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let started = Instant::now();
        let bytes = write_workload(&jsonl, args.calls, args.seed).expect("write workload");
        println!(
            "workload: {} records, {:.1} MB JSONL, generated in {:.1} s",
            args.calls,
            bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let output = std::process::Command::new(&bin)
            .args(["import"])
            .arg(&jsonl)
            .arg("--db")
            .arg(&db)
            .arg("--batch")
            .arg("2000")
            .output()
            .expect("run reprise import");
        let seconds = started.elapsed().as_secs_f64();
        assert!(
            output.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let rate = args.calls as f64 / seconds;
        println!(
            "import: {:.1} s, {:.0} records/s, {:.1} MB/s of JSONL",
            seconds,
            rate,
            bytes as f64 / 1e6 / seconds
        );
        report["import_seconds"] = json!(seconds);
        report["import_records_per_second"] = json!(rate);
        let _ = std::fs::remove_file(&jsonl);
    }
    let db_bytes = std::fs::metadata(&db).map_or(0, |m| m.len());
    println!(
        "database: {:.1} MB ({:.0} B per call)",
        db_bytes as f64 / 1e6,
        db_bytes as f64 / args.calls as f64
    );
    report["db_bytes"] = json!(db_bytes);

    let log = work.join("server.log");
    let server = server::start(&bin, &db, &[], &log)
        .await
        .expect("server starts");
    let base = server.http_url.clone();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    let page: Value = client
        .get(format!("{base}/api/v1/calls?limit=1000"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("JSON");
    let ids: Vec<String> = page["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    let next = page["next_cursor"].as_str().unwrap_or_default().to_owned();
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let n = args.requests;
    let mut rng = Rng::new(args.seed + 1);
    let mut pick = |list: &[&str]| list[(rng.next_u64() % list.len() as u64) as usize].to_owned();
    let kinds: Vec<(&str, Vec<String>)> = vec![
        (
            "list newest",
            (0..n)
                .map(|_| "/api/v1/calls?limit=50".to_string())
                .collect(),
        ),
        (
            "list next page",
            (0..n)
                .map(|_| format!("/api/v1/calls?limit=50&cursor={next}"))
                .collect(),
        ),
        (
            "list by service",
            (0..n)
                .map(|_| format!("/api/v1/calls?limit=50&service={}", pick(&SERVICES)))
                .collect(),
        ),
        (
            "list by model, 7 days",
            (0..n)
                .map(|_| {
                    format!(
                        "/api/v1/calls?limit=50&since=7d&model={}",
                        pick(&MODELS.map(|m| m.1))
                    )
                })
                .collect(),
        ),
        (
            "list errors",
            (0..n)
                .map(|_| "/api/v1/calls?limit=50&status=error".to_string())
                .collect(),
        ),
        (
            "list by session",
            (0..n)
                .map(|i| {
                    format!(
                        "/api/v1/calls?limit=50&session_id=session-{}",
                        i * 7919 % 50_000
                    )
                })
                .collect(),
        ),
        (
            "list by tenant attribute",
            (0..n)
                .map(|i| format!("/api/v1/calls?limit=50&attr.tenant=tenant-{}", i % 100))
                .collect(),
        ),
        (
            "full-text, common word",
            (0..n)
                .map(|i| format!("/api/v1/calls?limit=50&q={}", words[i % 20]))
                .collect(),
        ),
        (
            "full-text, rare words",
            (0..n)
                .map(|i| {
                    format!(
                        "/api/v1/calls?limit=50&q={}+{}",
                        words[500 + i % 1000],
                        words[1500 + i % 1000]
                    )
                })
                .collect(),
        ),
        (
            "one call",
            (0..n)
                .map(|i| format!("/api/v1/calls/{}", ids[i % ids.len().max(1)]))
                .collect(),
        ),
        (
            "stats by model, all calls",
            (0..args.stats_requests)
                .map(|_| "/api/v1/stats?group_by=model".to_string())
                .collect(),
        ),
    ];
    let mut results = Vec::new();
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "query", "p50 ms", "p99 ms", "max ms"
    );
    for (name, paths) in kinds {
        let timings = time_requests(&client, &base, name, &paths).await;
        let (p50, p99, max) = (
            timings.percentile(0.5),
            timings.percentile(0.99),
            timings.percentile(1.0),
        );
        println!(
            "{:<28} {:>10.2} {:>10.2} {:>10.2}",
            timings.name, p50, p99, max
        );
        results.push(json!({"query": timings.name, "requests": timings.millis.len(), "p50_ms": p50, "p99_ms": p99, "max_ms": max}));
    }
    report["queries"] = json!(results);
    server.stop().await.expect("server stops");
    if let Some(path) = args.json_out {
        std::fs::write(path, serde_json::to_vec_pretty(&report).expect("JSON"))
            .expect("write report");
    }
}
