//! How long the server takes to answer what the web UI's pages ask, with a
//! million calls in the store.
//!
//! The bench starts `reprise serve` on a database, fills it with generated
//! raw records through `POST /api/v1/calls` in large batches (unless the
//! database already holds enough calls, so a filled database can be
//! reused with `--db`), sends the OTLP fixtures for traces to look at, and
//! then times every API request each page makes — a few hundred of each,
//! one at a time — reporting p50, p99 and max as seen by the client on
//! loopback. The models page is also timed whole: its stats query, then
//! one bucketed stats query per model, concurrently as the browser sends
//! them.
//!
//! ```sh
//! cargo bench --bench ui -- --calls 1000000 --db /tmp/ui-bench.db
//! ```

// The choke points of clippy.toml hold the library; tests and benchmarks
// read clocks, environment variables and gzip freely.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug)]
struct Options {
    calls: u64,
    requests: usize,
    batch: u64,
    db: Option<PathBuf>,
    server_bin: PathBuf,
}

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("{0}")]
    Usage(String),
    #[error("starting the server failed: {0}")]
    Server(String),
    #[error("request {path} failed: {message}")]
    Request { path: String, message: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn usage() -> String {
    "usage: ui [--calls N] [--requests N] [--batch N] [--db PATH] [--server-bin PATH]\n  \
     --calls N       calls in the store (default 1000000; 20000 without --bench)\n  \
     --requests N    requests timed per API call (default 300)\n  \
     --batch N       records per POST while filling (default 2000)\n  \
     --db PATH       database to fill or reuse (default: a temporary file)\n  \
     --server-bin P  reprise binary to run (default: the one cargo built)"
        .to_owned()
}

fn parse_options() -> Result<Options, BenchError> {
    let mut args = std::env::args().skip(1);
    let mut bench = false;
    let mut options = Options {
        calls: 0,
        requests: 300,
        batch: 2000,
        db: None,
        server_bin: PathBuf::from(env!("CARGO_BIN_EXE_reprise")),
    };
    let number = |name: &str, value: Option<String>| -> Result<u64, BenchError> {
        value
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| BenchError::Usage(format!("{name} needs a number\n{}", usage())))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => bench = true,
            "--calls" => options.calls = number("--calls", args.next())?,
            "--requests" => options.requests = number("--requests", args.next())? as usize,
            "--batch" => options.batch = number("--batch", args.next())?.max(1),
            "--db" => options.db = args.next().map(PathBuf::from),
            "--server-bin" => {
                options.server_bin = args
                    .next()
                    .map(PathBuf::from)
                    .ok_or_else(|| BenchError::Usage(usage()))?
            }
            "--help" | "-h" => return Err(BenchError::Usage(usage())),
            other => {
                return Err(BenchError::Usage(format!(
                    "unknown argument {other}\n{}",
                    usage()
                )));
            }
        }
    }
    if options.calls == 0 {
        // `cargo test --benches` runs this without --bench: keep it short.
        options.calls = if bench { 1_000_000 } else { 20_000 };
        if !bench {
            options.requests = options.requests.min(20);
        }
    }
    Ok(options)
}

/// splitmix64: a seeded, dependency-free generator, so the same options
/// give the same store.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const MODELS: &[(&str, &str)] = &[
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4o"),
    ("openai", "gpt-4.1-nano"),
    ("anthropic", "claude-3-5-haiku"),
    ("anthropic", "claude-sonnet-4"),
    ("ollama", "llama3.1:8b"),
    ("ollama", "qwen2.5:7b"),
    ("openai", "o3-mini"),
];
const SERVICES: &[&str] = &[
    "support-bot",
    "docs-search",
    "code-assistant",
    "travel-planner",
    "email-writer",
    "contract-review",
];
const WORDS: &[&str] = &[
    "account",
    "refund",
    "invoice",
    "shipping",
    "delay",
    "password",
    "reset",
    "python",
    "tuple",
    "list",
    "rust",
    "borrow",
    "lifetime",
    "query",
    "index",
    "database",
    "lisbon",
    "flight",
    "hotel",
    "weather",
    "contract",
    "clause",
    "liability",
    "renewal",
    "email",
    "meeting",
    "summary",
    "omelette",
    "recipe",
    "kalman",
    "filter",
    "estimate",
    "latency",
    "budget",
    "forecast",
    "customer",
    "order",
    "tracking",
    "upgrade",
    "plan",
    "billing",
    "error",
    "timeout",
    "retry",
    "deploy",
    "kubernetes",
    "container",
    "memory",
    "cache",
    "token",
    "prompt",
    "model",
    "answer",
    "question",
];

const DAY_NANOS: u64 = 86_400_000_000_000;

fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn sentence(rng: &mut Rng, words: u64) -> String {
    let mut text = String::new();
    for i in 0..words {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    text
}

/// Call `i` of `total`, spread over the 30 days before `now`.
fn record(i: u64, total: u64, now: u64) -> Value {
    let mut rng = Rng(i.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x5EED);
    let (provider, model) =
        MODELS[(rng.below(100) as usize * MODELS.len() / 100).min(MODELS.len() - 1)];
    let start =
        now - 30 * DAY_NANOS + i * (30 * DAY_NANOS / total.max(1)) + rng.below(1_000_000_000);
    let question_words = 6 + rng.below(14);
    let question = format!("{}?", sentence(&mut rng, question_words));
    let answer_words = 12 + rng.below(40);
    let answer = format!("{}.", sentence(&mut rng, answer_words));
    let input = 20 + rng.below(2000) as i64;
    let output = 5 + rng.below(800) as i64;
    // Log-normal-ish latency: most calls fast, a long tail.
    let duration_ms = 150.0 * (1.0 + 30.0 * rng.unit().powi(4)) + output as f64 * 8.0;
    let mut record = if provider == "anthropic" {
        json!({"provider": provider,
            "request": {"model": model, "max_tokens": 1024, "system": "You are a helpful assistant.",
                "messages": [{"role": "user", "content": question}]},
            "response": {"id": format!("msg_b{i}"), "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": answer}], "stop_reason": "end_turn",
                "usage": {"input_tokens": input, "output_tokens": output}}})
    } else {
        json!({"provider": provider,
            "request": {"model": model, "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": question}]},
            "response": {"id": format!("chatcmpl-b{i}"), "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}}})
    };
    let service = SERVICES[rng.below(SERVICES.len() as u64) as usize];
    let Some(fields) = record.as_object_mut() else {
        return record;
    };
    fields.insert("start_time".into(), json!(start));
    fields.insert(
        "duration_ms".into(),
        json!((duration_ms * 10.0).round() / 10.0),
    );
    fields.insert(
        "ttft_ms".into(),
        json!(((duration_ms * (0.1 + 0.3 * rng.unit())) * 10.0).round() / 10.0),
    );
    fields.insert("service".into(), json!(service));
    fields.insert(
        "session_id".into(),
        json!(format!("s{}", rng.below(total / 8 + 1))),
    );
    fields.insert("user_id".into(), json!(format!("u{}", rng.below(5000))));
    fields.insert(
        "tags".into(),
        json!([
            service.split('-').next().unwrap_or("app"),
            format!("exp-{}", i % 10)
        ]),
    );
    fields.insert("idempotency_key".into(), json!(format!("bench-{i}")));
    if rng.below(50) == 0 {
        fields.insert("status".into(), json!("error"));
        fields.insert(
            "error".into(),
            json!({"type": "rate_limit", "message": "slow down"}),
        );
    }
    record
}

struct Server {
    child: Child,
    base: String,
}

async fn start_server(bin: &Path, db: &Path) -> Result<Server, BenchError> {
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--fsync",
            "os",
            "--http",
            "127.0.0.1:0",
            "--grpc",
            "127.0.0.1:0",
            "--db",
        ])
        .arg(db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| BenchError::Server(format!("{}: {e}", bin.display())))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::Server("no stdout".into()))?;
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await?
        .ok_or_else(|| BenchError::Server("exited before listening".into()))?;
    let http = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .ok_or_else(|| BenchError::Server(format!("unexpected first line {line:?}")))?;
    Ok(Server {
        child,
        base: format!("http://{http}"),
    })
}

async fn get_json(client: &reqwest::Client, base: &str, path: &str) -> Result<Value, BenchError> {
    let error = |message: String| BenchError::Request {
        path: path.to_owned(),
        message,
    };
    let response = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .map_err(|e| error(e.to_string()))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| error(e.to_string()))?;
    if !status.is_success() {
        return Err(error(format!("{status}: {body}")));
    }
    serde_json::from_str(&body).map_err(|e| error(e.to_string()))
}

async fn stored_calls(client: &reqwest::Client, base: &str) -> Result<u64, BenchError> {
    let stats = get_json(client, base, "/api/v1/stats?group_by=none").await?;
    Ok(stats["groups"][0]["count"].as_u64().unwrap_or(0))
}

/// Posts records `from..total` in batches, two requests in flight.
async fn fill(
    client: &reqwest::Client,
    base: &str,
    from: u64,
    total: u64,
    batch: u64,
) -> Result<(), BenchError> {
    let now = now_unix_nano();
    let started = Instant::now();
    let mut next = from;
    let mut in_flight = Vec::new();
    while next < total || !in_flight.is_empty() {
        while next < total && in_flight.len() < 2 {
            let end = (next + batch).min(total);
            let records: Vec<Value> = (next..end).map(|i| record(i, total, now)).collect();
            let body =
                serde_json::to_vec(&records).map_err(|e| BenchError::Server(e.to_string()))?;
            let request = client
                .post(format!("{base}/api/v1/calls"))
                .header("content-type", "application/json")
                .body(body)
                .send();
            in_flight.push(tokio::spawn(request));
            next = end;
        }
        let first = in_flight.remove(0);
        let response = first
            .await
            .map_err(|e| BenchError::Server(e.to_string()))?
            .map_err(|e| BenchError::Server(e.to_string()))?;
        if response.status() == 429 || response.status() == 503 {
            // Back-pressure: wait and let the writer catch up; the batch
            // is re-sent by the idempotency keys on the next fill.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Box::pin(fill(
                client,
                base,
                stored_calls(client, base).await?,
                total,
                batch,
            ))
            .await;
        }
        if !response.status().is_success() {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            return Err(BenchError::Server(format!(
                "POST /api/v1/calls: {status}: {text}"
            )));
        }
        let done = next - in_flight.len() as u64 * batch;
        if done % 100_000 < batch {
            let rate = (done - from) as f64 / started.elapsed().as_secs_f64();
            eprintln!("  {done} calls stored ({rate:.0}/s)");
        }
    }
    Ok(())
}

async fn send_fixtures(client: &reqwest::Client, base: &str) -> Result<Vec<String>, BenchError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp");
    let mut files = Vec::new();
    for flavour in std::fs::read_dir(&root)? {
        let flavour = flavour?.path();
        if !flavour.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&flavour)? {
            let file = file?.path();
            if file.extension().is_some_and(|e| e == "pb") {
                files.push(file);
            }
        }
    }
    files.sort();
    for file in &files {
        let is_logs = file.to_string_lossy().ends_with(".logs.pb");
        let path = if is_logs { "/v1/logs" } else { "/v1/traces" };
        let response = client
            .post(format!("{base}{path}"))
            .header("content-type", "application/x-protobuf")
            .body(std::fs::read(file)?)
            .send()
            .await
            .map_err(|e| BenchError::Server(e.to_string()))?;
        if !response.status().is_success() {
            return Err(BenchError::Server(format!(
                "{}: {}",
                file.display(),
                response.status()
            )));
        }
    }
    let page = get_json(client, base, "/api/v1/calls?source=otlp&limit=1000").await?;
    let mut traces = Vec::new();
    for call in page["calls"].as_array().into_iter().flatten() {
        if let Some(id) = call["trace_id"].as_str()
            && !traces.iter().any(|t| t == id)
        {
            traces.push(id.to_owned());
        }
    }
    Ok(traces)
}

/// Latencies of one kind of request.
struct Timing {
    name: String,
    millis: Vec<f64>,
}

impl Timing {
    fn percentile(&self, q: f64) -> f64 {
        let mut sorted = self.millis.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }
}

/// Times `paths` (cycled) `n` times, one request at a time.
async fn time_requests(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    paths: &[String],
    n: usize,
) -> Result<Timing, BenchError> {
    // One untimed request first, so the page cache is what a user meets
    // on the second visit rather than on a cold start.
    get_json(client, base, &paths[0]).await?;
    let mut millis = Vec::with_capacity(n);
    for i in 0..n {
        let path = &paths[i % paths.len()];
        let started = Instant::now();
        get_json(client, base, path).await?;
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Timing {
        name: name.to_owned(),
        millis,
    })
}

/// The models page as the browser loads it: the per-model totals, then one
/// bucketed query per model, all at once.
async fn time_models_page(
    client: &reqwest::Client,
    base: &str,
    range: &str,
    bucket: &str,
    n: usize,
) -> Result<Timing, BenchError> {
    let mut millis = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let totals = get_json(
            client,
            base,
            &format!("/api/v1/stats?group_by=model&since={range}"),
        )
        .await?;
        let mut queries = Vec::new();
        for group in totals["groups"].as_array().into_iter().flatten().take(10) {
            if let Some(model) = group["key"].as_str() {
                let path = format!(
                    "/api/v1/stats?group_by={bucket}&since={range}&model={}",
                    encode(model)
                );
                let client = client.clone();
                let base = base.to_owned();
                queries.push(tokio::spawn(async move {
                    get_json(&client, &base, &path).await
                }));
            }
        }
        for query in queries {
            query
                .await
                .map_err(|e| BenchError::Server(e.to_string()))??;
        }
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Timing {
        name: format!("models page, {range} by {bucket} (1 + one per model, concurrent)"),
        millis,
    })
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn ids_of(page: &Value) -> Vec<String> {
    page["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect()
}

async fn run(options: Options) -> Result<(), BenchError> {
    let temp = tempfile::tempdir()?;
    let db = options
        .db
        .clone()
        .unwrap_or_else(|| temp.path().join("ui-bench.db"));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .map_err(|e| BenchError::Server(e.to_string()))?;
    let mut server = start_server(&options.server_bin, &db).await?;
    let base = server.base.clone();
    let stored = stored_calls(&client, &base).await?;
    if stored < options.calls {
        eprintln!(
            "filling {} with {} calls (has {stored})",
            db.display(),
            options.calls
        );
        let started = Instant::now();
        fill(&client, &base, stored, options.calls, options.batch).await?;
        eprintln!("filled in {:.1} s", started.elapsed().as_secs_f64());
    }
    let traces = send_fixtures(&client, &base).await?;
    let total = stored_calls(&client, &base).await?;
    let db_bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "measuring with {total} calls in the store ({:.0} MB)",
        db_bytes as f64 / 1e6
    );

    let n = options.requests;
    let first = get_json(&client, &base, "/api/v1/calls?limit=50").await?;
    let cursor = first["next_cursor"].as_str().unwrap_or("").to_owned();
    let mut call_ids = Vec::new();
    for sort in ["time", "latency", "cost"] {
        call_ids.extend(ids_of(
            &get_json(
                &client,
                &base,
                &format!("/api/v1/calls?limit=100&sort={sort}"),
            )
            .await?,
        ));
    }
    let call_paths: Vec<String> = call_ids
        .iter()
        .map(|id| format!("/api/v1/calls/{id}"))
        .collect();
    let trace_paths: Vec<String> = traces
        .iter()
        .map(|id| format!("/api/v1/traces/{id}"))
        .collect();
    let sessions: Vec<String> = (0..50)
        .map(|i| format!("/api/v1/sessions/s{}?limit=100", i * 97))
        .collect();
    let one = |path: &str| vec![path.to_owned()];

    let mut timings = Vec::new();
    let plan: Vec<(&str, Vec<String>)> = vec![
        (
            "calls: first page (also the refresh poll)",
            one("/api/v1/calls?limit=50&sort=time&order=desc"),
        ),
        (
            "calls: next page by cursor",
            one(&format!("/api/v1/calls?limit=50&cursor={cursor}")),
        ),
        (
            "calls: model filter",
            one("/api/v1/calls?limit=50&model=claude-3-5-haiku"),
        ),
        (
            "calls: service + status=error",
            one("/api/v1/calls?limit=50&service=docs-search&status=error"),
        ),
        ("calls: tag filter", one("/api/v1/calls?limit=50&tag=exp-3")),
        (
            "calls: session filter",
            one("/api/v1/calls?limit=50&session_id=s4242"),
        ),
        ("calls: last 24 h", one("/api/v1/calls?limit=50&since=24h")),
        (
            "calls: full-text search (one word)",
            one("/api/v1/calls?limit=50&q=omelette"),
        ),
        (
            "calls: full-text search (two words)",
            one("/api/v1/calls?limit=50&q=refund%20invoice"),
        ),
        (
            "calls: sorted by latency",
            one("/api/v1/calls?limit=50&sort=latency&order=desc"),
        ),
        (
            "calls: sorted by cost",
            one("/api/v1/calls?limit=50&sort=cost&order=desc"),
        ),
        (
            "calls: latency ≥ 2 s and tokens ≤ 500",
            one("/api/v1/calls?limit=50&min_duration_ms=2000&max_tokens=500"),
        ),
        (
            "calls: filter suggestions (stats by model, 24 h)",
            one("/api/v1/stats?group_by=model&since=24h"),
        ),
        ("call: one call with content", call_paths),
        ("trace: one trace", trace_paths),
        ("session: one session (totals + calls)", sessions),
        (
            "models: totals by model, 7 days",
            one("/api/v1/stats?group_by=model&since=7d"),
        ),
        (
            "models: one model by hour, 7 days",
            one("/api/v1/stats?group_by=hour&since=7d&model=gpt-4o"),
        ),
        (
            "models: one model by day, 30 days",
            one("/api/v1/stats?group_by=day&since=30d&model=gpt-4o"),
        ),
        (
            "replays: runs (none stored)",
            one("/api/v1/replays?limit=50"),
        ),
        ("call: replay targets", one("/api/v1/replays/targets")),
    ];
    for (name, paths) in &plan {
        let timing = time_requests(&client, &base, name, paths, n).await?;
        eprintln!("  {name}: p50 {:.1} ms", timing.percentile(0.5));
        timings.push(timing);
    }
    let page_runs = (n / 10).max(5);
    timings.push(time_models_page(&client, &base, "7d", "hour", page_runs).await?);
    timings.push(time_models_page(&client, &base, "30d", "day", page_runs).await?);

    println!(
        "\n{total} calls in the store, database {:.0} MB\n",
        db_bytes as f64 / 1e6
    );
    println!("| request | n | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    for timing in &timings {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} |",
            timing.name,
            timing.millis.len(),
            timing.percentile(0.5),
            timing.percentile(0.99),
            timing.percentile(1.0)
        );
    }
    let _ = server.child.kill().await;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{error}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ui bench failed: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
