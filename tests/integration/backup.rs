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

/// A stopped server's database with about `megabytes` of distinct content.
async fn database_of(dir: &std::path::Path, megabytes: usize) -> std::path::PathBuf {
    let db = dir.join("source.db");
    let mut server = TestServer::start_on(&db, &[]).await;
    let client = reqwest::Client::new();
    for _ in 0..megabytes {
        let records: Vec<_> = (0..8)
            .map(|_| {
                let text: String = (0..1000)
                    .map(|_| hex(&generate::random_bytes::<64>()))
                    .collect::<Vec<_>>()
                    .join(" ");
                serde_json::json!({
                    "provider": "openai",
                    "request_model": "backup-model",
                    "input_messages": [{"role": "user", "parts": [{"type": "text", "content": text}]}],
                })
            })
            .collect();
        let response = client
            .post(server.url("/api/v1/calls"))
            .json(&records)
            .send()
            .await
            .expect("post records");
        assert_eq!(response.status(), 200);
    }
    server.stop().await;
    db
}

/// Every file in `dir` whose name starts with `prefix`.
fn files_starting(dir: &std::path::Path, prefix: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect()
}

#[tokio::test]
async fn a_killed_backup_leaves_the_target_absent_or_complete() {
    let dir = tempfile::tempdir().expect("dir");
    let db = database_of(dir.path(), 12).await;
    let db_size = std::fs::metadata(&db).expect("db").len();
    // Kill once the copy has started, and at a quarter, a half and three
    // quarters of the database's size written.
    for (round, fraction) in [0.0, 0.25, 0.5, 0.75].into_iter().enumerate() {
        let name = format!("backup-{round}.db");
        let target = dir.path().join(&name);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
            .arg("backup")
            .arg(&target)
            .arg("--db")
            .arg(&db)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn backup");
        let threshold = (db_size as f64 * fraction) as u64;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let written = files_starting(dir.path(), &name)
                .iter()
                .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
                .max();
            let finished = child.try_wait().expect("poll backup").is_some();
            if finished || written.is_some_and(|w| w >= threshold) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the backup started");
            std::thread::yield_now();
        }
        let _ = child.kill();
        let _ = child.wait();

        if target.exists() {
            let check = reprise(&["check".as_ref(), "--db".as_ref(), target.as_os_str()]);
            assert!(
                check.status.success(),
                "round {round}: a backup under the target name is complete: {}",
                String::from_utf8_lossy(&check.stdout)
            );
        }
        // Whatever the killed backup left beside the target is no backup.
        for leftover in files_starting(dir.path(), &name) {
            if leftover == target {
                continue;
            }
            let restored = dir.path().join(format!("restored-{round}.db"));
            let output = reprise(&[
                "restore".as_ref(),
                leftover.as_os_str(),
                "--db".as_ref(),
                restored.as_os_str(),
            ]);
            assert!(
                !output.status.success(),
                "round {round}: restoring the leftover {} is refused",
                leftover.display()
            );
            assert!(!restored.exists(), "a refused restore writes nothing");
        }
    }
}

#[tokio::test]
async fn restore_refuses_empty_and_foreign_files_and_keeps_every_replaced_database() {
    let dir = tempfile::tempdir().expect("dir");
    let db = database_of(dir.path(), 1).await;

    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").expect("empty file");
    let foreign = dir.path().join("foreign.db");
    {
        use sqlx::ConnectOptions as _;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&foreign)
            .create_if_missing(true)
            .connect()
            .await
            .expect("foreign database");
        sqlx::query("CREATE TABLE notes (body TEXT)")
            .execute(&mut conn)
            .await
            .expect("foreign table");
    }
    for (what, file) in [("an empty file", &empty), ("a foreign database", &foreign)] {
        let check = reprise(&["check".as_ref(), "--db".as_ref(), file.as_os_str()]);
        let report = String::from_utf8_lossy(&check.stdout);
        assert!(!check.status.success(), "check refuses {what}: {report}");
        assert!(report.contains("not a reprise database"), "{report}");
        let output = reprise(&[
            "restore".as_ref(),
            file.as_os_str(),
            "--db".as_ref(),
            db.as_os_str(),
            "--force".as_ref(),
        ]);
        assert!(!output.status.success(), "restore refuses {what}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("not a reprise database"),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let original = std::fs::read(&db).expect("original");
    let backup_path = dir.path().join("backup.db");
    let output = reprise(&[
        "backup".as_ref(),
        backup_path.as_os_str(),
        "--db".as_ref(),
        db.as_os_str(),
    ]);
    assert!(output.status.success());
    for _ in 0..2 {
        let output = reprise(&[
            "restore".as_ref(),
            backup_path.as_os_str(),
            "--db".as_ref(),
            db.as_os_str(),
            "--force".as_ref(),
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let first = dir.path().join("source.db.before-restore");
    let second = dir.path().join("source.db.before-restore.2");
    assert_eq!(
        std::fs::read(&first).expect("the first replaced database is kept"),
        original,
        "a second restore leaves the first kept database alone"
    );
    assert!(second.exists(), "the second replaced database is kept too");
}
