//! reprise exports its own traces when the standard OTEL_EXPORTER_OTLP_*
//! variables say so, without tracing its ingest path into itself.

use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};

use crate::server::TestServer;

async fn span_names(db: &std::path::Path) -> Vec<String> {
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .expect("open collector db");
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM spans")
        .fetch_all(&mut conn)
        .await
        .expect("query");
    conn.close().await.expect("close");
    names
}

#[tokio::test]
async fn api_spans_are_exported_to_the_configured_collector() {
    let collector = TestServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("reprise.db");
    let endpoint = collector.http.clone();
    let app = TestServer::start_with_env(
        &db,
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    )
    .await;
    let response = reqwest::get(app.url("/api/v1/traces/0123456789abcdef0123456789abcdef"))
        .await
        .expect("get");
    assert_eq!(response.status(), 404);
    let collector_db = collector.db_path();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let names = span_names(&collector_db).await;
        if names.iter().any(|n| n == "get_trace") {
            assert!(
                !names.iter().any(|n| n.contains("export")),
                "ingest work is not traced: {names:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no span arrived: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
