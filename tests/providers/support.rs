//! Fixtures and a scripted HTTP server for the provider tests.

use std::path::PathBuf;
use std::time::Duration;

use reprise::model::{Call, CallId, Message, Part, Source};
use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/providers")
        .join(name)
}

pub fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).expect("fixture exists")
}

pub fn fixture_json(name: &str) -> Json {
    serde_json::from_str(&fixture_text(name)).expect("fixture is JSON")
}

pub fn empty_call() -> Call {
    Call::new(CallId(7), Source::Raw, 1)
}

/// Messages as JSON with tool-call ids removed: providers mint their own
/// ids, so two recordings of one conversation differ only there.
pub fn without_ids(messages: &[Message]) -> Json {
    let mut stripped = Vec::new();
    for message in messages {
        let mut message = message.clone();
        for part in &mut message.parts {
            match part {
                Part::ToolCall { id, .. } | Part::ToolCallResponse { id, .. } => *id = None,
                _ => {}
            }
        }
        stripped.push(message);
    }
    serde_json::to_value(stripped).expect("messages serialize")
}

/// One step of a scripted answer.
pub enum Step {
    Send(Vec<u8>),
    Wait(Duration),
}

/// What the server received.
#[derive(Debug)]
pub struct Received {
    pub head: String,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.head.lines().find_map(|line| {
            line.to_ascii_lowercase()
                .starts_with(&prefix)
                .then(|| line[prefix.len()..].trim().to_owned())
        })
    }

    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// Serves one connection with the scripted steps, then closes it (without
/// ending a chunked body unless the script does).
pub async fn serve_once(steps: Vec<Step>) -> (String, JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let received = read_request(&mut socket).await;
        for step in steps {
            match step {
                Step::Send(bytes) => {
                    socket.write_all(&bytes).await.expect("write");
                    socket.flush().await.expect("flush");
                }
                Step::Wait(duration) => tokio::time::sleep(duration).await,
            }
        }
        received
    });
    (format!("http://{address}/v1"), handle)
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Received {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let read = socket.read(&mut chunk).await.expect("read request");
        assert!(read > 0, "client closed before sending its request");
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break position + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let lower = line.to_ascii_lowercase();
            lower
                .strip_prefix("content-length:")
                .map(|value| value.trim().parse().expect("content length"))
        })
        .unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let read = socket.read(&mut chunk).await.expect("read body");
        assert!(read > 0, "client closed mid-body");
        body.extend_from_slice(&chunk[..read]);
    }
    Received { head, body }
}

/// Response head for a chunked body.
pub fn chunked_head(status: &str, content_type: &str, extra_headers: &str) -> Step {
    Step::Send(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n{extra_headers}connection: close\r\n\r\n"
        )
        .into_bytes(),
    )
}

/// One HTTP chunk holding `bytes`.
pub fn chunk(bytes: &[u8]) -> Step {
    let mut framed = format!("{:x}\r\n", bytes.len()).into_bytes();
    framed.extend_from_slice(bytes);
    framed.extend_from_slice(b"\r\n");
    Step::Send(framed)
}

pub fn last_chunk() -> Step {
    Step::Send(b"0\r\n\r\n".to_vec())
}

/// A whole response with a known length.
pub fn full_response(status: &str, content_type: &str, extra_headers: &str, body: &str) -> Step {
    Step::Send(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{extra_headers}connection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// A body cut into HTTP chunks of `size` bytes with a pause between them,
/// so lines, CRLF pairs and UTF-8 characters land split across reads.
pub fn chunked_in_pieces(body: &[u8], size: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    for piece in body.chunks(size) {
        steps.push(chunk(piece));
        steps.push(Step::Wait(Duration::from_millis(1)));
    }
    steps
}
