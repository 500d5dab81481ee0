//! Issue 20: log records without a trace id (the OTLP examples'
//! `events.json`) were stored but no endpoint read them. `GET
//! /api/v1/logs` lists every record by filter, with cursor paging.

use std::collections::BTreeSet;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use serde_json::Value;

use crate::generate::{random_bytes, string_attr};
use crate::server::TestServer;

const T0: u64 = 1_780_000_000_000_000_000;
const SECOND: u64 = 1_000_000_000;

/// Record `i` of a service: severity cycles INFO, WARN, ERROR; every third
/// one is an event; only record 7 belongs to a trace.
fn record(i: u64) -> LogRecord {
    let severity = [9, 13, 17][(i % 3) as usize];
    LogRecord {
        time_unix_nano: T0 + i * SECOND,
        observed_time_unix_nano: T0 + i * SECOND,
        severity_number: severity,
        severity_text: ["INFO", "WARN", "ERROR"][(i % 3) as usize].into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(format!(
                "record {i}: {}",
                if i == 4 {
                    "Disk Almost Full"
                } else {
                    "all fine"
                }
            ))),
        }),
        event_name: if i.is_multiple_of(3) {
            "app.checkout".into()
        } else {
            String::new()
        },
        attributes: vec![string_attr("app.step", &format!("step-{i}"))],
        trace_id: if i == 7 {
            random_bytes::<16>().to_vec()
        } else {
            Vec::new()
        },
        span_id: if i == 7 {
            random_bytes::<8>().to_vec()
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

fn request(service: &str, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![string_attr("service.name", service)],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "logs-test".into(),
                    ..Default::default()
                }),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn server_with_logs() -> TestServer {
    let server = TestServer::start().await;
    server
        .post_protobuf(
            "/v1/logs",
            request("shop", (0..12).map(record).collect()).encode_to_vec(),
        )
        .await;
    let mut other = record(100);
    other.body = Some(AnyValue {
        value: Some(any_value::Value::StringValue("from elsewhere".into())),
    });
    server
        .post_protobuf("/v1/logs", request("billing", vec![other]).encode_to_vec())
        .await;
    server.derived().await;
    server
}

fn time_of(log: &Value) -> u64 {
    let time = &log["time_unix_nano"];
    time.as_u64()
        .or_else(|| time.as_str()?.parse().ok())
        .expect("time")
}

/// Every record `query` lists, following cursors `limit` at a time, as
/// indexes of [`record`] (from their times).
async fn listed(server: &TestServer, query: &str, limit: usize) -> Vec<u64> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut path = format!("/api/v1/logs?limit={limit}&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = server.get_json(&path).await;
        let logs = page["logs"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: {page}"));
        assert!(logs.len() <= limit);
        found.extend(logs.iter().map(|l| (time_of(l) - T0) / SECOND));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return found,
        }
    }
    panic!("paging never ended for {query}");
}

#[tokio::test]
async fn logs_without_a_trace_are_listed_newest_first_in_pages() {
    let server = server_with_logs().await;
    let all = listed(&server, "", 5).await;
    let mut expected: Vec<u64> = (0..12).chain([100]).collect();
    expected.reverse();
    assert_eq!(all, expected, "every record once, newest first");
    let oldest_first = listed(&server, "order=asc", 4).await;
    assert_eq!(oldest_first, (0..12).chain([100]).collect::<Vec<_>>());

    let page = server
        .get_json("/api/v1/logs?limit=1&service=billing")
        .await;
    let log = &page["logs"][0];
    assert_eq!(log["body"]["stringValue"], "from elsewhere", "{page}");
    assert!(log["trace_id"].is_null());
    assert_eq!(
        log["resource"]["attributes"]["service.name"]["stringValue"],
        "billing"
    );
    assert_eq!(log["scope"]["name"], "logs-test");
}

#[tokio::test]
async fn each_filter_narrows_the_listing() {
    let server = server_with_logs().await;
    let set = |v: Vec<u64>| v.into_iter().collect::<BTreeSet<_>>();
    assert_eq!(
        set(listed(&server, "service=shop", 3).await),
        (0..12).collect()
    );
    assert_eq!(
        set(listed(&server, "service=shop&severity=warn", 2).await),
        (0..12).filter(|i| i % 3 != 0).collect()
    );
    assert_eq!(
        set(listed(&server, "severity=17", 2).await),
        (0..12).filter(|i| i % 3 == 2).collect()
    );
    assert_eq!(
        set(listed(&server, "event_name=app.checkout", 2).await),
        (0..12).filter(|i| i % 3 == 0).collect()
    );
    let since = T0 + 3 * SECOND;
    let until = T0 + 6 * SECOND;
    assert_eq!(
        set(listed(&server, &format!("since={since}&until={until}"), 2).await),
        (3..6).collect()
    );
    assert_eq!(listed(&server, "q=disk%20almost", 2).await, vec![4]);
    let mut step_1 = listed(&server, "q=STEP-1", 1).await;
    step_1.sort();
    assert_eq!(step_1, vec![1, 10, 11, 100], "step-1, -10, -11, -100");

    let traced = server.get_json("/api/v1/logs?limit=50&since=0").await;
    let trace_id = traced["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .find_map(|l| l["trace_id"].as_str())
        .expect("record 7 has a trace")
        .to_owned();
    assert_eq!(
        listed(&server, &format!("trace_id={trace_id}"), 5).await,
        vec![7]
    );

    for bad in [
        "severity=loud",
        "servce=shop",
        "trace_id=xyz",
        "cursor=nope",
    ] {
        let response = reqwest::get(server.url(&format!("/api/v1/logs?{bad}")))
            .await
            .expect("get");
        assert_eq!(response.status(), 400, "{bad}");
    }
}
