//! Ingest in two stages: an export is acknowledged once it is appended, and
//! derived into spans, log records and calls behind the answer. These tests
//! hold derivation back (`--derive-pause`) to see each stage on its own:
//! what is visible before derivation, what a fresh read waits for, the
//! backlog's bound, SIGKILL between and inside derivation batches, and
//! that no secret outlives its derivation.

use std::path::Path;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::Value;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};

use crate::generate::{self, hex, string_attr};
use crate::redaction::check_find;
use crate::server::TestServer;

/// A span that is an LLM call whose prompt holds `word`.
fn llm_span(word: &str) -> Span {
    let mut span = generate::span("chat gpt-4o");
    span.attributes = vec![
        string_attr("gen_ai.operation.name", "chat"),
        string_attr("gen_ai.provider.name", "openai"),
        string_attr("gen_ai.request.model", "gpt-4o"),
        string_attr(
            "gen_ai.input.messages",
            &format!(
                r#"[{{"role":"user","parts":[{{"type":"text","content":"tell me about {word}"}}]}}]"#
            ),
        ),
    ];
    span
}

/// An export of `count` LLM spans, one word each (`{prefix}{i}`): its
/// protobuf and its words.
fn export(prefix: &str, count: usize) -> (Vec<u8>, Vec<String>) {
    let words: Vec<String> = (0..count).map(|i| format!("{prefix}x{i}")).collect();
    let spans = words.iter().map(|w| llm_span(w)).collect();
    (generate::request(spans).encode_to_vec(), words)
}

async fn post(server: &TestServer, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .expect("POST /v1/traces")
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = reqwest::get(server.url(path)).await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// The number of calls `q` finds, read fresh.
async fn calls_matching(server: &TestServer, q: &str) -> usize {
    let page = server
        .get_json(&format!("/api/v1/calls?q={q}&limit=1000&fresh=true"))
        .await;
    page["calls"].as_array().expect("calls").len()
}

async fn open(db: &Path) -> sqlx::SqliteConnection {
    SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .expect("open the database")
}

async fn count(conn: &mut sqlx::SqliteConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn an_export_is_visible_in_its_trace_before_it_is_derived() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let mut server = TestServer::start_on(&db, &["--derive-pause", "1h"]).await;
    let root = generate::span("POST /chat");
    let mut child = llm_span("pending");
    child.trace_id = root.trace_id.clone();
    child.parent_span_id = root.span_id.clone();
    let trace_id = hex(&root.trace_id);
    let response = post(
        &server,
        generate::request(vec![child, root]).encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200);

    let health = server.health().await;
    assert_eq!(health["pending_derive_exports"], 1, "{health}");
    assert_eq!(health["pending_derive_items"], 2, "{health}");
    assert!(
        health["pending_derive_bytes"].as_u64() > Some(0),
        "{health}"
    );
    assert!(health["pending_derive_oldest_age_seconds"].as_f64() >= Some(0.0));
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("reprise_derive_pending_items 2"),
        "{metrics}"
    );

    // The trace shows both spans at once; the call comes with derivation.
    let (status, trace) = get(&server, &format!("/api/v1/traces/{trace_id}")).await;
    assert_eq!(status, 200, "{trace}");
    assert_eq!(trace["spans"].as_array().expect("spans").len(), 2);
    assert_eq!(trace["roots"].as_array().expect("roots").len(), 1);
    assert_eq!(trace["calls"], serde_json::json!([]));
    let (_, calls) = get(&server, "/api/v1/calls").await;
    assert_eq!(calls["calls"], serde_json::json!([]), "not derived yet");

    // A clean stop derives what is pending before it exits.
    assert!(server.stop().await.success());
    let mut conn = open(&db).await;
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM ingest_log").await, 0);
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM calls").await, 1);
    conn.close().await.expect("close");

    let server = TestServer::start_on(&db, &[]).await;
    let (_, trace) = get(&server, &format!("/api/v1/traces/{trace_id}")).await;
    assert_eq!(trace["spans"].as_array().expect("spans").len(), 2);
    assert_eq!(trace["calls"].as_array().expect("calls").len(), 1);
}

#[tokio::test]
async fn a_fresh_read_waits_until_what_was_acknowledged_is_derived() {
    let server = TestServer::start_with_args(&["--derive-pause", "300ms"]).await;
    let (body, words) = export("fresh", 3);
    assert_eq!(post(&server, body).await.status(), 200);
    let page = server.get_json("/api/v1/calls?fresh=true").await;
    assert_eq!(page["calls"].as_array().expect("calls").len(), 3, "{page}");
    let stats = server
        .get_json("/api/v1/stats?group_by=none&fresh=true")
        .await;
    assert_eq!(stats["groups"][0]["count"], 3, "{stats}");
    assert_eq!(calls_matching(&server, &words[1]).await, 1);
    let (status, body) = get(&server, "/api/v1/calls?fresh=maybe").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_parameter");
}

#[tokio::test]
async fn past_the_backlog_bound_exports_are_refused_until_derivation_catches_up() {
    let server =
        TestServer::start_with_args(&["--derive-pause", "3s", "--max-backlog-mb", "0.02"]).await;
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for round in 0..200 {
        let (body, words) = export(&format!("bound{round}"), 20);
        let response = post(&server, body).await;
        match response.status().as_u16() {
            200 => acknowledged.extend(words),
            429 => {
                refused = Some(response);
                break;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    let refused = refused.expect("a 20 KB backlog refuses some of 200 exports");
    assert_eq!(refused.headers()["retry-after"], "1");
    // An OTLP/HTTP refusal is a protobuf `Status`; its message is text.
    let body = refused.bytes().await.expect("body");
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("wait to be derived"), "{text}");

    // gRPC is refused alike while the backlog is past its bound.
    let mut client = TraceServiceClient::connect(server.grpc.clone())
        .await
        .expect("connect");
    let status = client
        .export(generate::request(vec![llm_span("grpc")]))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    let health = server.health().await;
    assert!(
        health["pending_derive_bytes"].as_u64() >= Some(20 * 1024),
        "{health}"
    );

    // Retried as told, every export gets in; all of it is derived.
    let (body, words) = export("late", 20);
    loop {
        let response = post(&server, body.clone()).await;
        if response.status() == 200 {
            acknowledged.extend(words);
            break;
        }
        assert_eq!(response.status(), 429);
        let wait: u64 = response.headers()["retry-after"]
            .to_str()
            .expect("text")
            .parse()
            .expect("seconds");
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    server.derived().await;
    for word in [&acknowledged[0], &acknowledged[acknowledged.len() - 1]] {
        assert_eq!(calls_matching(&server, word).await, 1, "{word}");
    }
    let stats = server.get_json("/api/v1/stats?group_by=none").await;
    assert_eq!(stats["groups"][0]["count"], acknowledged.len(), "{stats}");
}

#[tokio::test]
async fn an_export_waiting_too_long_to_be_derived_refuses_the_next() {
    let server =
        TestServer::start_with_args(&["--derive-pause", "1h", "--max-backlog-age", "1s"]).await;
    let (body, _) = export("old", 1);
    assert_eq!(post(&server, body).await.status(), 200);
    // Polls the server's own clock of the backlog.
    loop {
        let health = server.health().await;
        if health["pending_derive_oldest_age_seconds"].as_f64() >= Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (body, _) = export("young", 1);
    let response = post(&server, body).await;
    assert_eq!(response.status(), 429);
    let body = response.bytes().await.expect("body");
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("oldest pending"), "{text}");
}

#[tokio::test]
async fn sigkill_between_and_inside_derivation_batches_derives_everything_once() {
    const EXPORTS: usize = 30;
    const SPANS: usize = 20;
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");

    // Accepted, not derived, and killed.
    let mut server = TestServer::start_on(&db, &["--derive-pause", "1h"]).await;
    let mut words = Vec::new();
    let mut bodies = Vec::new();
    for n in 0..EXPORTS {
        let (body, batch) = export(&format!("k{n}"), SPANS);
        assert_eq!(post(&server, body.clone()).await.status(), 200);
        words.extend(batch);
        bodies.push(body);
    }
    // A client retrying exports it already sent: stored once all the same.
    for body in bodies.iter().take(5) {
        assert_eq!(post(&server, body.clone()).await.status(), 200);
    }
    let pending = server.health().await["pending_derive_exports"]
        .as_u64()
        .expect("pending");
    assert_eq!(pending, (EXPORTS + 5) as u64);
    server.kill().await;

    // Killed again and again while deriving, two exports per batch: once
    // some batches have committed, the next is somewhere in its work.
    let mut last = pending;
    for _ in 0..3 {
        let mut server = TestServer::start_on(&db, &["--derive-batch-items", "40"]).await;
        loop {
            let now = server.health().await["pending_derive_exports"]
                .as_u64()
                .expect("pending");
            if now < last || now == 0 {
                last = now;
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.kill().await;
        if last == 0 {
            break;
        }
    }

    let mut server = TestServer::start_on(&db, &[]).await;
    server.derived().await;
    let stats = server.get_json("/api/v1/stats?group_by=none").await;
    assert_eq!(stats["groups"][0]["count"], EXPORTS * SPANS, "{stats}");
    for word in words.iter().step_by(37) {
        assert_eq!(calls_matching(&server, word).await, 1, "{word}");
    }
    assert!(server.stop().await.success());

    let mut conn = open(&db).await;
    let expected = (EXPORTS * SPANS) as i64;
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM ingest_log").await, 0);
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM spans").await,
        expected
    );
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM calls").await,
        expected
    );
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM calls_fts").await,
        expected,
        "one full-text entry per call"
    );
    assert_eq!(
        count(&mut conn, "SELECT SUM(n) FROM call_rollups WHERE kind = 0").await,
        expected,
        "each call counted once in the rollups"
    );
    conn.close().await.expect("close");
}

#[tokio::test]
async fn a_secret_in_an_export_is_redacted_in_its_pending_trace_and_gone_once_derived() {
    const SECRET: &str = "sk-proj-STAGEDstagedSTAGEDstaged0123456789abcdef";
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let mut server = TestServer::start_on(&db, &["--derive-pause", "1h"]).await;
    let span = llm_span(&format!("my key is {SECRET}"));
    let trace_id = hex(&span.trace_id);
    assert_eq!(
        post(&server, generate::request(vec![span]).encode_to_vec())
            .await
            .status(),
        200
    );
    let (_, trace) = get(&server, &format!("/api/v1/traces/{trace_id}")).await;
    let text = trace.to_string();
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("[REDACTED:openai_key]"), "{text}");
    // Until it is derived, the export holds the secret as it was sent.
    let (clean, report) = check_find(&db, SECRET);
    assert!(!clean && report.contains("not yet derived"), "{report}");
    assert!(server.stop().await.success());

    let mut conn = open(&db).await;
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM ingest_log").await, 0);
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM calls").await, 1);
    conn.close().await.expect("close");
    let (clean, report) = check_find(&db, SECRET);
    assert!(clean, "the secret is stored: {report}");
    for path in [db.clone(), db.with_extension("db-wal")] {
        if let Ok(bytes) = std::fs::read(&path) {
            assert!(
                memchr::memmem::find(&bytes, SECRET.as_bytes()).is_none(),
                "{} holds the secret",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn an_export_that_cannot_be_derived_is_set_aside_and_the_rest_are_derived() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let mut server = TestServer::start_on(&db, &["--derive-pause", "1h"]).await;
    let mut words = Vec::new();
    for n in 0..3 {
        let (body, batch) = export(&format!("bad{n}"), 2);
        assert_eq!(post(&server, body).await.status(), 200);
        words.push(batch);
    }
    server.kill().await;

    // The middle export's bytes are damaged on disk.
    let mut conn = SqliteConnectOptions::new()
        .filename(&db)
        .connect()
        .await
        .expect("open");
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM ingest_log ORDER BY seq")
        .fetch_all(&mut conn)
        .await
        .expect("seqs");
    assert_eq!(seqs.len(), 3);
    sqlx::query("UPDATE ingest_log SET body = x'28b52ffd0000deadbeef' WHERE seq = ?")
        .bind(seqs[1])
        .execute(&mut conn)
        .await
        .expect("damage");
    conn.close().await.expect("close");

    let server = TestServer::start_on(&db, &[]).await;
    server.derived().await;
    assert_eq!(calls_matching(&server, &words[0][0]).await, 1);
    assert_eq!(calls_matching(&server, &words[2][1]).await, 1);
    assert_eq!(calls_matching(&server, &words[1][0]).await, 0);
    let health = server.health().await;
    assert_eq!(health["derive_failed_exports"], 1, "{health}");
    let mut conn = open(&db).await;
    let kept: (i64, String) = sqlx::query_as("SELECT seq, error FROM ingest_failed")
        .fetch_one(&mut conn)
        .await
        .expect("set aside");
    assert_eq!(kept.0, seqs[1]);
    assert!(kept.1.contains("decompress"), "{}", kept.1);
    conn.close().await.expect("close");
}
