//! A real `reprise serve` process on ephemeral loopback ports and a
//! temporary SQLite file, as the tests' stand-in for a deployment.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct TestServer {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub http: String,
    /// `http://127.0.0.1:PORT` of the gRPC listener.
    pub grpc: String,
    /// The HTTP listener's port.
    pub http_port: u16,
    /// The gRPC listener's port.
    pub grpc_port: u16,
    pub log: PathBuf,
    db: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A server on a fresh database in its own temporary directory.
    pub async fn start() -> TestServer {
        Self::start_with_args(&[]).await
    }

    pub async fn start_with_args(args: &[&str]) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("reprise.db");
        let mut server = Self::start_on(&db, args).await;
        server._dir = Some(dir);
        server
    }

    /// A server on `db`, which may already hold data.
    pub async fn start_on(db: &Path, args: &[&str]) -> TestServer {
        Self::start_with_env(db, args, &[]).await
    }

    /// A server on `db` with extra environment variables.
    pub async fn start_with_env(db: &Path, args: &[&str], env: &[(&str, &str)]) -> TestServer {
        Self::start_listening(db, ("127.0.0.1:0", "127.0.0.1:0"), args, env).await
    }

    /// A server on `db` listening on the given HTTP and gRPC addresses.
    pub async fn start_listening(
        db: &Path,
        (http_addr, grpc_addr): (&str, &str),
        args: &[&str],
        env: &[(&str, &str)],
    ) -> TestServer {
        Self::launch(
            Command::new(env!("CARGO_BIN_EXE_reprise")),
            db,
            (http_addr, grpc_addr),
            args,
            env,
        )
        .await
    }

    /// A server on `db` started with the open-file limit `soft` (and `hard`,
    /// when given), as a service manager might start it.
    pub async fn start_with_open_files(
        db: &Path,
        soft: u64,
        hard: Option<u64>,
        args: &[&str],
    ) -> TestServer {
        // The shell sets the limits and then becomes the server.
        // The soft limit first: a hard limit below the current soft one is refused.
        let mut limits = format!("ulimit -Sn {soft} && ");
        if let Some(hard) = hard {
            limits.push_str(&format!("ulimit -Hn {hard} && "));
        }
        limits.push_str("exec \"$0\" \"$@\"");
        let mut command = Command::new("bash");
        command
            .args(["-c", &limits])
            .arg(env!("CARGO_BIN_EXE_reprise"));
        Self::launch(command, db, ("127.0.0.1:0", "127.0.0.1:0"), args, &[]).await
    }

    async fn launch(
        mut command: Command,
        db: &Path,
        (http_addr, grpc_addr): (&str, &str),
        args: &[&str],
        env: &[(&str, &str)],
    ) -> TestServer {
        let log = db.with_extension(format!("{}.log", std::process::id()));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut child = command
            .arg("serve")
            .arg("--db")
            .arg(db)
            .args(["--http", http_addr, "--grpc", grpc_addr])
            .args(args)
            .env("RUST_LOG", "info,reprise=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn reprise");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("server printed its addresses in time")
            .expect("read stdout")
            .unwrap_or_else(|| {
                panic!(
                    "server exited ({:?}): {}",
                    child.try_wait(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        let (http, grpc) = parse_listening(&line);
        let port = |addr: &str| -> u16 {
            addr.rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port")
        };
        // Tests talk to loopback whatever address the server bound.
        let (http_port, grpc_port) = (port(&http), port(&grpc));
        TestServer {
            child: Some(child),
            http: format!("http://127.0.0.1:{http_port}"),
            grpc: format!("http://127.0.0.1:{grpc_port}"),
            http_port,
            grpc_port,
            log,
            db: db.to_path_buf(),
            _dir: None,
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.db.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.http, path)
    }

    /// Posts an OTLP protobuf body (`/v1/traces` or `/v1/logs`) and checks
    /// it was accepted.
    pub async fn post_protobuf(&self, path: &str, body: Vec<u8>) {
        let response = reqwest::Client::new()
            .post(self.url(path))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200, "{path}");
    }

    /// `GET path` as JSON; the answer must be 200.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = reqwest::get(self.url(path)).await.expect("GET");
        let status = response.status();
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// `GET /healthz` as JSON (the full form when keys are off).
    pub async fn health(&self) -> serde_json::Value {
        reqwest::get(self.url("/healthz"))
            .await
            .expect("healthz")
            .json()
            .await
            .expect("JSON")
    }

    /// Waits until everything acknowledged so far is derived and stored:
    /// every `pending_*` field of `/healthz` and `queued_bytes` are 0.
    pub async fn derived(&self) {
        self.derived_as(None).await
    }

    /// As [`TestServer::derived`], on a server with keys: `key` must have
    /// the `read` scope, which `/healthz` needs to tell the backlog.
    pub async fn derived_as(&self, key: Option<&str>) {
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let mut request = client.get(self.url("/healthz"));
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            let health: serde_json::Value = request
                .send()
                .await
                .expect("healthz")
                .json()
                .await
                .expect("JSON");
            if settled(&health) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "derivation did not catch up: {health}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("SIGKILL");
        }
    }

    /// Asks the process to stop (SIGTERM) and waits for it.
    pub async fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = child.id().expect("pid") as i32;
        // SAFETY-free: sending a signal through the `kill` command keeps
        // `unsafe` out of the tests.
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .expect("server stopped in time")
            .expect("wait")
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(Child::id)
            .expect("the server is running")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Whether a `/healthz` answer says nothing waits: no `pending_*` field and
/// no queued bytes above 0. An answer without the details cannot tell.
pub fn settled(health: &serde_json::Value) -> bool {
    let Some(fields) = health.as_object() else {
        return false;
    };
    let Some(queued) = fields.get("queued_bytes") else {
        panic!("/healthz gives no details (does the server need a read key?): {health}");
    };
    queued.as_f64() == Some(0.0)
        && fields
            .iter()
            .filter(|(name, _)| name.starts_with("pending_"))
            .all(|(_, value)| value.as_f64() == Some(0.0))
}

fn parse_listening(line: &str) -> (String, String) {
    let mut http = None;
    let mut grpc = None;
    for word in line.split_whitespace() {
        if let Some(addr) = word.strip_prefix("http=") {
            http = Some(addr.to_owned());
        }
        if let Some(addr) = word.strip_prefix("grpc=") {
            grpc = Some(addr.to_owned());
        }
    }
    assert!(
        line.starts_with("listening "),
        "unexpected first line {line:?}"
    );
    (http.expect("http address"), grpc.expect("grpc address"))
}
