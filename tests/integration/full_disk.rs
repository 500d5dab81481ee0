//! A full disk, for real: the database on a small tmpfs that a filler file
//! fills up. While it is full every export and raw record is refused with
//! retry advice (503/429 + Retry-After, UNAVAILABLE/RESOURCE_EXHAUSTED),
//! never acknowledged without being committed; once space is freed ingest
//! resumes by itself, and after a restart every acknowledged id is there.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use serde_json::json;

use crate::generate::{self, hex};
use crate::server::TestServer;

/// A tmpfs of a fixed size, unmounted when dropped. Mounting needs root
/// (CI runs as root); elsewhere the test skips with a note unless
/// `REPRISE_REQUIRE_MOUNT=1` makes that a failure.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size_mb: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|status| status.success());
        if mounted {
            return Some(Tmpfs { dir });
        }
        assert!(
            std::env::var("REPRISE_REQUIRE_MOUNT").as_deref() != Ok("1"),
            "REPRISE_REQUIRE_MOUNT=1 but a tmpfs cannot be mounted here (run as root)"
        );
        eprintln!("skipping the full-disk test: mounting a tmpfs needs root");
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system holding `path` to the last byte, then frees
/// `leave` bytes of it.
fn fill(path: &Path, leave: u64) {
    let mut file = std::fs::File::create(path).expect("filler");
    let chunk = vec![0x5au8; 256 << 10];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.flush();
    let written = std::fs::metadata(path).expect("filler size").len();
    file.set_len(written.saturating_sub(leave))
        .expect("shrink filler");
    file.sync_all().expect("sync filler");
}

/// Spans with ~4 KB of distinct text each, so the disk fills quickly.
fn heavy_spans(count: usize) -> (ExportTraceServiceRequest, Vec<String>) {
    let mut spans = Vec::with_capacity(count);
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let mut span = generate::span("disk");
        let text: String = (0..32)
            .map(|_| hex(&generate::random_bytes::<64>()))
            .collect::<Vec<_>>()
            .join(" ");
        span.attributes
            .push(generate::string_attr("payload", &text));
        ids.push(hex(&span.trace_id));
        spans.push(span);
    }
    (generate::request(spans), ids)
}

#[derive(Default)]
struct Tally {
    /// Trace ids acknowledged over HTTP and gRPC.
    traces: Vec<String>,
    /// Call ids acknowledged for raw records.
    calls: Vec<String>,
    /// Refusals per path: HTTP export, gRPC export, raw records.
    refused: [usize; 3],
}

impl Tally {
    fn refusals(&self) -> usize {
        self.refused.iter().sum()
    }
}

/// One export over each path; every refusal must carry retry advice.
async fn round(
    server: &TestServer,
    grpc: &mut TraceServiceClient<tonic::transport::Channel>,
    tally: &mut Tally,
) {
    let client = reqwest::Client::new();
    let (request, ids) = heavy_spans(10);
    let response = client
        .post(server.url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await
        .expect("HTTP export");
    match response.status().as_u16() {
        200 => tally.traces.extend(ids),
        503 | 429 => {
            assert!(
                response.headers().contains_key("retry-after"),
                "an HTTP refusal carries Retry-After"
            );
            tally.refused[0] += 1;
        }
        other => panic!(
            "HTTP export answered {other}: {}",
            response.text().await.unwrap_or_default()
        ),
    }

    let (request, ids) = heavy_spans(10);
    match grpc.export(request).await {
        Ok(_) => tally.traces.extend(ids),
        Err(status) => {
            assert!(
                matches!(
                    status.code(),
                    tonic::Code::Unavailable | tonic::Code::ResourceExhausted
                ),
                "a gRPC refusal is retryable: {status:?}"
            );
            assert!(
                status.details().windows(9).any(|w| w == b"RetryInfo"),
                "a gRPC refusal carries RetryInfo: {status:?}"
            );
            tally.refused[1] += 1;
        }
    }

    let text: String = (0..32)
        .map(|_| hex(&generate::random_bytes::<64>()))
        .collect::<Vec<_>>()
        .join(" ");
    let response = client
        .post(server.url("/api/v1/calls"))
        .json(&json!([{
            "provider": "openai",
            "request_model": "disk-model",
            "input_messages": [{"role": "user", "parts": [{"type": "text", "content": text}]}],
            "start_time_unix_nano": 1_700_000_000_000_000_000u64,
            "duration_ms": 10.0
        }]))
        .send()
        .await
        .expect("raw records");
    match response.status().as_u16() {
        200 => {
            let body: serde_json::Value = response.json().await.expect("JSON");
            for id in body["ids"].as_array().expect("ids") {
                tally.calls.push(id.as_str().expect("id").to_owned());
            }
        }
        503 | 429 => {
            assert!(
                response.headers().contains_key("retry-after"),
                "a raw-record refusal carries Retry-After"
            );
            tally.refused[2] += 1;
        }
        other => panic!(
            "raw records answered {other}: {}",
            response.text().await.unwrap_or_default()
        ),
    }
}

async fn grpc_client(server: &TestServer) -> TraceServiceClient<tonic::transport::Channel> {
    TraceServiceClient::connect(server.grpc.clone())
        .await
        .expect("gRPC connect")
}

#[tokio::test]
async fn a_full_disk_refuses_with_retry_advice_and_loses_nothing_acknowledged() {
    let Some(disk) = Tmpfs::mount(24) else {
        return;
    };
    let db: PathBuf = disk.path().join("reprise.db");
    let filler = disk.path().join("filler");
    let mut server = TestServer::start_on(&db, &[]).await;
    let mut grpc = grpc_client(&server).await;
    let mut tally = Tally::default();
    for _ in 0..3 {
        round(&server, &mut grpc, &mut tally).await;
    }
    assert_eq!(tally.refusals(), 0, "room on the disk at first");

    // Full, but for a little room: some writes still fit, then none do.
    fill(&filler, 256 << 10);
    let mut rounds_after_first_refusal = 0;
    for _ in 0..400 {
        round(&server, &mut grpc, &mut tally).await;
        if tally.refusals() > 0 {
            rounds_after_first_refusal += 1;
        }
        // Keep going well past the first refusal: that is where acknowledged
        // data used to be lost.
        if rounds_after_first_refusal >= 30 && tally.refused.iter().all(|&n| n > 0) {
            break;
        }
    }
    assert!(
        tally.refused.iter().all(|&n| n > 0),
        "every path was refused while the disk was full: {:?}",
        tally.refused
    );

    std::fs::remove_file(&filler).expect("free the disk");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let before = tally.refusals();
        round(&server, &mut grpc, &mut tally).await;
        if tally.refusals() == before {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ingest resumed once there was room"
        );
    }
    for _ in 0..3 {
        let before = tally.refusals();
        round(&server, &mut grpc, &mut tally).await;
        assert_eq!(tally.refusals(), before, "ingest keeps going with room");
    }

    server.stop().await;
    let server = TestServer::start_on(&db, &[]).await;
    let client = reqwest::Client::new();
    for trace_id in &tally.traces {
        let status = client
            .get(server.url(&format!("/api/v1/traces/{trace_id}")))
            .send()
            .await
            .expect("get trace")
            .status();
        assert_eq!(status, 200, "acknowledged trace {trace_id} is stored");
    }
    for id in &tally.calls {
        let status = client
            .get(server.url(&format!("/api/v1/calls/{id}")))
            .send()
            .await
            .expect("get call")
            .status();
        assert_eq!(status, 200, "acknowledged call {id} is stored");
    }
}
