//! Nothing acknowledged is lost: not when the process is killed in the
//! middle of a stream of exports, and not on a graceful shutdown while
//! exports are in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use prost::Message as _;
use tokio::sync::mpsc;

use crate::generate::{self, hex};
use crate::server::TestServer;

/// Clients that export until told to stop, reporting each acknowledged trace id.
fn start_exporters(
    server: &TestServer,
    clients: usize,
    stop: Arc<AtomicBool>,
) -> (
    mpsc::UnboundedReceiver<String>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let (acked_tx, acked_rx) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let url = server.url("/v1/traces");
        let acked = acked_tx.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let spans: Vec<_> = (0..20).map(|_| generate::span("crash")).collect();
                let ids: Vec<String> = spans.iter().map(|s| hex(&s.trace_id)).collect();
                let body = generate::request(spans).encode_to_vec();
                let sent = client
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 200 => {
                        for id in ids {
                            let _ = acked.send(id);
                        }
                    }
                    // Refused or cut off: not acknowledged, so not promised.
                    _ => {}
                }
            }
        }));
    }
    (acked_rx, tasks)
}

async fn assert_all_stored(server: &TestServer, trace_ids: &[String]) {
    let client = reqwest::Client::new();
    for trace_id in trace_ids {
        let response = client
            .get(server.url(&format!("/api/v1/traces/{trace_id}")))
            .send()
            .await
            .expect("get");
        assert_eq!(
            response.status(),
            200,
            "acknowledged trace {trace_id} survived"
        );
    }
}

async fn receive_at_least(
    acked: &mut mpsc::UnboundedReceiver<String>,
    count: usize,
) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    while ids.len() < count {
        ids.push(acked.recv().await.expect("exporters are running"));
    }
    ids
}

#[tokio::test]
async fn acknowledged_spans_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("reprise.db");
    let mut server = TestServer::start_on(&db, &[]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (mut acked, tasks) = start_exporters(&server, 4, stop.clone());
    let mut ids = receive_at_least(&mut acked, 400).await;
    server.kill().await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("exporter");
    }
    while let Ok(id) = acked.try_recv() {
        ids.push(id);
    }
    let restarted = TestServer::start_on(&db, &[]).await;
    assert_all_stored(&restarted, &ids).await;
}

#[tokio::test]
async fn graceful_shutdown_drains_what_was_accepted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("reprise.db");
    let mut server = TestServer::start_on(&db, &[]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (mut acked, tasks) = start_exporters(&server, 4, stop.clone());
    let mut ids = receive_at_least(&mut acked, 200).await;
    let status = server.stop().await;
    assert!(
        status.success(),
        "SIGTERM ends with exit code 0: {status:?}"
    );
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("exporter");
    }
    while let Ok(id) = acked.try_recv() {
        ids.push(id);
    }
    let restarted = TestServer::start_on(&db, &[]).await;
    assert_all_stored(&restarted, &ids).await;
}
