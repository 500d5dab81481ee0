//! Retention by age and by size deletes the oldest data first and really
//! shrinks the file; a full database answers 503 with Retry-After and stays
//! intact.

use std::time::Duration;

use prost::Message as _;

use crate::generate::{self, hex};
use crate::server::TestServer;

/// Sends a request of `spans` spans with ~2 KB of distinct content each;
/// returns the HTTP status and the trace ids.
async fn send_heavy(server: &TestServer, spans: usize) -> (u16, Option<String>, Vec<String>) {
    let mut list = Vec::with_capacity(spans);
    let mut ids = Vec::with_capacity(spans);
    for _ in 0..spans {
        let mut span = generate::span("heavy");
        let text: String = (0..16)
            .map(|_| hex(&generate::random_bytes::<64>()))
            .collect::<Vec<_>>()
            .join(" ");
        span.attributes
            .push(generate::string_attr("payload", &text));
        ids.push(hex(&span.trace_id));
        list.push(span);
    }
    let response = reqwest::Client::new()
        .post(server.url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(generate::request(list).encode_to_vec())
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    (status, retry_after, ids)
}

async fn trace_status(server: &TestServer, trace_id: &str) -> u16 {
    reqwest::get(server.url(&format!("/api/v1/traces/{trace_id}")))
        .await
        .expect("get")
        .status()
        .as_u16()
}

async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

const FAST_RETENTION: [&str; 4] = ["--prune-interval", "100ms", "--blob-touch-after", "0s"];

#[tokio::test]
async fn retention_by_age_deletes_old_data_and_shrinks_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("age.db");
    let mut server = TestServer::start_on(&db, &[]).await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        let (status, _, batch) = send_heavy(&server, 100).await;
        assert_eq!(status, 200);
        ids.extend(batch);
    }
    server.stop().await;
    let full = file_size(&db);
    assert!(full > 2_000_000, "{full}");

    let mut args = vec!["--retention", "1s"];
    args.extend(FAST_RETENTION);
    let mut server = TestServer::start_on(&db, &args).await;
    let first = ids[0].clone();
    let last = ids[ids.len() - 1].clone();
    wait_until("old data is pruned", || async {
        trace_status(&server, &first).await == 404 && trace_status(&server, &last).await == 404
    })
    .await;
    let (status, _, fresh) = send_heavy(&server, 5).await;
    assert_eq!(status, 200);
    assert_eq!(
        trace_status(&server, &fresh[0]).await,
        200,
        "new data is kept"
    );
    server.stop().await;
    let pruned = file_size(&db);
    assert!(
        pruned < full / 4,
        "file shrank from {full} to {pruned} bytes"
    );
}

#[tokio::test]
async fn retention_by_size_keeps_the_newest_data_under_the_cap() {
    let mut args = vec!["--max-db-mb", "1"];
    args.extend(FAST_RETENTION);
    let server = TestServer::start_with_args(&args).await;
    let mut batches = Vec::new();
    for _ in 0..20 {
        let (status, _, ids) = send_heavy(&server, 100).await;
        assert_eq!(status, 200);
        batches.push(ids);
    }
    wait_until("the database is under its cap", || async {
        server.health().await["db_used_bytes"]
            .as_u64()
            .unwrap_or(u64::MAX)
            <= 1_100_000
    })
    .await;
    assert_eq!(
        trace_status(&server, &batches[0][0]).await,
        404,
        "the oldest data went first"
    );
    let newest = batches.last().expect("batches");
    assert_eq!(
        trace_status(&server, &newest[newest.len() - 1]).await,
        200,
        "the newest data stayed"
    );
}

#[tokio::test]
async fn a_full_database_answers_503_and_stays_intact() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("full.db");
    let mut server = TestServer::start_on(&db, &["--hard-limit-mb", "2"]).await;
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for _ in 0..60 {
        let (status, retry_after, ids) = send_heavy(&server, 50).await;
        match status {
            200 => acknowledged.extend(ids),
            503 => {
                refused = retry_after;
                break;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(
        refused.as_deref(),
        Some("1"),
        "a full database answers 503 with Retry-After"
    );
    assert!(!acknowledged.is_empty());
    server.stop().await;
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .arg("check")
        .arg("--db")
        .arg(&db)
        .output()
        .expect("check");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let server = TestServer::start_on(&db, &[]).await;
    for trace_id in &acknowledged {
        assert_eq!(
            trace_status(&server, trace_id).await,
            200,
            "acknowledged {trace_id}"
        );
    }
}

/// The database file and its write-ahead log, together.
fn files_bytes(db: &std::path::Path) -> u64 {
    let wal = std::path::PathBuf::from(format!("{}-wal", db.display()));
    file_size(db) + file_size(&wal)
}

/// What steady ingest of three times the size cap left behind.
struct Steady {
    /// The largest size of database + log seen after any request.
    peak_bytes: u64,
    /// The largest sizes of each, for the failure message.
    peak_db: u64,
    peak_wal: u64,
    first: String,
    last: String,
    refused: usize,
}

/// Exports heavy spans until three times `cap_bytes` were acknowledged,
/// watching the files' size after every request. A 503 (only with a hard
/// limit) must carry Retry-After and is retried.
async fn ingest_three_times_the_cap(server: &TestServer, cap_bytes: u64) -> Steady {
    let db = server.db_path();
    let mut acknowledged = 0u64;
    let mut steady = Steady {
        peak_bytes: 0,
        peak_db: 0,
        peak_wal: 0,
        first: String::new(),
        last: String::new(),
        refused: 0,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while acknowledged < 3 * cap_bytes {
        assert!(
            tokio::time::Instant::now() < deadline,
            "ingest kept going under the cap"
        );
        let (status, retry_after, ids) = send_heavy(server, 50).await;
        match status {
            200 => {
                // Each span carries ~2 KB of hex, which packs to about half.
                acknowledged += 50 * 1024;
                if steady.first.is_empty() {
                    steady.first = ids[0].clone();
                }
                steady.last = ids[ids.len() - 1].clone();
            }
            503 => {
                assert!(retry_after.is_some(), "a 503 carries Retry-After");
                steady.refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
        steady.peak_bytes = steady.peak_bytes.max(files_bytes(&db));
        steady.peak_db = steady.peak_db.max(file_size(&db));
        steady.peak_wal = steady.peak_wal.max(files_bytes(&db) - file_size(&db));
    }
    steady
}

/// The server's log lines about the write-ahead log, for a failure message.
fn checkpoint_lines(server: &TestServer) -> String {
    server
        .log_text()
        .lines()
        .filter(|line| line.contains("write-ahead log") || line.contains("checkpoint"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The slack README promises over `--max-db-mb` for the database file and
/// its write-ahead log together: a quarter of the cap, at least 4 MB.
fn promised_slack(cap_bytes: u64) -> u64 {
    (cap_bytes / 4).max(4 << 20)
}

#[tokio::test]
async fn the_size_cap_holds_under_steady_ingest_with_the_log_counted() {
    let cap: u64 = 8 << 20;
    let server =
        TestServer::start_with_args(&["--max-db-mb", "8", "--blob-touch-after", "0s"]).await;
    let steady = ingest_three_times_the_cap(&server, cap).await;
    assert_eq!(steady.refused, 0, "no hard limit, no refusal");
    assert!(
        steady.peak_bytes <= cap + promised_slack(cap),
        "database and log peaked at {} bytes against a cap of {cap} (file {}, log {}); checkpoints:\n{}",
        steady.peak_bytes,
        steady.peak_db,
        steady.peak_wal,
        checkpoint_lines(&server)
    );
    assert_eq!(
        trace_status(&server, &steady.first).await,
        404,
        "the oldest data went"
    );
    assert_eq!(
        trace_status(&server, &steady.last).await,
        200,
        "the newest data stayed"
    );
}

#[tokio::test]
async fn retention_keeps_working_when_the_hard_limit_is_hit() {
    let cap: u64 = 8 << 20;
    let server = TestServer::start_with_args(&[
        "--max-db-mb",
        "8",
        "--hard-limit-mb",
        "10",
        "--blob-touch-after",
        "0s",
    ])
    .await;
    let steady = ingest_three_times_the_cap(&server, cap).await;
    assert!(
        steady.peak_bytes <= cap + promised_slack(cap),
        "database and log peaked at {} bytes (file {}, log {}); checkpoints:\n{}",
        steady.peak_bytes,
        steady.peak_db,
        steady.peak_wal,
        checkpoint_lines(&server)
    );
    assert_eq!(
        trace_status(&server, &steady.last).await,
        200,
        "the newest data stayed"
    );
    assert!(
        !server.log_text().contains("no such savepoint"),
        "the writer's transactions stayed in step with SQLite"
    );
}
