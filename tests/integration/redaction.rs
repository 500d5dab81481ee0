//! Redaction before storage, through the real interfaces: each detector's
//! secret sent in message content and in attributes (span, event, link,
//! resource, log body and attributes, raw records), read back through the
//! API as `[REDACTED:…]`, and then searched for in the stopped database
//! (every column, every decompressed pack, the raw file and WAL bytes)
//! with `reprise check --find`, and in the raw bytes once more here.

use std::path::Path;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use prost::Message as _;
use serde_json::{Value, json};

use crate::generate::{self, hex, string_attr};
use crate::server::TestServer;

/// One secret per detector, with the label its replacement carries.
const SECRETS: &[(&str, &str)] = &[
    ("openai_key", "sk-proj-Qm3vX8kL2pR7tY1wZ4nB6cD9fG0hJ5sA"),
    (
        "anthropic_key",
        "sk-ant-api03-Hq7Lm2Vx9Kp4Rt8Wz1Nb5Cd3Fg6Js0Ae",
    ),
    ("aws_access_key_id", "AKIAQ7XK2M9P4R8TW3ZB"),
    ("github_token", "ghp_7Hq2Lm9Vx4Kp8Rt1Wz5Nb3Cd6Fg0Js2Ae7Yx"),
    ("google_api_key", "AIzaSyQ7xK2m9P4r8TW3zB6nC1dF5gH0jL2aE7y"),
    ("slack_token", "xoxb-240581937462-Qm3vX8kL2pR7tY1w"),
    ("stripe_key", "sk_live_4eQm3vX8kL2pR7tY1wZ4nB6c"),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.Qm3vX8kL2pR7tY1wZ4nB6cD9fG0hJ5sA",
    ),
    ("bearer_token", "Tk7Qm3vX8kL2pR7tY1wZ4nB6c"),
    ("email", "jane.doe-7431@example.org"),
    ("card", "4539 1488 0343 6467"),
    ("phone", "+1 415 555 0139"),
];

/// How each secret appears in text: bearer tokens after their scheme.
fn in_text(name: &str, secret: &str) -> String {
    if name == "bearer_token" {
        format!("Authorization: Bearer {secret}")
    } else {
        format!("see {secret} here")
    }
}

const REDACTION_FILE: &str = r#"
[default]
detectors = ["secrets", "email", "card", "phone"]

[[default.rules]]
name = "ticket"
pattern = "TICKET-[0-9]{5}"
"#;

const TICKET: &str = "TICKET-90210";
/// Sent alongside the secrets and not redacted: proves the searches can find.
const CANARY: &str = "canary-visible-4711";

fn content_with_every_secret() -> String {
    let mut text = format!("{CANARY}\n");
    for (name, secret) in SECRETS {
        text.push_str(&in_text(name, secret));
        text.push('\n');
    }
    text.push_str(TICKET);
    text
}

fn genai_span() -> opentelemetry_proto::tonic::trace::v1::Span {
    let mut span = generate::span("chat gpt-4o");
    let messages = json!([{"role": "user", "parts": [{"type": "text", "content": content_with_every_secret()}]}]);
    span.attributes = vec![
        string_attr("gen_ai.operation.name", "chat"),
        string_attr("gen_ai.provider.name", "openai"),
        string_attr("gen_ai.request.model", "gpt-4o"),
        string_attr("gen_ai.input.messages", &messages.to_string()),
    ];
    for (name, secret) in SECRETS {
        span.attributes
            .push(string_attr(&format!("app.{name}"), &in_text(name, secret)));
    }
    span.attributes.push(string_attr("app.ticket", TICKET));
    span.events = vec![Event {
        name: "note".into(),
        time_unix_nano: span.start_time_unix_nano,
        attributes: vec![string_attr("note.text", &in_text("email", SECRETS[9].1))],
        ..Default::default()
    }];
    span.links = vec![Link {
        trace_id: generate::random_bytes::<16>().to_vec(),
        span_id: generate::random_bytes::<8>().to_vec(),
        attributes: vec![string_attr(
            "link.text",
            &in_text("openai_key", SECRETS[0].1),
        )],
        ..Default::default()
    }];
    span
}

fn logs_request() -> ExportLogsServiceRequest {
    let body = AnyValue {
        value: Some(any_value::Value::StringValue(content_with_every_secret())),
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    string_attr("service.name", "redaction-test"),
                    string_attr("deployment.owner", &in_text("email", SECRETS[9].1)),
                ],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 1_700_000_000_000_000_000,
                    body: Some(body),
                    attributes: vec![KeyValue {
                        key: "log.card".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(in_text(
                                "card",
                                SECRETS[10].1,
                            ))),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn raw_record() -> Value {
    let content = content_with_every_secret();
    json!({
        "provider": "openai",
        "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]},
        "response": {"id": "chatcmpl-redaction", "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": in_text("phone", SECRETS[11].1)}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}},
        "start_time": 1_700_000_000_000_000_000u64,
        "duration_ms": 5.0,
        "user_id": SECRETS[9].1,
        "metadata": {"contact": in_text("email", SECRETS[9].1)},
    })
}

async fn post(server: &TestServer, path: &str, content_type: &str, body: Vec<u8>) -> Value {
    let response = reqwest::Client::new()
        .post(server.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("send");
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Every secret is gone from `text` and its replacement is there.
fn assert_redacted(what: &str, text: &str) {
    for (name, secret) in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} still holds the {name}: {text}"
        );
        assert!(
            text.contains(&format!("[REDACTED:{name}]")),
            "{what} lacks [REDACTED:{name}]: {text}"
        );
    }
    assert!(!text.contains(TICKET), "{what} still holds the ticket");
    assert!(text.contains("[REDACTED:ticket]"), "{what}: {text}");
    assert!(text.contains(CANARY), "{what} lost unredacted text: {text}");
}

/// `reprise check --find`: whether the text is stored nowhere, and the report.
pub fn check_find(db: &Path, text: &str) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .args(["check", "--db", db.to_str().expect("path"), "--find", text])
        .output()
        .expect("reprise check");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn raw_bytes_contain(db: &Path, needle: &str) -> bool {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    for path in [db.to_path_buf(), wal.into()] {
        if let Ok(bytes) = std::fs::read(&path)
            && memchr::memmem::find(&bytes, needle.as_bytes()).is_some()
        {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn every_detector_redacts_content_and_attributes_before_they_reach_the_disk() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let config = dir.path().join("redaction.toml");
    std::fs::write(&config, REDACTION_FILE).expect("write config");
    let mut server =
        TestServer::start_on(&db, &["--redaction", config.to_str().expect("path")]).await;

    let span = genai_span();
    let trace_id = hex(&span.trace_id);
    let mut traces = generate::request(vec![span]);
    if let Some(resource) = traces.resource_spans[0].resource.as_mut() {
        resource.attributes.push(string_attr(
            "deployment.token",
            &in_text("github_token", SECRETS[3].1),
        ));
    }
    post(
        &server,
        "/v1/traces",
        "application/x-protobuf",
        traces.encode_to_vec(),
    )
    .await;
    post(
        &server,
        "/v1/logs",
        "application/x-protobuf",
        logs_request().encode_to_vec(),
    )
    .await;
    let reply = post(
        &server,
        "/api/v1/calls",
        "application/json",
        raw_record().to_string().into_bytes(),
    )
    .await;
    let raw_id = reply["ids"][0].as_str().expect("raw id").to_owned();

    // Through the API: the span's attributes, event, link and resource.
    server.derived().await;
    let trace = server.get_json(&format!("/api/v1/traces/{trace_id}")).await;
    let trace_text = trace.to_string();
    assert_redacted("the trace", &trace_text);
    assert!(trace_text.contains("deployment.token"));
    assert!(!trace_text.contains(SECRETS[3].1), "resource attribute");

    // The span's call: message content.
    let call_id = trace["calls"][0]["id"]
        .as_str()
        .expect("span call")
        .to_owned();
    let call = server.get_json(&format!("/api/v1/calls/{call_id}")).await;
    let content = call["input_messages"][0]["parts"][0]["content"]
        .as_str()
        .expect("content");
    assert_redacted("the span call's message", content);
    assert!(
        content.contains('\n'),
        "JSON escapes survive redaction: {content:?}"
    );

    // The raw record: content, the recorded exchange, user id and metadata.
    let raw = server.get_json(&format!("/api/v1/calls/{raw_id}")).await;
    let content = raw["input_messages"][0]["parts"][0]["content"]
        .as_str()
        .expect("content");
    assert_redacted("the raw call's message", content);
    assert_eq!(raw["user_id"], "[REDACTED:email]");
    let raw_text = raw.to_string();
    for (name, secret) in SECRETS {
        assert!(!raw_text.contains(secret), "raw call holds the {name}");
    }

    server.stop().await;
    for (name, secret) in SECRETS {
        let (clean, report) = check_find(&db, secret);
        assert!(clean, "the {name} is on disk: {report}");
        assert!(report.contains("not found"), "{report}");
        assert!(!raw_bytes_contain(&db, secret), "raw bytes hold the {name}");
    }
    let (clean, report) = check_find(&db, TICKET);
    assert!(clean, "{report}");
    // The searches do find what was stored, compressed or not.
    let (clean, report) = check_find(&db, CANARY);
    assert!(!clean, "check --find missed stored text: {report}");
    assert!(report.contains("pack"), "{report}");
}

#[tokio::test]
async fn by_default_keys_are_redacted_and_emails_kept() {
    let mut server = TestServer::start().await;
    let text = format!("mail {} key {}", SECRETS[9].1, SECRETS[0].1);
    let mut span = generate::span("defaults");
    span.attributes.push(string_attr("app.text", &text));
    let trace_id = hex(&span.trace_id);
    post(
        &server,
        "/v1/traces",
        "application/x-protobuf",
        generate::request(vec![span]).encode_to_vec(),
    )
    .await;
    let trace = server.get_json(&format!("/api/v1/traces/{trace_id}")).await;
    let stored = trace.to_string();
    assert!(stored.contains("[REDACTED:openai_key]"), "{stored}");
    assert!(!stored.contains(SECRETS[0].1));
    assert!(stored.contains(SECRETS[9].1), "emails are opt-in: {stored}");
    let db = server.db_path();
    server.stop().await;
    assert!(check_find(&db, SECRETS[0].1).0);
}

#[tokio::test]
async fn each_project_gets_its_own_policy() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let config = dir.path().join("redaction.toml");
    std::fs::write(
        &config,
        "[projects.support]\ndetectors = [\"secrets\", \"email\"]\n",
    )
    .expect("write config");
    let support = crate::security::create_key(&db, "support", "support", &["ingest", "read"]);
    let sales = crate::security::create_key(&db, "sales", "sales", &["ingest", "read"]);
    let server = TestServer::start_on(&db, &["--redaction", config.to_str().expect("path")]).await;
    let email = SECRETS[9].1;
    for (key, expect_email) in [(&support, false), (&sales, true)] {
        let mut span = generate::span("policy");
        span.attributes
            .push(string_attr("app.text", &format!("write to {email}")));
        let trace_id = hex(&span.trace_id);
        let client = reqwest::Client::new();
        let response = client
            .post(server.url("/v1/traces"))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/x-protobuf")
            .body(generate::request(vec![span]).encode_to_vec())
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200);
        let trace: Value = client
            .get(server.url(&format!("/api/v1/traces/{trace_id}")))
            .header("authorization", format!("Bearer {key}"))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("JSON");
        assert_eq!(trace.to_string().contains(email), expect_email, "{trace}");
    }
}

fn reprise_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run reprise")
}

/// `reprise replay` and `reprise import` write into the file without the
/// server: they apply the policy the server recorded when it last started,
/// not only the built-in secrets policy.
#[tokio::test]
async fn the_cli_writes_with_the_policy_the_server_ran_with() {
    const REPLAYED: &str = "ada.lovelace@analytical.example";
    const IMPORTED: &str = "grace.hopper@cobol.example";
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let policy = dir.path().join("redaction.toml");
    std::fs::write(&policy, "[default]\ndetectors = [\"secrets\", \"email\"]\n").expect("policy");
    let mut server =
        TestServer::start_on(&db, &["--redaction", policy.to_str().expect("path")]).await;
    let stored = post(
        &server,
        "/api/v1/calls",
        "application/json",
        serde_json::to_vec(&json!({
            "provider": "openai",
            "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Who wrote the first program?"}]},
            "response": {"id": "chatcmpl-policy", "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Ada."}, "finish_reason": "stop"}]},
            "start_time": 1_765_000_000_000_000_000u64,
            "duration_ms": 5.0,
        }))
        .expect("JSON"),
    )
    .await;
    assert_eq!(stored["accepted"], 1, "{stored}");
    server.stop().await;

    // A model that answers with an email address.
    let fake = fake_provider::FakeProvider::start(
        "127.0.0.1:0".parse().expect("addr"),
        fake_provider::FakeConfig::with_default(fake_provider::Behavior {
            reply: fake_provider::ReplyStyle::Fixed,
            text: format!("Write to {REPLAYED} for the notes."),
            ..Default::default()
        }),
    )
    .await
    .expect("fake provider");
    let db_arg = db.to_str().expect("path").to_owned();
    let target_url = format!("{}/v1", fake.base_url());
    let replay = tokio::task::spawn_blocking({
        let db_arg = db_arg.clone();
        move || {
            reprise_cli(&[
                "replay",
                "--db",
                &db_arg,
                "--quiet",
                "--target-url",
                &target_url,
                "--target-model",
                "notes-model",
            ])
        }
    })
    .await
    .expect("join");
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );

    let records = dir.path().join("records.jsonl");
    let record = json!({
        "provider": "openai",
        "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Who wrote COBOL?"}]},
        "response": {"id": "chatcmpl-import", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("Ask {IMPORTED}.")}, "finish_reason": "stop"}]},
        "start_time": 1_765_000_001_000_000_000u64,
        "duration_ms": 5.0,
    });
    std::fs::write(&records, format!("{record}\n")).expect("records");
    let import = reprise_cli(&["import", "--db", &db_arg, records.to_str().expect("path")]);
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );

    for secret in [REPLAYED, IMPORTED] {
        let (clean, found) = check_find(&db, secret);
        assert!(clean, "{secret} is stored: {found}");
        assert!(
            !raw_bytes_contain(&db, secret),
            "{secret} in the file's bytes"
        );
    }
    // The answers were stored, redacted.
    let (clean, _) = check_find(&db, "[REDACTED:email]");
    assert!(!clean, "the redacted answers are stored");
}
