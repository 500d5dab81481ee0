//! Replay throughput: 10,000 replays against the fake provider with a fixed
//! 50 ms latency at concurrency 100. The ideal is 10,000 / 100 × 50 ms =
//! 5 s; the engine should finish within 10% of it. Also reports the CPU
//! time this process spent per replayed call and its peak resident memory.
//!
//! The fake provider runs as its own process (`reprise dev fake-provider`)
//! so its CPU time is not counted. Run by hand, in release:
//!
//! ```sh
//! cargo bench --bench replay
//! ```
//!
//! `REPRISE_BENCH_CALLS` (default 1000) and `REPRISE_BENCH_REPEAT`
//! (default 10) set the recorded calls and the repetitions of each;
//! `REPRISE_BENCH_CONCURRENCY` (default 100) the target's concurrency.

// The choke points of clippy.toml hold the library; tests and benchmarks
// read clocks, environment variables and gzip freely.
#![allow(clippy::disallowed_methods)]

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reprise::cost::PriceTable;
use reprise::ingest::Ingest;
use reprise::ingest::limits::Limits;
use reprise::model::{Call, CallId, Message, Source, Usage};
use reprise::providers::ProviderKind;
use reprise::replay::executor::RunEnd;
use reprise::replay::run::Selection;
use reprise::replay::{Engine, RunRequest, create_run, summary};
use reprise::store::{Store, StoreOptions};
use reprise::targets::{Budget, TargetSpec};

/// The allocator of the `reprise` binary, so the engine is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LATENCY_MS: u64 = 50;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU seconds of this process, from /proc (getrusage's
/// numbers, without `unsafe`).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let after = stat.rsplit_once(") ").map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let clock_ticks = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    (ticks(11) + ticks(12)) / clock_ticks
}

/// Peak resident set size in MiB (VmHWM).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmHWM:") {
            let kib: f64 = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(0.0);
            return kib / 1024.0;
        }
    }
    0.0
}

fn recorded_call(i: usize) -> Call {
    let start = 1_700_000_000_000_000_000u64 + i as u64 * 1_000_000;
    let mut call = Call::new(CallId::random(start), Source::Raw, start);
    call.service = Some("bench".into());
    call.provider = Some("openai".into());
    call.operation = Some("chat".into());
    call.request_model = Some("gpt-4o-mini".into());
    call.input_messages = Some(vec![
        Message::text(
            "system",
            "You are a helpful support assistant for an online shop. Answer briefly and politely, \
             and ask for the order number when the customer has not given it.",
        ),
        Message::text(
            "user",
            format!("Where is my order number {i}? It has been a week."),
        ),
    ]);
    call.output_messages = Some(vec![Message::text(
        "assistant",
        "Let me check that for you.",
    )]);
    call.usage = Usage {
        input_tokens: Some(48),
        output_tokens: Some(7),
        ..Usage::default()
    };
    call.request_params.max_tokens = Some(64);
    call
}

fn main() -> anyhow::Result<()> {
    let calls = env_number("REPRISE_BENCH_CALLS", 1000);
    let repeat = env_number("REPRISE_BENCH_REPEAT", 10) as u32;
    let concurrency = env_number("REPRISE_BENCH_CONCURRENCY", 100);
    let dir = tempfile::tempdir()?;

    let fake_config = dir.path().join("fake.toml");
    std::fs::write(
        &fake_config,
        format!(
            "max_recorded_requests = 1000\n[default]\ntiming = {{ latency_ms = {LATENCY_MS} }}\n"
        ),
    )?;
    let mut fake = Command::new(env!("CARGO_BIN_EXE_reprise"))
        .args([
            "dev",
            "fake-provider",
            "--listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&fake_config)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    if let Some(stdout) = fake.stdout.take() {
        std::io::BufReader::new(stdout).read_line(&mut line)?;
    }
    let base_url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("the fake provider printed no address: {line:?}"))?;

    let runtime = tokio::runtime::Runtime::new()?;
    let outcome = runtime.block_on(async {
        let store = Store::open(&StoreOptions::new(dir.path().join("bench.db"))).await?;
        let prices = std::sync::Arc::new(PriceTable::load(None)?);
        let ingest = Ingest::new(store.clone(), Limits::default(), prices);
        let mut recorded = Vec::with_capacity(calls);
        for i in 0..calls {
            recorded.push(recorded_call(i));
        }
        for chunk in recorded.chunks(200) {
            ingest.store_calls(chunk.to_vec()).await?;
        }
        let (engine, sink) = Engine::new(ingest.clone())?;
        let mut target = TargetSpec::new(
            "fake",
            ProviderKind::OpenAi,
            &format!("{base_url}/v1"),
            "bench-model",
        );
        target.max_concurrency = concurrency;
        let request = RunRequest {
            name: Some("bench".into()),
            selection: Selection::default(),
            targets: vec![target],
            repeat,
            overrides: Default::default(),
            budget: Budget::default(),
            stream: true,
            allow_drop: Default::default(),
        };
        let run = create_run(&store, ingest.project_id, request, Some(engine.owner()))
            .await?
            .run;
        let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let cpu_before = cpu_seconds();
        let started = Instant::now();
        let end = engine.execute(&run.id, stop_rx).await?;
        let wall = started.elapsed();
        let cpu = cpu_seconds() - cpu_before;
        let summary = summary::summarize(&store.reader, &run).await?;
        // The writer stops once every handle on its queue is gone: the
        // engine's (through the sink) and this ingest's.
        drop(engine);
        let _ = sink.await;
        drop(ingest);
        store.close().await;
        anyhow::Ok((end, wall, cpu, summary))
    });
    let _ = fake.kill();
    let _ = fake.wait();
    let (end, wall, cpu, summary) = outcome?;
    anyhow::ensure!(
        end == RunEnd::Finished(reprise::replay::RunState::Done),
        "run ended {end:?}"
    );
    let items = summary.progress.total;
    let ideal = Duration::from_millis(LATENCY_MS) * (items as u32).div_ceil(concurrency as u32);
    let target = &summary.targets[0];
    println!(
        "replay benchmark: {items} replays, {concurrency} concurrent, {LATENCY_MS} ms latency"
    );
    println!(
        "  done {} failed {}",
        summary.progress.done, summary.progress.failed
    );
    println!(
        "  wall time        {:.2} s (ideal {:.2} s, {:+.1}%)",
        wall.as_secs_f64(),
        ideal.as_secs_f64(),
        (wall.as_secs_f64() / ideal.as_secs_f64() - 1.0) * 100.0
    );
    println!(
        "  throughput       {:.0} replays/s",
        items as f64 / wall.as_secs_f64()
    );
    println!(
        "  CPU per replay   {:.3} ms ({:.2} s user+system in total)",
        cpu * 1000.0 / items as f64,
        cpu
    );
    println!("  peak RSS         {:.1} MiB", peak_rss_mib());
    println!(
        "  latency p50/p95  {:.1} / {:.1} ms, TTFT p50 {:.1} ms",
        target.latency_p50_ms.unwrap_or(f64::NAN),
        target.latency_p95_ms.unwrap_or(f64::NAN),
        target.ttft_p50_ms.unwrap_or(f64::NAN)
    );
    Ok(())
}
