//! The Grafana dashboards against a real Prometheus: Prometheus scrapes a
//! test server every second while every fixture is sent over HTTP and
//! gRPC (twice, with fresh trace ids, so counters and histograms move
//! between scrapes), with bad requests and raw records, and the raw
//! records are replayed against the fake provider (a steady target, a
//! flaky one, one that always fails); then every query of every panel in
//! dashboards/*.json runs through Prometheus' HTTP API and must return
//! data.
//!
//! Needs the `prometheus` binary (Debian's `prometheus` package). Without
//! it the test prints a note and passes, unless `REPRISE_REQUIRE_PROMETHEUS=1`
//! (as CI sets), which makes a missing binary a failure.
//!
//! Also here, needing no Prometheus: the dashboards are well-formed and
//! query only metrics reprise defines.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use fake_provider::{Behavior, FailureKind, FailureRule, FakeConfig, FakeProvider};

use crate::calls_expected::settle;
use crate::fixtures;
use crate::replay;
use crate::server::TestServer;

/// Replayed per round: the round's valid raw records.
const REPLAYED_PER_ROUND: usize = 3;
/// The fake provider's latency: long enough that a scrape falls while a
/// run still has items pending.
const FAKE_LATENCY_MS: u64 = 1500;

/// Stands in for Grafana's `$__rate_interval` and `$__range`: long enough to
/// cover the whole test, so a rate sees the samples before and after the
/// second round of traffic.
const TEST_WINDOW: &str = "10m";

/// The model the per-model dashboard is checked with: the raw records below
/// give it every kind of data (errors, tokens, cost, TTFT).
const CHECKED_MODEL: &str = "gpt-4o-mini";

fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

fn dashboards() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dashboards_dir())
        .expect("dashboards/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "dashboards found: {files:?}");
    let mut out = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        out.push((name, fixtures::read_json(&file)));
    }
    out
}

/// Every panel, including those nested in rows.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = dashboard["panels"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    while let Some(panel) = stack.pop() {
        if let Some(nested) = panel["panels"].as_array() {
            stack.extend(nested);
        }
        if panel["type"] != "row" {
            out.push(panel);
        }
    }
    out
}

/// A panel query, with where it came from for messages.
struct PanelQuery {
    place: String,
    expr: String,
}

fn panel_queries() -> Vec<PanelQuery> {
    let mut out = Vec::new();
    for (file, dashboard) in dashboards() {
        for panel in panels(&dashboard) {
            for target in panel["targets"].as_array().expect("targets") {
                out.push(PanelQuery {
                    place: format!(
                        "{file} / {} / {}",
                        panel["title"].as_str().unwrap_or("?"),
                        target["refId"].as_str().unwrap_or("?")
                    ),
                    expr: target["expr"].as_str().expect("expr").to_owned(),
                });
            }
        }
    }
    out
}

/// The metric names `src/metrics/names.rs` defines, read from its source so
/// this check never lags behind it.
fn defined_metric_names() -> HashSet<String> {
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/metrics/names.rs"))
            .expect("names.rs");
    let mut names = HashSet::new();
    for line in source.lines() {
        let Some(rest) = line.trim().strip_prefix("pub const ") else {
            continue;
        };
        if let Some((_, value)) = rest.split_once("= \"")
            && let Some(name) = value.strip_suffix("\";")
            && name.starts_with("reprise_")
        {
            names.insert(name.to_owned());
        }
    }
    assert!(names.len() > 20, "metric names found: {names:?}");
    names
}

/// The `reprise_…` identifiers a query mentions.
fn metrics_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut start = 0;
    while let Some(found) = expr[start..].find("reprise_") {
        let begin = start + found;
        let mut end = begin;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        out.push(expr[begin..end].to_owned());
        start = end;
    }
    out
}

#[test]
fn dashboards_are_well_formed_and_query_only_defined_metrics() {
    let defined = defined_metric_names();
    let mut uids = HashSet::new();
    for (file, dashboard) in dashboards() {
        let uid = dashboard["uid"].as_str().expect("uid");
        assert!(uids.insert(uid.to_owned()), "{file}: uid {uid} is reused");
        assert!(dashboard["title"].is_string(), "{file}: title");
        let variables = dashboard["templating"]["list"]
            .as_array()
            .expect("templating");
        assert!(
            variables
                .iter()
                .any(|v| v["name"] == "DS_PROMETHEUS" && v["type"] == "datasource"),
            "{file}: a DS_PROMETHEUS data source variable"
        );
        for panel in panels(&dashboard) {
            let title = panel["title"].as_str().expect("title");
            assert_eq!(
                panel["datasource"]["uid"], "${DS_PROMETHEUS}",
                "{file} / {title}: the panel's data source"
            );
            assert!(panel["gridPos"]["w"].is_u64(), "{file} / {title}: gridPos");
            let targets = panel["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{file} / {title}: no query");
            let mut refs = HashSet::new();
            for target in targets {
                let expr = target["expr"].as_str().expect("expr");
                assert!(
                    refs.insert(target["refId"].as_str().expect("refId")),
                    "{file} / {title}: refIds are unique"
                );
                assert_eq!(target["datasource"]["uid"], "${DS_PROMETHEUS}");
                let mentioned = metrics_in(expr);
                assert!(!mentioned.is_empty(), "{file} / {title}: {expr}");
                for metric in mentioned {
                    let base = ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|suffix| metric.strip_suffix(suffix))
                        .filter(|base| defined.contains(*base))
                        .unwrap_or(&metric);
                    assert!(
                        defined.contains(base),
                        "{file} / {title}: {metric} is not a reprise metric"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// A real Prometheus.

fn find_prometheus() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join("prometheus");
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    None
}

struct Prometheus {
    _child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`host:port`) every second.
    async fn start(binary: &Path, target: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: reprise\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("write config");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn prometheus");
        let prometheus = Prometheus {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        prometheus.wait_ready().await;
        prometheus
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = reqwest::get(format!("{}/-/ready", self.url)).await
                && response.status() == 200
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Prometheus never became ready: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn get(&self, path_and_query: &str) -> Value {
        let response = reqwest::get(format!("{}{path_and_query}", self.url))
            .await
            .expect("Prometheus API");
        response.json().await.expect("Prometheus answers JSON")
    }

    /// An instant query at the current time: `{status, data: {resultType, result}}`.
    async fn query(&self, expr: &str) -> Value {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", expr)
            .finish();
        self.get(&format!("/api/v1/query?{query}")).await
    }

    /// Values of `label` over the series of `metric`, as Grafana's
    /// `label_values(metric, label)` asks for them.
    async fn label_values(&self, metric: &str, label: &str) -> Vec<String> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("match[]", metric)
            .finish();
        let answer = self
            .get(&format!("/api/v1/label/{label}/values?{query}"))
            .await;
        assert_eq!(answer["status"], "success", "{answer}");
        answer["data"]
            .as_array()
            .expect("values")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// Waits until Prometheus has scraped reprise successfully after
    /// `after_unix_seconds` (no fixed sleep: polls the scrape's own timestamp).
    async fn wait_for_scrape_after(&self, after_unix_seconds: f64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            // `timestamp` gives a sample's own time only when applied to a
            // selector directly (on an expression it gives the query time).
            let answer = self
                .query("timestamp(up{job=\"reprise\"}) and up{job=\"reprise\"} == 1")
                .await;
            let scraped_at = answer["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok());
            if scraped_at.is_some_and(|t| t > after_unix_seconds) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Prometheus did not scrape reprise in time: {answer}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("address").port()
}

fn now_unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

// ---------------------------------------------------------------------------
// Traffic.

/// Changes every trace id so a fixture sent again is new data (the same
/// change for a fixture's traces and logs, so they still meet).
fn retag(trace_id: &mut [u8], variant: u8) {
    if let Some(last) = trace_id.last_mut() {
        *last ^= variant;
    }
}

fn retag_traces(request: &mut ExportTraceServiceRequest, variant: u8) {
    for resource in &mut request.resource_spans {
        for scope in &mut resource.scope_spans {
            for span in &mut scope.spans {
                retag(&mut span.trace_id, variant);
            }
        }
    }
}

fn retag_logs(request: &mut ExportLogsServiceRequest, variant: u8) {
    for resource in &mut request.resource_logs {
        for scope in &mut resource.scope_logs {
            for record in &mut scope.log_records {
                retag(&mut record.trace_id, variant);
            }
        }
    }
}

/// Every fixture over HTTP (protobuf) and over gRPC.
async fn send_fixtures(server: &TestServer, round: u8) {
    let mut traces_client = TraceServiceClient::connect(server.grpc.clone())
        .await
        .expect("connect");
    let mut logs_client = LogsServiceClient::connect(server.grpc.clone())
        .await
        .expect("connect");
    for capture in fixtures::captures() {
        let body = fixtures::read(&capture.pb);
        for (index, grpc) in [false, true].into_iter().enumerate() {
            let variant = round * 2 + index as u8 + 1;
            if capture.is_logs {
                let mut request =
                    ExportLogsServiceRequest::decode(body.as_slice()).expect("decode logs");
                retag_logs(&mut request, variant);
                if grpc {
                    logs_client.export(request).await.expect("gRPC logs");
                } else {
                    server
                        .post_protobuf("/v1/logs", request.encode_to_vec())
                        .await;
                }
            } else {
                let mut request =
                    ExportTraceServiceRequest::decode(body.as_slice()).expect("decode traces");
                retag_traces(&mut request, variant);
                if grpc {
                    traces_client.export(request).await.expect("gRPC traces");
                } else {
                    server
                        .post_protobuf("/v1/traces", request.encode_to_vec())
                        .await;
                }
            }
        }
    }
}

/// Refused and partly refused requests over both transports.
async fn send_bad_requests(server: &TestServer) {
    let client = reqwest::Client::new();
    let refused = [
        ("text/plain", None, "not OTLP", 415),
        ("application/json", None, "{not json", 400),
        ("application/x-protobuf", Some("br"), "whatever", 415),
    ];
    for (content_type, encoding, body, status) in refused {
        let mut request = client
            .post(server.url("/v1/traces"))
            .header("content-type", content_type);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        let response = request.body(body).send().await.expect("send");
        assert_eq!(response.status(), status, "{content_type} {encoding:?}");
    }

    // One span with a broken trace id beside valid ones: partial success.
    let capture = fixtures::captures()
        .into_iter()
        .find(|c| !c.is_logs)
        .expect("a traces fixture");
    let mut request =
        ExportTraceServiceRequest::decode(fixtures::read(&capture.pb).as_slice()).expect("decode");
    let scope = &mut request.resource_spans[0].scope_spans[0];
    let mut broken = scope.spans[0].clone();
    broken.trace_id = vec![1, 2, 3];
    scope.spans.push(broken.clone());
    let mut client = TraceServiceClient::connect(server.grpc.clone())
        .await
        .expect("connect");
    let response = client.export(request).await.expect("partial export");
    assert!(response.into_inner().partial_success.is_some());
    // Only broken spans: refused whole.
    let mut request =
        ExportTraceServiceRequest::decode(fixtures::read(&capture.pb).as_slice()).expect("decode");
    let scope = &mut request.resource_spans[0].scope_spans[0];
    scope.spans = vec![broken];
    let status = client.export(request).await.expect_err("all rejected");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}

/// Raw records: streamed (TTFT), failed, and invalid ones.
async fn send_raw_records(server: &TestServer, round: u8) {
    let start = 1_750_000_000_000_000_000u64 + u64::from(round) * 1_000_000_000;
    let call = |offset: u64, extra: Value| {
        let mut record = json!({
            "provider": "openai", "request_model": CHECKED_MODEL, "service": "metrics-test",
            "input_messages": [{"role": "user", "parts": [{"type": "text", "content": "Hello?"}]}],
            "output_messages": [{"role": "assistant", "parts": [{"type": "text", "content": "Hi."}]}],
            "usage": {"input_tokens": 1200, "output_tokens": 300, "cached_input_tokens": 200, "reasoning_tokens": 50},
            "start_time_unix_nano": start + offset, "duration_ms": 850.0,
        });
        if let (Some(record), Some(extra)) = (record.as_object_mut(), extra.as_object()) {
            record.extend(extra.clone());
        }
        record
    };
    let records = json!([
        call(0, json!({"streaming": true, "ttft_ms": 120.0})),
        call(1, json!({"streaming": true, "ttft_ms": 340.0})),
        call(
            2,
            json!({"status": "error", "error": {"type": "rate_limit", "message": "slow down"}})
        ),
        "not a record",
    ]);
    let client = reqwest::Client::new();
    let response = client
        .post(server.url("/api/v1/calls"))
        .json(&records)
        .send()
        .await
        .expect("post records");
    assert_eq!(response.status(), 200, "partly accepted");
    let response = client
        .post(server.url("/api/v1/calls"))
        .json(&json!([1, 2]))
        .send()
        .await
        .expect("post records");
    assert_eq!(response.status(), 400, "every record refused");
}

async fn send_round(server: &TestServer, round: u8) {
    send_fixtures(server, round).await;
    send_bad_requests(server).await;
    send_raw_records(server, round).await;
    settle(server).await;
}

// ---------------------------------------------------------------------------
// Replays.

/// Every model answers after [`FAKE_LATENCY_MS`], streamed; `flaky` fails
/// every second request with a 500 (retried), `dead` every request.
fn fake_config() -> FakeConfig {
    let mut steady = Behavior::default();
    steady.timing.latency_ms = FAKE_LATENCY_MS;
    steady.timing.chunk_delay_ms = 5;
    let mut flaky = steady.clone();
    flaky.failures.push(FailureRule::every(
        FailureKind::ServerError,
        std::num::NonZeroU64::MIN.saturating_add(1),
    ));
    let mut dead = steady.clone();
    dead.failures
        .push(FailureRule::always(FailureKind::ServerError));
    FakeConfig::with_default(steady)
        .with_model("flaky", flaky)
        .with_model("dead", dead)
}

/// Targets on the fake: `steady` (OpenAI, priced), `flaky` (Anthropic,
/// priced, retries), `dead` (no retries).
fn targets_toml(fake: &FakeProvider) -> String {
    let base = format!("{}/v1", fake.base_url());
    format!(
        r#"
[targets.steady]
kind = "openai"
base_url = "{base}"
model = "steady"
max_concurrency = 2
price = {{ input_per_1m = 1.0, output_per_1m = 2.0 }}

[targets.flaky]
kind = "anthropic"
base_url = "{base}"
model = "flaky"
max_tokens = 200
max_retries = 3
price = {{ input_per_1m = 3.0, output_per_1m = 15.0 }}

[targets.dead]
kind = "openai"
base_url = "{base}"
model = "dead"
max_retries = 0
"#
    )
}

/// The ids of this round's valid raw records (the newest recorded calls of
/// the test's service).
async fn raw_record_ids(server: &TestServer) -> Vec<String> {
    let page = server
        .get_json("/api/v1/calls?service=metrics-test&limit=100")
        .await;
    let mut ids = Vec::new();
    for call in page["calls"].as_array().expect("calls") {
        if call["source"] != "replay" && ids.len() < REPLAYED_PER_ROUND {
            ids.push(call["id"].as_str().expect("id").to_owned());
        }
    }
    assert_eq!(ids.len(), REPLAYED_PER_ROUND, "{page}");
    ids
}

/// Replays the round's raw records to every target, with a scrape while
/// the run is under way and one after it finished.
async fn replay_round(server: &TestServer, prometheus: &Prometheus) {
    let ids = raw_record_ids(server).await;
    let body = json!({"name": "metrics", "targets": ["steady", "flaky", "dead"], "ids": ids});
    let run = replay::start_replay(server, body).await;
    let id = run["id"].as_str().expect("run id");
    prometheus.wait_for_scrape_after(now_unix_seconds()).await;
    let run = replay::wait_finished(server, id).await;
    assert_eq!(run["state"], "done", "{run}");
}

/// The value of a query whose result is one series.
async fn scalar(prometheus: &Prometheus, expr: &str) -> f64 {
    let answer = prometheus.query(expr).await;
    answer["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{expr}: {answer}"))
}

/// What the replays must have recorded, beyond "the panels have data".
async fn check_replay_figures(prometheus: &Prometheus) {
    let rounds = 2.0;
    let per_round = REPLAYED_PER_ROUND as f64;
    let done = "sum(reprise_replay_items_total{target=\"steady\", outcome=\"done\"})";
    assert_eq!(scalar(prometheus, done).await, rounds * per_round);
    let failed = "sum(reprise_replay_items_total{target=\"dead\", outcome=\"failed\"})";
    assert_eq!(scalar(prometheus, failed).await, rounds * per_round);
    // No retries for `dead`: one failed attempt per item.
    let errors =
        "sum(reprise_replay_attempt_errors_total{target=\"dead\", reason=\"server_error\"})";
    assert_eq!(scalar(prometheus, errors).await, rounds * per_round);
    let retried = "sum(reprise_replay_attempt_errors_total{target=\"flaky\"})";
    assert!(scalar(prometheus, retried).await >= 1.0);
    let ttft = "sum(reprise_replay_time_to_first_token_seconds_count{target=\"steady\"})";
    assert_eq!(scalar(prometheus, ttft).await, rounds * per_round);
    let latency = format!(
        "histogram_quantile(0.5, sum by (le) (rate(reprise_replay_latency_seconds_bucket{{target=\"steady\"}}[{TEST_WINDOW}])))"
    );
    let latency_s = scalar(prometheus, &latency).await;
    assert!(
        latency_s >= FAKE_LATENCY_MS as f64 / 1000.0,
        "median replay latency {latency_s} s, the fake waits {FAKE_LATENCY_MS} ms"
    );
    assert!(
        scalar(
            prometheus,
            "sum(reprise_replay_cost_usd{target=\"steady\"})"
        )
        .await
            > 0.0
    );
    // A scrape fell while each run was under way, and the gauges went back
    // to zero once it finished.
    let busy = format!("max(max_over_time(reprise_replay_runs_active[{TEST_WINDOW}]))");
    assert!(scalar(prometheus, &busy).await >= 1.0);
    let pending = format!("max(max_over_time(reprise_replay_items_pending[{TEST_WINDOW}]))");
    assert!(scalar(prometheus, &pending).await >= 1.0);
    assert_eq!(
        scalar(prometheus, "sum(reprise_replay_runs_active)").await,
        0.0
    );
    assert_eq!(
        scalar(prometheus, "sum(reprise_replay_items_pending)").await,
        0.0
    );
}

/// Grafana's variables and intervals, replaced by what the test checks.
fn substitute(expr: &str, model: &str) -> String {
    expr.replace("$__rate_interval", TEST_WINDOW)
        .replace("$__range", TEST_WINDOW)
        .replace("$__interval", "15s")
        .replace("${model}", model)
        .replace("$model", model)
}

/// Grafana's `label_values(metric, label)` variable queries.
fn label_values_query(query: &str) -> (String, String) {
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unsupported variable query {query:?}"));
    let (metric, label) = inner
        .rsplit_once(',')
        .unwrap_or_else(|| panic!("label_values needs a metric and a label: {query:?}"));
    (metric.trim().to_owned(), label.trim().to_owned())
}

#[tokio::test]
async fn every_dashboard_panel_returns_data_from_a_real_prometheus() {
    let Some(binary) = find_prometheus() else {
        assert!(
            std::env::var("REPRISE_REQUIRE_PROMETHEUS").as_deref() != Ok("1"),
            "REPRISE_REQUIRE_PROMETHEUS=1 but no `prometheus` binary is on PATH \
             (install Debian's prometheus package)"
        );
        eprintln!(
            "note: skipping the dashboard check: no `prometheus` binary on PATH \
             (apt-get install prometheus)"
        );
        return;
    };
    let fake = FakeProvider::start("127.0.0.1:0".parse().expect("addr"), fake_config())
        .await
        .expect("fake provider");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("reprise.toml");
    std::fs::write(&config, targets_toml(&fake)).expect("write config");
    // Size limits far above what the test stores, so their gauges exist.
    let args = [
        "--config",
        config.to_str().expect("path"),
        "--max-db-mb",
        "1000",
        "--hard-limit-mb",
        "2000",
    ];
    let server = TestServer::start_on(&dir.path().join("reprise.db"), &args).await;
    let target = server
        .http
        .strip_prefix("http://")
        .expect("http URL")
        .to_owned();
    let prometheus = Prometheus::start(&binary, &target).await;
    prometheus.wait_for_scrape_after(0.0).await;

    // Two rounds with a scrape after each: every series exists at the first
    // scrape and has grown by the second, so rates and quantiles are real
    // numbers rather than the zero (or NaN) of a series seen once.
    for round in 0..2 {
        send_round(&server, round).await;
        replay_round(&server, &prometheus).await;
        prometheus.wait_for_scrape_after(now_unix_seconds()).await;
    }
    check_replay_figures(&prometheus).await;

    // The per-model dashboard's variables, as Grafana would fill them.
    let mut model_values = BTreeSet::new();
    for (file, dashboard) in dashboards() {
        for variable in dashboard["templating"]["list"].as_array().expect("list") {
            if variable["type"] != "query" {
                continue;
            }
            let query = variable["definition"].as_str().expect("definition");
            let (metric, label) = label_values_query(query);
            let values = prometheus.label_values(&metric, &label).await;
            assert!(!values.is_empty(), "{file}: variable {query} has no values");
            if variable["name"] == "model" {
                model_values.extend(values);
            }
        }
    }
    assert!(
        model_values.contains(CHECKED_MODEL),
        "the model variable offers {model_values:?}"
    );

    let mut failures = Vec::new();
    let mut checked = 0;
    for query in panel_queries() {
        let expr = substitute(&query.expr, CHECKED_MODEL);
        let answer = prometheus.query(&expr).await;
        if answer["status"] != "success" {
            failures.push(format!("{}: {expr}: {answer}", query.place));
            continue;
        }
        let result = answer["data"]["result"].as_array().expect("result");
        checked += 1;
        if result.is_empty() {
            failures.push(format!("{}: no data for {expr}", query.place));
            continue;
        }
        let finite = result.iter().any(|series| {
            series["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(f64::is_finite)
        });
        if !finite {
            failures.push(format!(
                "{}: only NaN or infinite values for {expr}: {answer}",
                query.place
            ));
        }
    }
    assert!(checked > 40, "panel queries checked: {checked}");
    assert!(
        failures.is_empty(),
        "{} of the dashboards' queries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
