//! `GET /metrics`: the Prometheus text format, and ingest counters that
//! move by what was sent, over both transports and for raw records.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use serde_json::json;

use crate::calls_expected::settle;
use crate::fixtures;
use crate::server::TestServer;

/// One series of a scrape.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Parses the text exposition format (what reprise renders: no
/// timestamps, escaped label values).
pub fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a value after the series");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
            None => (series, Vec::new()),
        };
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut key = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            if c != ',' {
                key.push(c);
            }
        }
        if key.is_empty() {
            return labels;
        }
        assert_eq!(chars.next(), Some('"'), "label {key} opens a quote");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                other => value.push(other),
            }
        }
        labels.push((key, value));
    }
}

/// The sum of every series named `name` whose labels include `labels`.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut total = 0.0;
    for sample in samples {
        let matches = sample.name == name
            && labels
                .iter()
                .all(|(k, v)| sample.labels.iter().any(|(sk, sv)| sk == k && sv == v));
        if matches {
            total += sample.value;
        }
    }
    total
}

/// Whether a series named `name` with these labels exists at all.
pub fn has(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> bool {
    samples.iter().any(|sample| {
        sample.name == name
            && labels
                .iter()
                .all(|(k, v)| sample.labels.iter().any(|(sk, sv)| sk == k && sv == v))
    })
}

pub async fn scrape(server: &TestServer) -> Vec<Sample> {
    let response = reqwest::get(server.url("/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    parse(&text)
}

fn span_count(body: &[u8]) -> usize {
    let request = ExportTraceServiceRequest::decode(body).expect("traces decode");
    let mut count = 0;
    for resource in &request.resource_spans {
        for scope in &resource.scope_spans {
            count += scope.spans.len();
        }
    }
    count
}

#[tokio::test]
async fn metrics_answer_in_the_prometheus_text_format() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let text = response.text().await.expect("body");
    assert!(
        text.contains("# TYPE reprise_ingest_requests_total counter"),
        "{text}"
    );
    assert!(text.contains("# HELP reprise_write_queue_bytes "), "{text}");
    let samples = parse(&text);
    assert_eq!(
        value(&samples, "reprise_build_info", &[]),
        1.0,
        "build info is exposed"
    );
    assert_eq!(
        value(&samples, "reprise_write_queue_capacity_bytes", &[]),
        (64 << 20) as f64,
        "the default --max-queue-mb"
    );
    assert!(has(&samples, "reprise_write_queue_bytes", &[]));
    assert!(has(&samples, "reprise_linker_pending_links", &[]));
    // Outcomes and reasons start at zero rather than appearing on first use.
    assert!(has(
        &samples,
        "reprise_ingest_rejections_total",
        &[
            ("transport", "grpc"),
            ("signal", "logs"),
            ("reason", "overloaded")
        ]
    ));
}

#[tokio::test]
async fn ingest_counters_move_by_what_was_sent() {
    let server = TestServer::start().await;
    let before = scrape(&server).await;

    // Traces over HTTP.
    let traces = fixtures::read(&fixtures::root().join("otel-openai-v2-span/tool_call.pb"));
    let spans = span_count(&traces);
    server.post_protobuf("/v1/traces", traces.clone()).await;
    let client = reqwest::Client::new();

    // Logs over gRPC.
    let logs_path = fixtures::captures()
        .into_iter()
        .find(|c| c.is_logs)
        .expect("a logs fixture");
    let logs = ExportLogsServiceRequest::decode(fixtures::read(&logs_path.pb).as_slice())
        .expect("logs decode");
    let log_records: usize = logs
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    let mut grpc = LogsServiceClient::connect(server.grpc.clone())
        .await
        .expect("connect");
    grpc.export(logs).await.expect("export logs");

    // A refused request, and raw records (one valid, one not).
    let response = client
        .post(server.url("/v1/traces"))
        .header("content-type", "text/plain")
        .body("not OTLP")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 415);
    let response = client
        .post(server.url("/api/v1/calls"))
        .json(&json!([
            {"provider": "openai", "request_model": "metrics-test-model",
             "input_messages": [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}],
             "usage": {"input_tokens": 7, "output_tokens": 3},
             "start_time_unix_nano": 1_700_000_000_000_000_000u64, "duration_ms": 250.0},
            "not a record"
        ]))
        .send()
        .await
        .expect("post records");
    assert_eq!(response.status(), 200);
    settle(&server).await;

    let after = scrape(&server).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let http_traces = [("transport", "http"), ("signal", "traces")];
    assert_eq!(
        delta(
            "reprise_ingest_requests_total",
            &[http_traces[0], http_traces[1], ("outcome", "ok")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "reprise_ingest_spans_received_total",
            &[("transport", "http")]
        ),
        spans as f64
    );
    assert_eq!(
        delta("reprise_ingest_received_bytes_total", &http_traces),
        traces.len() as f64,
        "payload bytes of the accepted request (the refused one was never read)"
    );
    assert_eq!(
        delta(
            "reprise_ingest_requests_total",
            &[("transport", "grpc"), ("signal", "logs"), ("outcome", "ok")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "reprise_ingest_log_records_received_total",
            &[("transport", "grpc")]
        ),
        log_records as f64
    );
    assert_eq!(
        delta(
            "reprise_ingest_rejections_total",
            &[http_traces[0], http_traces[1], ("reason", "content_type")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "reprise_ingest_requests_total",
            &[("signal", "calls"), ("outcome", "partial")]
        ),
        1.0,
        "one of the two records was refused"
    );
    assert_eq!(delta("reprise_ingest_raw_records_received_total", &[]), 2.0);
    assert_eq!(delta("reprise_ingest_raw_records_rejected_total", &[]), 1.0);

    let raw_call = [
        ("source", "raw"),
        ("provider", "openai"),
        ("model", "metrics-test-model"),
    ];
    assert_eq!(delta("reprise_llm_calls_total", &raw_call), 1.0);
    assert_eq!(
        delta(
            "reprise_llm_tokens_total",
            &[raw_call[0], raw_call[1], raw_call[2], ("type", "input")]
        ),
        7.0
    );
    assert_eq!(
        delta("reprise_llm_call_duration_seconds_sum", &raw_call),
        0.25
    );
    assert!(
        delta("reprise_llm_calls_total", &[("source", "otlp")]) >= 1.0,
        "the span's call is counted"
    );
    assert!(delta("reprise_store_commits_total", &[("outcome", "ok")]) >= 3.0);
    assert!(delta("reprise_store_inserted_rows_total", &[("table", "spans")]) >= spans as f64);
    // Commits went to the write-ahead log, which /healthz reports as well.
    let wal = value(&after, "reprise_store_wal_bytes", &[]);
    assert!(wal > 0.0, "the write-ahead log holds the commits: {wal}");
    let health = server.health().await;
    assert!(
        health["wal_bytes"].as_u64().is_some_and(|b| b > 0),
        "{health}"
    );
}

#[tokio::test]
async fn a_resent_call_is_counted_once() {
    let server = TestServer::start().await;
    let record = json!({"provider": "anthropic", "request_model": "metrics-resend-model",
        "input_messages": [{"role": "user", "parts": [{"type": "text", "content": "again"}]}],
        "start_time_unix_nano": 1_700_000_000_000_000_000u64, "duration_ms": 10.0});
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let response = client
            .post(server.url("/api/v1/calls"))
            .json(&record)
            .send()
            .await
            .expect("post record");
        assert_eq!(response.status(), 200);
    }
    let samples = scrape(&server).await;
    assert_eq!(
        value(
            &samples,
            "reprise_llm_calls_total",
            &[("model", "metrics-resend-model")]
        ),
        1.0,
        "the second post stored nothing new"
    );
    assert_eq!(
        value(&samples, "reprise_ingest_raw_records_received_total", &[]),
        2.0
    );
}
