//! `reprise backup` while ingestion runs, `reprise check`, and `reprise
//! restore`: a backup holds everything acknowledged before it began, and a
//! restored database serves it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use prost::Message as _;

use crate::generate::{self, hex};
use crate::server::TestServer;

fn reprise(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .args(args)
        .output()
        .expect("run reprise")
}

#[tokio::test]
async fn a_backup_taken_during_ingest_restores_everything_acknowledged_before_it() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("live.db");
    let server = TestServer::start_on(&db, &[]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut exporters = Vec::new();
    for _ in 0..3 {
        let url = server.url("/v1/traces");
        let (stop, acked) = (stop.clone(), acked_tx.clone());
        exporters.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let spans: Vec<_> = (0..20).map(|_| generate::span("backup")).collect();
                let ids: Vec<String> = spans.iter().map(|s| hex(&s.trace_id)).collect();
                let response = client
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(generate::request(spans).encode_to_vec())
                    .send()
                    .await
                    .expect("send");
                if response.status() == 200 {
                    for id in ids {
                        let _ = acked.send(id);
                    }
                }
            }
        }));
    }
    let mut before = Vec::new();
    while before.len() < 300 {
        before.push(acked_rx.recv().await.expect("exporting"));
    }
    let backup_path = dir.path().join("backup.db");
    let output = tokio::task::spawn_blocking({
        let (db, backup_path) = (db.clone(), backup_path.clone());
        move || {
            reprise(&[
                "backup".as_ref(),
                backup_path.as_os_str(),
                "--db".as_ref(),
                db.as_os_str(),
            ])
        }
    })
    .await
    .expect("backup thread");
    stop.store(true, Ordering::Relaxed);
    for exporter in exporters {
        exporter.await.expect("exporter");
    }
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("integrity ok"));

    let check = reprise(&["check".as_ref(), "--db".as_ref(), backup_path.as_os_str()]);
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{report}");
    assert!(
        report.contains("integrity: ok") && report.contains("spans"),
        "{report}"
    );

    let restored = dir.path().join("restored.db");
    let output = reprise(&[
        "restore".as_ref(),
        backup_path.as_os_str(),
        "--db".as_ref(),
        restored.as_os_str(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let again = reprise(&[
        "restore".as_ref(),
        backup_path.as_os_str(),
        "--db".as_ref(),
        restored.as_os_str(),
    ]);
    assert!(
        !again.status.success(),
        "restoring over a database needs --force"
    );

    let server = TestServer::start_on(&restored, &[]).await;
    let client = reqwest::Client::new();
    for trace_id in &before {
        let response = client
            .get(server.url(&format!("/api/v1/traces/{trace_id}")))
            .send()
            .await
            .expect("get");
        assert_eq!(
            response.status(),
            200,
            "trace {trace_id} acknowledged before the backup"
        );
    }
}

#[tokio::test]
async fn check_reports_a_damaged_file() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("damaged.db");
    let mut server = TestServer::start_on(&db, &[]).await;
    let spans: Vec<_> = (0..200).map(|_| generate::span("x")).collect();
    reqwest::Client::new()
        .post(server.url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(generate::request(spans).encode_to_vec())
        .send()
        .await
        .expect("send");
    server.stop().await;
    let mut bytes = std::fs::read(&db).expect("read");
    // Overwrite the b-tree page headers of a few pages with garbage.
    for page in 2..6 {
        for byte in &mut bytes[page * 4096..page * 4096 + 16] {
            *byte = 0x5a;
        }
    }
    std::fs::write(&db, bytes).expect("write");
    let check = reprise(&["check".as_ref(), "--db".as_ref(), db.as_os_str()]);
    assert!(
        !check.status.success(),
        "a damaged database fails the check"
    );
}
