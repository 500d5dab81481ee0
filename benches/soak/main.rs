//! Soak and chaos: sustained ingestion over OTLP/HTTP and raw records, with
//! queries and a replay run (against an in-process fake provider) running
//! beside it, while the server is killed with SIGKILL and restarted at
//! random moments. At the end, every acknowledged trace and record must be
//! there, the replay must have finished every item exactly once,
//! `PRAGMA integrity_check` must pass, and the server's memory must not
//! have grown without bound.
//!
//! ```sh
//! cargo build --release --bin reprise
//! cargo bench --bench soak -- --minutes 5
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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use fake_provider::{FakeConfig, FakeProvider};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use serde_json::json;
use tokio::sync::{Mutex, RwLock};

use rng::Rng;

#[derive(Debug, Parser)]
struct Args {
    /// How long to run.
    #[arg(long, default_value_t = 5.0)]
    minutes: f64,
    /// Concurrent OTLP exporters.
    #[arg(long, default_value_t = 4)]
    exporters: usize,
    /// Concurrent query clients.
    #[arg(long, default_value_t = 2)]
    readers: usize,
    /// Mean seconds between kills.
    #[arg(long, default_value_t = 30.0)]
    kill_every: f64,
    #[arg(long, default_value_t = 11)]
    seed: u64,
    #[arg(long)]
    server_bin: Option<PathBuf>,
    #[arg(long)]
    work_dir: Option<PathBuf>,
    #[arg(long)]
    json_out: Option<PathBuf>,
    #[arg(long, hide = true)]
    bench: bool,
}

fn string_attr(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

/// A request of LLM spans (OTel GenAI 1.37 attributes) with fresh ids.
fn llm_request(rng: &mut Rng, spans: usize) -> (Vec<u8>, Vec<String>) {
    let mut list = Vec::with_capacity(spans);
    let mut ids = Vec::with_capacity(spans);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    for _ in 0..spans {
        let trace_id: Vec<u8> = (0..2).flat_map(|_| rng.next_u64().to_le_bytes()).collect();
        let span_id = rng.next_u64().to_le_bytes().to_vec();
        ids.push(trace_id.iter().map(|b| format!("{b:02x}")).collect());
        let question = format!(
            "soak question {} about {}",
            rng.next_u64() % 100_000,
            rng.next_u64() % 977
        );
        let messages =
            json!([{"role": "user", "parts": [{"type": "text", "content": question}]}]).to_string();
        let answer = json!([{"role": "assistant", "parts": [{"type": "text", "content": format!("answer {}", rng.next_u64())}], "finish_reason": "stop"}]).to_string();
        list.push(Span {
            trace_id,
            span_id,
            name: "chat gpt-4o-mini".into(),
            kind: 3,
            start_time_unix_nano: now,
            end_time_unix_nano: now + 300_000_000,
            attributes: vec![
                string_attr("gen_ai.operation.name", "chat".into()),
                string_attr("gen_ai.provider.name", "openai".into()),
                string_attr("gen_ai.request.model", "gpt-4o-mini".into()),
                string_attr("gen_ai.input.messages", messages),
                string_attr("gen_ai.output.messages", answer),
            ],
            ..Default::default()
        });
    }
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string_attr("service.name", "soak".into())],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "soak".into(),
                    ..Default::default()
                }),
                spans: list,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    (request.encode_to_vec(), ids)
}

/// What the load has done so far.
#[derive(Default)]
struct Counters {
    requests_ok: AtomicU64,
    requests_failed: AtomicU64,
    queries_ok: AtomicU64,
    queries_failed: AtomicU64,
}

struct Shared {
    /// Base URL of the live server; swapped on restart.
    url: RwLock<String>,
    acked_traces: Mutex<Vec<String>>,
    acked_records: Mutex<Vec<String>>,
    counters: Counters,
    stop: AtomicBool,
}

async fn exporter(shared: Arc<Shared>, seed: u64) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut rng = Rng::new(seed);
    while !shared.stop.load(Ordering::Relaxed) {
        let url = shared.url.read().await.clone();
        if rng.next_u64().is_multiple_of(4) {
            let key = format!("soak-{seed}-{}", rng.next_u64());
            let record = json!({"provider": "openai", "idempotency_key": key, "service": "soak-raw",
                "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": key}]},
                "response": {"id": key, "model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}});
            match client
                .post(format!("{url}/api/v1/calls"))
                .json(&record)
                .send()
                .await
            {
                Ok(response) if response.status() == 200 => {
                    if let Ok(body) = response.json::<serde_json::Value>().await
                        && let Some(id) = body["ids"][0].as_str()
                    {
                        shared.acked_records.lock().await.push(id.to_owned());
                        shared.counters.requests_ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
                _ => {
                    shared
                        .counters
                        .requests_failed
                        .fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            continue;
        }
        let (body, ids) = llm_request(&mut rng, 50);
        match client
            .post(format!("{url}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
        {
            Ok(response) if response.status() == 200 => {
                shared.acked_traces.lock().await.extend(ids);
                shared.counters.requests_ok.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                // Killed mid-request or pushed back: not acknowledged, not promised.
                shared
                    .counters
                    .requests_failed
                    .fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn reader(shared: Arc<Shared>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let paths = [
        "/api/v1/calls?limit=50",
        "/api/v1/calls?limit=50&service=soak&q=soak",
        "/api/v1/stats?group_by=model&since=1h",
        "/api/v1/calls?limit=20&sort=latency",
    ];
    let mut i = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        let url = shared.url.read().await.clone();
        let ok = client
            .get(format!("{url}{}", paths[i % paths.len()]))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        let counter = if ok {
            &shared.counters.queries_ok
        } else {
            &shared.counters.queries_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        i += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every page of a cursor-paginated listing: `url` must already hold a
/// query string; `next_cursor` is followed until it is null.
async fn every_page(url: &str) -> Vec<serde_json::Value> {
    let client = reqwest::Client::new();
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut page_url = url.to_owned();
        if !cursor.is_empty() {
            page_url.push_str(&format!("&cursor={cursor}"));
        }
        let page: serde_json::Value = client
            .get(page_url)
            .send()
            .await
            .expect("page")
            .json()
            .await
            .expect("JSON");
        let next = page["next_cursor"].as_str().map(str::to_owned);
        pages.push(page);
        match next {
            Some(next) => cursor = next,
            None => return pages,
        }
    }
}

/// Every value of `field` among the stored calls of `service`.
async fn stored(base: &str, service: &str, field: &str) -> std::collections::HashSet<String> {
    let mut found = std::collections::HashSet::new();
    for page in every_page(&format!("{base}/api/v1/calls?limit=1000&service={service}")).await {
        for call in page["calls"].as_array().into_iter().flatten() {
            if let Some(value) = call[field].as_str() {
                found.insert(value.to_owned());
            }
        }
    }
    found
}

/// Starts a replay of the raw records acknowledged so far, 3 repetitions
/// each, against the fake provider; returns the run id.
async fn start_replay(base: &str) -> Option<(String, u64)> {
    let body = json!({"name": "soak", "filters": {"service": "soak-raw"}, "targets": ["fake"], "repeat": 3});
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/replays"))
        .json(&body)
        .send()
        .await
        .ok()?;
    let run: serde_json::Value = response.json().await.ok()?;
    Some((
        run["id"].as_str()?.to_owned(),
        run["progress"]["total"].as_u64()?,
    ))
}

/// Waits for the run to end; then counts its items and their result calls.
async fn replay_outcome(base: &str, run_id: &str) -> serde_json::Value {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    let run = loop {
        let run: serde_json::Value = client
            .get(format!("{base}/api/v1/replays/{run_id}"))
            .send()
            .await
            .expect("run")
            .json()
            .await
            .expect("JSON");
        if run["state"] != "running" || Instant::now() > deadline {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut results = std::collections::HashSet::new();
    let mut items_with_result = 0u64;
    for page in every_page(&format!("{base}/api/v1/replays/{run_id}/results?limit=200")).await {
        for group in page["results"].as_array().into_iter().flatten() {
            for item in group["replays"].as_array().into_iter().flatten() {
                if let Some(id) = item["call"]["id"].as_str() {
                    items_with_result += 1;
                    results.insert(id.to_owned());
                }
            }
        }
    }
    json!({
        "state": run["state"],
        "items": run["progress"]["total"],
        "done": run["progress"]["done"],
        "failed": run["progress"]["failed"],
        "items_with_a_result": items_with_result,
        "distinct_result_calls": results.len(),
    })
}

fn check_integrity(bin: &Path, db: &Path) -> bool {
    std::process::Command::new(bin)
        .arg("check")
        .arg("--db")
        .arg(db)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let bin = args
        .server_bin
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_reprise")));
    let work = args
        .work_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("reprise-soak"));
    std::fs::create_dir_all(&work).expect("work dir");
    let db = work.join("soak.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let log = work.join("server.log");
    // The replay's target: slow enough (100 ms a request, 2 at a time) that
    // the run is still going when the server is killed.
    let mut fake_config = FakeConfig::default();
    fake_config.default.timing.latency_ms = 100;
    let fake = FakeProvider::start("127.0.0.1:0".parse().expect("addr"), fake_config)
        .await
        .expect("fake provider");
    let config = work.join("reprise.toml");
    std::fs::write(
        &config,
        format!(
            "[targets.fake]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"soak-model\"\nmax_concurrency = 2\n",
            fake.base_url()
        ),
    )
    .expect("config");
    let config_arg = config.to_string_lossy().to_string();
    let server_args = ["--config".to_owned(), config_arg];
    let mut live = server::start(&bin, &db, &server_args, &log)
        .await
        .expect("server starts");
    let shared = Arc::new(Shared {
        url: RwLock::new(live.http_url.clone()),
        acked_traces: Mutex::new(Vec::new()),
        acked_records: Mutex::new(Vec::new()),
        counters: Counters::default(),
        stop: AtomicBool::new(false),
    });
    let mut tasks = Vec::new();
    for i in 0..args.exporters {
        tasks.push(tokio::spawn(exporter(shared.clone(), args.seed + i as u64)));
    }
    for _ in 0..args.readers {
        tasks.push(tokio::spawn(reader(shared.clone())));
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.minutes * 60.0);
    let mut rng = Rng::new(args.seed ^ 0xC0FFEE);
    let mut restarts = 0;
    let mut rss_samples: Vec<(f64, u64)> = Vec::new();
    let mut anon_samples: Vec<(f64, u64)> = Vec::new();
    let mut next_kill =
        Instant::now() + Duration::from_secs_f64(args.kill_every * (0.5 + rng.unit()));
    let mut replay: Option<(String, u64)> = None;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if replay.is_none() && started.elapsed() > Duration::from_secs(10) {
            replay = start_replay(&live.http_url).await;
            if let Some((id, total)) = &replay {
                println!("replay {id} started: {total} items");
            }
        }
        if let Some(memory) = server::read_memory(live.pid) {
            rss_samples.push((started.elapsed().as_secs_f64(), memory.rss_kib));
            anon_samples.push((started.elapsed().as_secs_f64(), memory.anon_kib));
        }
        if Instant::now() >= next_kill && Instant::now() + Duration::from_secs(5) < deadline {
            drop(live); // kill_on_drop: SIGKILL
            live = server::start(&bin, &db, &server_args, &log)
                .await
                .expect("server restarts");
            *shared.url.write().await = live.http_url.clone();
            restarts += 1;
            println!(
                "{:>6.0} s  killed and restarted (#{restarts})",
                started.elapsed().as_secs_f64()
            );
            next_kill =
                Instant::now() + Duration::from_secs_f64(args.kill_every * (0.5 + rng.unit()));
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    live.stop().await.expect("clean stop");

    let final_server = server::start(&bin, &db, &server_args, &log)
        .await
        .expect("final start");
    let traces = shared.acked_traces.lock().await.clone();
    let records = shared.acked_records.lock().await.clone();
    let stored_traces = stored(&final_server.http_url, "soak", "trace_id").await;
    let stored_records = stored(&final_server.http_url, "soak-raw", "id").await;
    let lost = traces
        .iter()
        .filter(|id| !stored_traces.contains(*id))
        .count()
        + records
            .iter()
            .filter(|id| !stored_records.contains(*id))
            .count();
    let replay_report = match &replay {
        Some((id, _)) => replay_outcome(&final_server.http_url, id).await,
        None => json!(null),
    };
    final_server.stop().await.expect("clean stop");
    let intact = check_integrity(&bin, &db);
    let third = rss_samples.len() / 3;
    let peak = |s: &[(f64, u64)]| s.iter().map(|(_, kib)| *kib).max().unwrap_or(0);
    let (early_peak, late_peak) = (
        peak(&rss_samples[..third]),
        peak(&rss_samples[rss_samples.len() - third..]),
    );
    let c = &shared.counters;
    let report = json!({
        "minutes": elapsed / 60.0,
        "restarts": restarts,
        "requests_acknowledged": c.requests_ok.load(Ordering::Relaxed),
        "requests_failed_or_cut": c.requests_failed.load(Ordering::Relaxed),
        "requests_per_second": c.requests_ok.load(Ordering::Relaxed) as f64 / elapsed,
        "spans_acknowledged": traces.len(),
        "records_acknowledged": records.len(),
        "queries_ok": c.queries_ok.load(Ordering::Relaxed),
        "queries_failed": c.queries_failed.load(Ordering::Relaxed),
        "lost": lost,
        "replay": replay_report,
        "integrity_ok": intact,
        "rss_peak_first_third_mib": early_peak as f64 / 1024.0,
        "rss_peak_last_third_mib": late_peak as f64 / 1024.0,
        "anon_peak_first_third_mib": peak(&anon_samples[..third]) as f64 / 1024.0,
        "anon_peak_last_third_mib": peak(&anon_samples[anon_samples.len() - third..]) as f64 / 1024.0,
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("JSON"));
    if let Some(path) = &args.json_out {
        std::fs::write(path, serde_json::to_vec_pretty(&report).expect("JSON"))
            .expect("write report");
    }
    assert_eq!(lost, 0, "acknowledged data was lost");
    assert!(replay.is_some(), "the replay run was started");
    assert_eq!(replay_report["state"], "done", "the replay finished");
    assert_eq!(
        replay_report["items_with_a_result"], replay_report["items"],
        "every replay item has one result"
    );
    assert_eq!(
        replay_report["distinct_result_calls"], replay_report["items"],
        "no replay item was stored twice"
    );
    assert!(intact, "integrity check failed");
}
