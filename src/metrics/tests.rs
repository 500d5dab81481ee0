//! Recording then rendering: each test records through the module's
//! functions and reads the series back from the rendered text. The
//! recorder is global to the test process and tests run in parallel, so
//! each test uses label values of its own and compares before and after.

use std::time::Duration;

use super::*;
use crate::error_code::ErrorCode;
use crate::model::CallSummary;
use crate::model::{CallId, CallStatus, Source, Usage};

/// One series of the rendered text.
struct Series {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Series {
    fn matches(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.name == name
            && labels
                .iter()
                .all(|(k, v)| self.labels.iter().any(|(sk, sv)| sk == k && sv == v))
    }
}

fn parse(text: &str) -> Vec<Series> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(f64::NAN);
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let mut labels = Vec::new();
                // Test label values hold no commas or quotes.
                for pair in rest.trim_end_matches('}').split(',') {
                    if let Some((k, v)) = pair.split_once('=') {
                        labels.push((k.to_owned(), v.trim_matches('"').to_owned()));
                    }
                }
                (name.to_owned(), labels)
            }
            None => (series.to_owned(), Vec::new()),
        };
        out.push(Series {
            name,
            labels,
            value,
        });
    }
    out
}

/// The sum of the series named `name` carrying all of `labels`.
fn value(name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut total = 0.0;
    for series in parse(&render()) {
        if series.matches(name, labels) {
            total += series.value;
        }
    }
    total
}

fn render() -> String {
    install().expect("recorder installs").render()
}

fn call(model: &str, status: CallStatus) -> CallSummary {
    CallSummary {
        call_id: CallId::derived(1, model.as_bytes()),
        source: Source::Raw,
        trace_id: None,
        span_id: None,
        service: None,
        provider: Some("openai".into()),
        operation: Some("chat".into()),
        request_model: Some(model.into()),
        response_model: Some(format!("{model}-2025-01-01")),
        response_id: None,
        start_time_unix_nano: 1,
        duration_ms: Some(1500.0),
        ttft_ms: None,
        streaming: None,
        usage: Usage {
            input_tokens: Some(100),
            output_tokens: Some(20),
            cached_input_tokens: None,
            reasoning_tokens: Some(-5),
        },
        cost_usd: Some(0.25),
        status,
        error_type: None,
        session_id: None,
        user_id: None,
    }
}

#[test]
fn install_twice_gives_the_same_recorder_with_help_and_defaults() {
    let first = install().expect("first install");
    let second = install().expect("second install");
    ::metrics::counter!("reprise_unit_test_probe_total").increment(3);
    assert!(first.render().contains("reprise_unit_test_probe_total 3"));
    assert!(second.render().contains("reprise_unit_test_probe_total 3"));
    let text = render();
    assert!(
        text.contains("# HELP reprise_ingest_requests_total Ingest requests answered"),
        "{text}"
    );
    assert_eq!(
        value(names::BUILD_INFO, &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );
    // Every rejection reason of every transport and signal exists at zero.
    for reason in ErrorCode::INGEST.iter().map(|code| code.label()) {
        let labels = [
            ("transport", "grpc"),
            ("signal", "logs"),
            ("reason", reason),
        ];
        assert!(
            parse(&text)
                .iter()
                .any(|series| series.matches(names::INGEST_REJECTIONS, &labels)),
            "{reason} is registered"
        );
    }
}

#[test]
fn a_partial_export_counts_the_request_items_and_bytes() {
    install().expect("recorder installs");
    let labels = [("transport", "grpc"), ("signal", "traces")];
    let partial = [labels[0], labels[1], ("outcome", "partial")];
    let grpc = [("transport", "grpc")];
    let before = (
        value(names::INGEST_REQUESTS, &partial),
        value(names::INGEST_SPANS_RECEIVED, &grpc),
        value(names::INGEST_SPANS_REJECTED, &grpc),
        value(names::INGEST_RECEIVED_BYTES, &labels),
        value("reprise_ingest_request_duration_seconds_count", &labels),
    );
    let received = Received {
        payload_bytes: 1000,
        items: Some(4),
    };
    otlp_export(
        Transport::Grpc,
        Signal::Traces,
        received,
        Export::Stored { rejected: 1 },
        Duration::from_millis(3),
    );
    assert_eq!(value(names::INGEST_REQUESTS, &partial) - before.0, 1.0);
    assert_eq!(value(names::INGEST_SPANS_RECEIVED, &grpc) - before.1, 4.0);
    assert_eq!(value(names::INGEST_SPANS_REJECTED, &grpc) - before.2, 1.0);
    assert_eq!(
        value(names::INGEST_RECEIVED_BYTES, &labels) - before.3,
        1000.0
    );
    assert_eq!(
        value("reprise_ingest_request_duration_seconds_count", &labels) - before.4,
        1.0
    );
}

#[test]
fn a_refused_export_counts_its_reason_and_all_its_items_as_rejected() {
    install().expect("recorder installs");
    let labels = [("transport", "grpc"), ("signal", "logs")];
    let reason = [labels[0], labels[1], ("reason", "all_rejected")];
    let rejected = [labels[0], labels[1], ("outcome", "rejected")];
    let grpc = [("transport", "grpc")];
    let before = (
        value(names::INGEST_REJECTIONS, &reason),
        value(names::INGEST_REQUESTS, &rejected),
        value(names::INGEST_LOG_RECORDS_REJECTED, &grpc),
    );
    let received = Received {
        payload_bytes: 10,
        items: Some(2),
    };
    otlp_export(
        Transport::Grpc,
        Signal::Logs,
        received,
        Export::Refused(ErrorCode::AllRejected),
        Duration::from_millis(1),
    );
    assert_eq!(value(names::INGEST_REJECTIONS, &reason) - before.0, 1.0);
    assert_eq!(value(names::INGEST_REQUESTS, &rejected) - before.1, 1.0);
    assert_eq!(
        value(names::INGEST_LOG_RECORDS_REJECTED, &grpc) - before.2,
        2.0
    );
}

#[test]
fn stored_calls_are_counted_by_source_provider_model_and_status() {
    install().expect("recorder installs");
    let model = "unit-test-model-calls";
    let mut streamed = call(model, CallStatus::Ok);
    streamed.ttft_ms = Some(200.0);
    let failed = call(model, CallStatus::Error);
    calls_stored([&call(model, CallStatus::Ok), &streamed, &failed]);

    let ok = [
        ("source", "raw"),
        ("provider", "openai"),
        ("model", model),
        ("status", "ok"),
    ];
    assert_eq!(value(names::LLM_CALLS, &ok), 2.0);
    let error = [ok[0], ok[1], ok[2], ("status", "error")];
    assert_eq!(value(names::LLM_CALLS, &error), 1.0);
    let series = [("model", model)];
    let input = [series[0], ("type", "input")];
    assert_eq!(value(names::LLM_TOKENS, &input), 300.0);
    let reasoning = [series[0], ("type", "reasoning")];
    assert_eq!(
        value(names::LLM_TOKENS, &reasoning),
        0.0,
        "negative counts are ignored"
    );
    assert!((value(names::LLM_COST_USD, &series) - 0.75).abs() < 1e-9);
    assert_eq!(
        value("reprise_llm_call_duration_seconds_count", &series),
        3.0
    );
    assert!((value("reprise_llm_call_duration_seconds_sum", &series) - 4.5).abs() < 1e-9);
    assert_eq!(
        value("reprise_llm_time_to_first_token_seconds_count", &series),
        1.0,
        "only the streamed call has a TTFT"
    );
}

#[test]
fn latency_histograms_have_buckets_from_one_millisecond_to_a_minute() {
    install().expect("recorder installs");
    let model = "unit-test-model-buckets";
    calls_stored([&call(model, CallStatus::Ok)]);
    let text = render();
    let buckets: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("reprise_llm_call_duration_seconds_bucket") && l.contains(model))
        .collect();
    assert!(
        buckets.iter().any(|l| l.contains("le=\"0.001\"")),
        "{buckets:?}"
    );
    assert!(
        buckets.iter().any(|l| l.contains("le=\"60\"")),
        "{buckets:?}"
    );
    // 1.5 s falls in the 2.5 s bucket, not the 1 s one.
    let bucket = |le: &str| {
        value(
            "reprise_llm_call_duration_seconds_bucket",
            &[("model", model), ("le", le)],
        )
    };
    assert_eq!(bucket("1"), 0.0);
    assert_eq!(bucket("2.5"), 1.0);
    assert!(text.contains("# TYPE reprise_llm_call_duration_seconds histogram"));
}

#[test]
fn the_model_label_falls_back_to_the_response_model() {
    install().expect("recorder installs");
    let mut only_response = call("ignored", CallStatus::Ok);
    only_response.request_model = None;
    only_response.response_model = Some("unit-test-response-model".into());
    calls_stored([&only_response]);
    assert_eq!(
        value(names::LLM_CALLS, &[("model", "unit-test-response-model")]),
        1.0
    );
}

#[test]
fn replay_items_errors_latency_and_cost_are_recorded_by_target() {
    install().expect("recorder installs");
    let target = [("target", "unit-test-target")];
    replay_item_finished(
        "unit-test-target",
        ReplayOutcome::Done,
        Some(Duration::from_millis(800)),
        Some(Duration::from_millis(90)),
        Some(0.01),
    );
    replay_item_finished("unit-test-target", ReplayOutcome::Failed, None, None, None);
    replay_attempt_failed("unit-test-target", "rate_limited");
    let done = [target[0], ("outcome", "done")];
    let failed = [target[0], ("outcome", "failed")];
    assert_eq!(value(names::REPLAY_ITEMS, &done), 1.0);
    assert_eq!(value(names::REPLAY_ITEMS, &failed), 1.0);
    let reason = [target[0], ("reason", "rate_limited")];
    assert_eq!(value(names::REPLAY_ATTEMPT_ERRORS, &reason), 1.0);
    assert_eq!(value("reprise_replay_latency_seconds_count", &target), 1.0);
    assert_eq!(
        value("reprise_replay_time_to_first_token_seconds_count", &target),
        1.0
    );
    assert!((value(names::REPLAY_COST_USD, &target) - 0.01).abs() < 1e-12);
}

/// The only test that sets the backlog gauges: the runs gauge has no label
/// of its own to keep parallel tests apart.
#[test]
fn backlog_gauges_follow_the_store_and_drained_targets_read_zero() {
    install().expect("recorder installs");
    let drained = [("target", "unit-test-drained")];
    let busy = [("target", "unit-test-busy")];
    let both = [
        ("unit-test-drained".to_owned(), 3),
        ("unit-test-busy".to_owned(), 5),
    ];
    replay_backlog(2, &both);
    assert_eq!(value(names::REPLAY_RUNS_ACTIVE, &[]), 2.0);
    assert_eq!(value(names::REPLAY_ITEMS_PENDING, &drained), 3.0);
    assert_eq!(value(names::REPLAY_ITEMS_PENDING, &busy), 5.0);
    // The store reports only targets with pending items.
    replay_backlog(1, &[("unit-test-busy".to_owned(), 4)]);
    assert_eq!(value(names::REPLAY_RUNS_ACTIVE, &[]), 1.0);
    assert_eq!(value(names::REPLAY_ITEMS_PENDING, &drained), 0.0);
    assert_eq!(value(names::REPLAY_ITEMS_PENDING, &busy), 4.0);
}
