//! The captured OTLP fixtures under tests/fixtures/otlp, found by walking
//! the directory so a fixture added there is picked up with no code change.

use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp")
}

/// One captured export: its protobuf body and the same request as OTLP/JSON.
#[derive(Debug, Clone)]
pub struct Capture {
    /// e.g. `openlit-openai/tool_call` or `openlit-openai/tool_call.logs`
    pub name: String,
    pub pb: PathBuf,
    pub json: PathBuf,
    pub is_logs: bool,
}

pub fn captures() -> Vec<Capture> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root())
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("fixture dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "pb"))
            .collect();
        files.sort();
        for pb in files {
            let stem = pb.file_stem().expect("stem").to_string_lossy().to_string();
            let json = pb.with_extension("json");
            let flavour = dir
                .file_name()
                .expect("dir name")
                .to_string_lossy()
                .to_string();
            out.push(Capture {
                name: format!("{flavour}/{stem}"),
                is_logs: stem.ends_with(".logs"),
                pb,
                json,
            });
        }
    }
    assert!(out.len() > 50, "fixtures found: {}", out.len());
    out
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Sends every capture to a running server over OTLP/HTTP (protobuf) and
/// waits until the linker has joined what arrived in pieces.
pub async fn send_all(server: &crate::server::TestServer) {
    let client = reqwest::Client::new();
    for capture in captures() {
        let path = if capture.is_logs {
            "/v1/logs"
        } else {
            "/v1/traces"
        };
        let response = client
            .post(server.url(path))
            .header("content-type", "application/x-protobuf")
            .body(read(&capture.pb))
            .send()
            .await
            .expect("send fixture");
        assert_eq!(response.status(), 200, "{}", capture.name);
    }
    crate::calls_expected::settle(server).await;
}
