//! TLS on both ports with a self-signed certificate made here: HTTPS
//! requests and a gRPC export over TLS succeed when the client trusts the
//! certificate, and plain-text clients get nowhere.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use serde_json::Value;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use crate::generate::{self, hex};
use crate::server::TestServer;

struct SelfSigned {
    cert_pem: String,
    _dir: tempfile::TempDir,
    cert_path: std::path::PathBuf,
    key_path: std::path::PathBuf,
}

fn self_signed() -> SelfSigned {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("certificate");
    let dir = tempfile::tempdir().expect("dir");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    let cert_pem = certified.cert.pem();
    std::fs::write(&cert_path, &cert_pem).expect("write cert");
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("write key");
    SelfSigned {
        cert_pem,
        _dir: dir,
        cert_path,
        key_path,
    }
}

#[tokio::test]
async fn both_ports_serve_tls_with_the_given_certificate() {
    let tls = self_signed();
    let server = TestServer::start_with_args(&[
        "--tls-cert",
        tls.cert_path.to_str().expect("path"),
        "--tls-key",
        tls.key_path.to_str().expect("path"),
    ])
    .await;

    // gRPC over TLS, trusting the certificate.
    let channel = Channel::from_shared(format!("https://127.0.0.1:{}", server.grpc_port))
        .expect("uri")
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&tls.cert_pem))
                .domain_name("localhost"),
        )
        .expect("tls config")
        .connect()
        .await
        .expect("TLS connect");
    let span = generate::span("over-tls");
    let trace_id = hex(&span.trace_id);
    TraceServiceClient::new(channel)
        .export(generate::request(vec![span]))
        .await
        .expect("export over TLS");

    // HTTPS, trusting the certificate: the span is there.
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(tls.cert_pem.as_bytes()).expect("PEM"))
        .build()
        .expect("client");
    let url = format!(
        "https://127.0.0.1:{}/api/v1/traces/{trace_id}",
        server.http_port
    );
    let response = client.get(&url).send().await.expect("HTTPS request");
    assert_eq!(response.status(), 200);
    let trace: Value = response.json().await.expect("JSON");
    assert_eq!(trace["trace_id"], trace_id.as_str());

    // Plain text is not spoken on either port.
    let plain = reqwest::get(server.url("/healthz")).await;
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");
    let plain_grpc = TraceServiceClient::connect(server.grpc.clone()).await;
    let refused = match plain_grpc {
        Err(_) => true,
        Ok(mut client) => client
            .export(generate::request(vec![generate::span("plain")]))
            .await
            .is_err(),
    };
    assert!(refused, "plain gRPC was accepted");

    // A client that does not trust the certificate is refused.
    let untrusting = reqwest::Client::new()
        .get(format!("https://127.0.0.1:{}/healthz", server.http_port))
        .send()
        .await;
    assert!(untrusting.is_err());
}

/// Runs `reprise serve` with these TLS arguments, expecting it to refuse to
/// start; returns what it printed on stderr.
fn serve_refuses(tls_args: &[&std::ffi::OsStr]) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .args(["serve", "--db"])
        .arg(dir.path().join("r.db"))
        .args(["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
        .args(tls_args)
        .output()
        .expect("run");
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_certificate_without_its_key_refuses_to_start() {
    let tls = self_signed();
    let stderr = serve_refuses(&["--tls-cert".as_ref(), tls.cert_path.as_os_str()]);
    assert!(stderr.contains("--tls-key"), "{stderr}");

    // The key file given as the certificate: no certificate in it.
    let stderr = serve_refuses(&[
        "--tls-cert".as_ref(),
        tls.key_path.as_os_str(),
        "--tls-key".as_ref(),
        tls.key_path.as_os_str(),
    ]);
    assert!(stderr.contains("holds no certificate"), "{stderr}");
}
