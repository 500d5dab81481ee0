//! The server stays up for everyone: silent connections cannot use up its
//! open files, many large bodies at once cannot use up its memory, and its
//! health check sees a database that cannot be read.

use std::io::Write as _;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;

use crate::generate;
use crate::security::create_key;
use crate::server::TestServer;

/// The test process opens a thousand sockets itself.
fn raise_own_open_file_limit() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
}

async fn open_idle(port: u16, count: usize) -> Vec<TcpStream> {
    let mut idle = Vec::with_capacity(count);
    for _ in 0..count {
        idle.push(
            TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect"),
        );
    }
    idle
}

/// `GET /healthz` with a deadline: the answer must come within a second.
async fn answered_within_a_second(server: &TestServer) -> u16 {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("client");
    client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("answered within a second")
        .status()
        .as_u16()
}

/// Whether the server has closed `stream`: a read returns end of file (or
/// a reset) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) => false,
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_thousand_idle_connections_under_a_low_open_file_limit_leave_room_for_clients() {
    raise_own_open_file_limit();
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    // Started with the soft limit most systems give services; the hard
    // limit allows more, which the server takes at start.
    let server = TestServer::start_with_open_files(&db, 1024, Some(8192), &[]).await;
    assert!(
        server
            .log_text()
            .contains("raised the open-file limit to the hard limit"),
        "{}",
        server.log_text()
    );
    let _idle_http = open_idle(server.http_port, 1000).await;
    let _idle_grpc = open_idle(server.grpc_port, 200).await;
    assert_eq!(answered_within_a_second(&server).await, 200);
    let mut client = TraceServiceClient::connect(server.grpc.clone())
        .await
        .expect("gRPC connects beside the idle ones");
    client
        .export(generate::request(vec![generate::span(
            "beside idle sockets",
        )]))
        .await
        .expect("gRPC export answered");
}

#[tokio::test]
async fn past_the_connection_cap_the_newest_are_closed_and_silent_ones_time_out() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let server =
        TestServer::start_on(&db, &["--max-connections", "20", "--idle-timeout", "1s"]).await;
    // Twenty held, the rest closed at once rather than left hanging.
    let mut idle = open_idle(server.http_port, 60).await;
    let mut refused = 0;
    for stream in idle.iter_mut().skip(20) {
        if closed_within(stream, Duration::from_secs(5)).await {
            refused += 1;
        }
    }
    assert_eq!(refused, 40, "connections over the cap are closed at once");
    // The silent twenty are closed after the idle timeout ...
    for stream in idle.iter_mut().take(20) {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "a silent connection is closed after --idle-timeout"
        );
    }
    // ... after which clients are served again.
    assert_eq!(answered_within_a_second(&server).await, 200);
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let counted = metrics
        .lines()
        .find_map(|line| line.strip_prefix("reprise_connections_refused_total "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .expect("the refusals are counted");
    assert!(counted >= 40.0, "{counted}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = TestServer::start_with_args(&["--idle-timeout", "1s"]).await;
    let mut stream = TcpStream::connect(("127.0.0.1", server.http_port))
        .await
        .expect("connect");
    use tokio::io::AsyncWriteExt as _;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .expect("request");
    let mut answer = vec![0u8; 4096];
    let read = stream.read(&mut answer).await.expect("answer");
    assert!(answer[..read].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(10)).await);
    assert!(started.elapsed() >= Duration::from_millis(900));
}

/// An export whose protobuf is about `megabytes` MB and compresses to a
/// few kilobytes.
fn compressible_request(megabytes: usize) -> ExportTraceServiceRequest {
    let mut span = generate::span("large");
    span.attributes.push(generate::string_attr(
        "payload",
        &"a".repeat(megabytes << 20),
    ));
    generate::request(vec![span])
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

/// The server's peak resident memory so far, from /proc.
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("VmHWM")
        * 1024
}

/// What the budget allows at once (16 MB), plus the server's own baseline.
const MEMORY_BOUND: u64 = 200 << 20;

#[tokio::test]
async fn concurrent_gzip_exports_past_the_budget_are_refused_and_memory_stays_bounded() {
    let server = TestServer::start_with_args(&["--max-inflight-mb", "16"]).await;
    // Each expands to 6 MB, 12 MB with what decoding builds: one fits at a time.
    let body = gzip(&compressible_request(6).encode_to_vec());
    assert!(body.len() < 64 << 10);
    let client = reqwest::Client::new();
    let mut http = Vec::new();
    for _ in 0..32 {
        let request = client
            .post(server.url("/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "gzip")
            .body(body.clone())
            .send();
        http.push(tokio::spawn(request));
    }
    let mut grpc = Vec::new();
    for _ in 0..32 {
        let endpoint = server.grpc.clone();
        let request = compressible_request(6);
        grpc.push(tokio::spawn(async move {
            let mut client = TraceServiceClient::connect(endpoint)
                .await
                .expect("connect")
                .send_compressed(tonic::codec::CompressionEncoding::Gzip)
                .max_encoding_message_size(64 << 20);
            client.export(request).await
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for request in http {
        let response = request.await.expect("task").expect("answered");
        match response.status().as_u16() {
            200 => ok += 1,
            429 => {
                assert!(response.headers().contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    for request in grpc {
        match request.await.expect("task") {
            Ok(_) => ok += 1,
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
                refused += 1;
            }
        }
    }
    assert!(ok >= 1, "some exports fit the budget");
    assert!(refused >= 1, "exports past the budget are refused");
    let peak = peak_rss_bytes(server.pid());
    assert!(
        peak < MEMORY_BOUND,
        "peak RSS {} MB over {} MB",
        peak >> 20,
        MEMORY_BOUND >> 20
    );
    // Memory is given back: with the budget free, an export goes through.
    let response = client
        .post(server.url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn healthz_fails_for_everyone_when_the_database_cannot_be_read() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let read = create_key(&db, "reader", "default", &["read"]);
    let server = TestServer::start_on(&db, &[]).await;
    let client = reqwest::Client::new();
    let open = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(open.status(), 200);

    // The file gone from under the server, as when its volume is unmounted
    // or a careless cleanup moves it: the connections the server holds still
    // read the old file, so only a fresh one tells.
    let moved = dir.path().join("moved");
    std::fs::create_dir(&moved).expect("dir");
    for suffix in ["", "-wal", "-shm"] {
        let from = dir.path().join(format!("reprise.db{suffix}"));
        if from.exists() {
            std::fs::rename(&from, moved.join(format!("reprise.db{suffix}"))).expect("move");
        }
    }

    let anonymous = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(anonymous.status(), 503);
    let body: serde_json::Value = anonymous.json().await.expect("JSON");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["failing"], "database");
    assert!(
        body.get("problem").is_none(),
        "details only for readers: {body}"
    );

    let reader = client
        .get(server.url("/healthz"))
        .bearer_auth(&read)
        .send()
        .await
        .expect("healthz");
    assert_eq!(reader.status(), 503);
    let body: serde_json::Value = reader.json().await.expect("JSON");
    let problem = body["problem"].as_str().expect("the problem, for a reader");
    assert!(problem.contains("cannot be read"), "{problem}");
}
