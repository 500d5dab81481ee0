//! New content that requests in flight at the same time share is packed
//! once: the second request waits for the first one's claim instead of
//! packing a copy nobody will read (store/blobs.rs). Checked in the stopped
//! server's database file: the packs that hold message text hold nothing
//! but the blobs that point into them.

use serde_json::{Value, json};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};

use crate::server::TestServer;

const REQUESTS: usize = 8;
const SPANS_PER_REQUEST: usize = 10;

fn attribute(key: &str, value: Value) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

/// A long system prompt, new to the store, that every request carries.
fn shared_prompt() -> String {
    (0..400)
        .map(|i| format!("Rule {i}: answer in the customer's language."))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One OTLP/JSON export of chat spans: the shared prompt, and a question
/// of its own per span.
fn export(request: usize, prompt: &str) -> Value {
    let mut spans = Vec::new();
    for i in 0..SPANS_PER_REQUEST {
        let question = format!(
            "Question {request}-{i}: where is my order, and when will the parcel with the \
             blue lamp and the spare cables finally arrive at the warehouse in Rotterdam?"
        );
        let input = json!([
            {"role": "system", "parts": [{"type": "text", "content": prompt}]},
            {"role": "user", "parts": [{"type": "text", "content": question}]},
        ]);
        let start = 1_790_000_000_000_000_000u64 + (request * 100 + i) as u64 * 1_000_000;
        spans.push(json!({
            "traceId": format!("{:032x}", 0xfeed_0000 + request * 100 + i),
            "spanId": format!("{:016x}", 0xabc_0000 + request * 100 + i),
            "name": "chat gpt-4o",
            "kind": 3,
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": (start + 500_000_000).to_string(),
            "attributes": [
                attribute("gen_ai.operation.name", json!("chat")),
                attribute("gen_ai.provider.name", json!("openai")),
                attribute("gen_ai.request.model", json!("gpt-4o")),
                attribute("gen_ai.input.messages", json!(input.to_string())),
            ],
            "status": {}
        }));
    }
    json!({"resourceSpans": [{
        "resource": {"attributes": [attribute("service.name", json!("content-once"))]},
        "scopeSpans": [{"scope": {"name": "content-once"}, "spans": spans}]
    }]})
}

#[tokio::test]
async fn content_shared_by_requests_in_flight_is_packed_once() {
    let mut server = TestServer::start().await;
    let prompt = shared_prompt();
    let client = reqwest::Client::new();
    let sends = (0..REQUESTS).map(|request| {
        let body = export(request, &prompt).to_string();
        let request = client
            .post(server.url("/v1/traces"))
            .header("content-type", "application/json")
            .body(body);
        async move { request.send().await.expect("POST").status() }
    });
    for status in futures::future::join_all(sends).await {
        assert_eq!(status, 200);
    }
    let db = server.db_path();
    assert!(server.stop().await.success());

    let mut conn = SqliteConnectOptions::new()
        .filename(&db)
        .read_only(true)
        .connect()
        .await
        .expect("open the database");
    // Per pack that holds blobs: its size, and the bytes its blobs take.
    let packs: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT p.id, p.raw_length, SUM(b.length) FROM packs p JOIN blobs b ON b.pack_id = p.id \
         GROUP BY p.id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("packs");
    assert!(!packs.is_empty(), "the prompts were stored as blobs");
    for (pack, size, live) in &packs {
        assert_eq!(
            size,
            live,
            "text pack {pack} holds {} bytes no blob points at",
            size - live
        );
    }
    let prompt_blobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM blobs WHERE length = ?")
        .bind(prompt.len() as i64)
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(prompt_blobs, 1);
    conn.close().await.expect("close");
}
