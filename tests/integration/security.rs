//! API keys, scopes and projects through the real interfaces: keys made
//! with `reprise keys`, requests over HTTP and gRPC, refusals with the
//! right status, revocation while the server runs, one project unable to
//! see another's data, and the non-loopback rule.

use std::path::Path;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use serde_json::{Value, json};

use fake_provider::{FakeConfig, FakeProvider};

use crate::generate::{self, hex};
use crate::server::TestServer;

/// Runs `reprise` with `args`, returning its stdout; panics on failure.
pub fn reprise(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .args(args)
        .output()
        .expect("run reprise");
    assert!(
        output.status.success(),
        "reprise {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// Creates a key with `reprise keys create` and returns it.
pub fn create_key(db: &Path, name: &str, project: &str, scopes: &[&str]) -> String {
    let db = db.to_str().expect("path");
    let mut args = vec![
        "keys",
        "create",
        "--db",
        db,
        "--name",
        name,
        "--project",
        project,
    ];
    for scope in scopes {
        args.extend(["--scope", scope]);
    }
    let stdout = reprise(&args);
    let key = stdout
        .lines()
        .find(|line| line.starts_with("rpk_"))
        .unwrap_or_else(|| panic!("no key printed: {stdout}"));
    key.to_owned()
}

fn span_body() -> (Vec<u8>, String) {
    let span = generate::span("auth");
    let trace_id = hex(&span.trace_id);
    (generate::request(vec![span]).encode_to_vec(), trace_id)
}

fn record(marker: &str) -> Value {
    json!({
        "provider": "openai",
        "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": format!("hello {marker}")}]},
        "response": {"id": format!("chatcmpl-{marker}"), "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}},
        "start_time": 1_700_000_000_000_000_000u64,
        "duration_ms": 12.0,
        "session_id": format!("session-{marker}"),
    })
}

/// How a request carries its key.
#[derive(Clone, Copy)]
enum KeyIn<'a> {
    None,
    Bearer(&'a str),
    XApiKey(&'a str),
}

async fn request(
    method: reqwest::Method,
    url: String,
    key: KeyIn<'_>,
    body: Option<(&str, Vec<u8>)>,
) -> reqwest::Response {
    let mut builder = reqwest::Client::new().request(method, url);
    builder = match key {
        KeyIn::None => builder,
        KeyIn::Bearer(key) => builder.header("authorization", format!("Bearer {key}")),
        KeyIn::XApiKey(key) => builder.header("x-api-key", key),
    };
    if let Some((content_type, bytes)) = body {
        builder = builder.header("content-type", content_type).body(bytes);
    }
    builder.send().await.expect("request")
}

async fn get(server: &TestServer, path: &str, key: KeyIn<'_>) -> reqwest::Response {
    request(reqwest::Method::GET, server.url(path), key, None).await
}

async fn export_span(server: &TestServer, key: KeyIn<'_>) -> (u16, String) {
    let (body, trace_id) = span_body();
    let response = request(
        reqwest::Method::POST,
        server.url("/v1/traces"),
        key,
        Some(("application/x-protobuf", body)),
    )
    .await;
    (response.status().as_u16(), trace_id)
}

async fn post_record(server: &TestServer, key: KeyIn<'_>, marker: &str) -> (u16, Value) {
    let response = request(
        reqwest::Method::POST,
        server.url("/api/v1/calls"),
        key,
        Some(("application/json", record(marker).to_string().into_bytes())),
    )
    .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn recompute(server: &TestServer, key: KeyIn<'_>) -> u16 {
    request(
        reqwest::Method::POST,
        server.url("/api/v1/costs/recompute"),
        key,
        None,
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn each_scope_allows_its_routes_and_refuses_the_others() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let ingest = create_key(&db, "ingester", "default", &["ingest"]);
    let read = create_key(&db, "reader", "default", &["read"]);
    let admin = create_key(&db, "admin", "default", &["admin"]);
    let server = TestServer::start_on(&db, &[]).await;

    // No key, and a key that does not exist: 401 with a Bearer challenge.
    for key in [KeyIn::None, KeyIn::Bearer("rpk_not-a-real-key")] {
        let response = get(&server, "/api/v1/calls", key).await;
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .expect("ascii");
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["error"]["code"], "unauthenticated");
        assert_eq!(export_span(&server, key).await.0, 401);
        assert_eq!(post_record(&server, key, "x").await.0, 401);
        assert_eq!(recompute(&server, key).await, 401);
    }

    // ingest: sends telemetry and records, reads nothing, administers nothing.
    assert_eq!(export_span(&server, KeyIn::Bearer(&ingest)).await.0, 200);
    assert_eq!(export_span(&server, KeyIn::XApiKey(&ingest)).await.0, 200);
    assert_eq!(
        post_record(&server, KeyIn::Bearer(&ingest), "a").await.0,
        200
    );
    let refused = get(&server, "/api/v1/calls", KeyIn::Bearer(&ingest)).await;
    assert_eq!(refused.status(), 403);
    assert!(!refused.headers().contains_key("www-authenticate"));
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(recompute(&server, KeyIn::Bearer(&ingest)).await, 403);

    // read: queries, and nothing else.
    for path in ["/api/v1/calls", "/api/v1/stats", "/api/v1/export"] {
        let response = get(&server, path, KeyIn::Bearer(&read)).await;
        assert_eq!(response.status(), 200, "{path}");
    }
    assert_eq!(
        get(&server, "/api/v1/calls", KeyIn::XApiKey(&read))
            .await
            .status(),
        200
    );
    assert_eq!(export_span(&server, KeyIn::Bearer(&read)).await.0, 403);
    assert_eq!(post_record(&server, KeyIn::Bearer(&read), "b").await.0, 403);
    assert_eq!(recompute(&server, KeyIn::Bearer(&read)).await, 403);

    // admin: cost recomputation (and replays, key management, deletes).
    assert_eq!(recompute(&server, KeyIn::Bearer(&admin)).await, 200);
    assert_eq!(
        get(&server, "/api/v1/calls", KeyIn::Bearer(&admin))
            .await
            .status(),
        403
    );

    // /healthz is open, and tells nothing about the data without a read key.
    let open: Value = get(&server, "/healthz", KeyIn::None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(open, json!({"status": "ok"}));
    let detailed: Value = get(&server, "/healthz", KeyIn::Bearer(&read))
        .await
        .json()
        .await
        .expect("JSON");
    assert!(detailed.get("pending_links").is_some(), "{detailed}");
}

#[tokio::test]
async fn otlp_http_refusals_come_in_the_request_encoding() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let _key = create_key(&db, "k", "default", &["ingest"]);
    let server = TestServer::start_on(&db, &[]).await;
    let (body, _) = span_body();
    let response = request(
        reqwest::Method::POST,
        server.url("/v1/traces"),
        KeyIn::None,
        Some(("application/x-protobuf", body)),
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    // google.rpc.Status: field 1 (code) = 16 UNAUTHENTICATED.
    let bytes = response.bytes().await.expect("body");
    assert_eq!(&bytes[..2], &[0x08, 16]);
}

#[tokio::test]
async fn grpc_export_needs_an_ingest_key_in_its_metadata() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let ingest = create_key(&db, "ingester", "default", &["ingest"]);
    let read = create_key(&db, "reader", "default", &["read"]);
    let server = TestServer::start_on(&db, &[]).await;
    let mut client = TraceServiceClient::connect(server.grpc.clone())
        .await
        .expect("connect");

    let send = |metadata: Option<(&'static str, String)>| {
        let mut request = tonic::Request::new(generate::request(vec![generate::span("grpc")]));
        if let Some((name, value)) = metadata {
            request
                .metadata_mut()
                .insert(name, value.parse().expect("ascii"));
        }
        request
    };
    let missing = client.export(send(None)).await.expect_err("no key");
    assert_eq!(missing.code(), tonic::Code::Unauthenticated);
    let wrong = client
        .export(send(Some(("authorization", "Bearer rpk_wrong".into()))))
        .await
        .expect_err("wrong key");
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
    let no_scope = client
        .export(send(Some(("authorization", format!("Bearer {read}")))))
        .await
        .expect_err("read key");
    assert_eq!(no_scope.code(), tonic::Code::PermissionDenied);
    client
        .export(send(Some(("authorization", format!("Bearer {ingest}")))))
        .await
        .expect("bearer accepted");
    client
        .export(send(Some(("x-api-key", ingest.clone()))))
        .await
        .expect("x-api-key accepted");
}

#[tokio::test]
async fn a_key_revoked_with_the_cli_while_the_server_runs_is_refused_within_seconds() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let key = create_key(&db, "doomed", "default", &["read", "ingest"]);
    let _other = create_key(&db, "survivor", "default", &["read"]);
    let server = TestServer::start_on(&db, &[]).await;
    assert_eq!(
        get(&server, "/api/v1/calls", KeyIn::Bearer(&key))
            .await
            .status(),
        200
    );
    let mut client = TraceServiceClient::connect(server.grpc.clone())
        .await
        .expect("connect");
    let grpc_export = |key: &str| {
        let mut request = tonic::Request::new(generate::request(vec![generate::span("revoked")]));
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {key}").parse().expect("ascii"),
        );
        request
    };
    client
        .export(grpc_export(&key))
        .await
        .expect("gRPC export before revocation");
    let listed = reprise(&["keys", "list", "--db", db.to_str().expect("path")]);
    assert!(
        listed.contains("doomed") && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(&key), "the key itself is never listed");

    reprise(&[
        "keys",
        "revoke",
        "doomed",
        "--db",
        db.to_str().expect("path"),
    ]);
    let revoked_at = Instant::now();
    loop {
        let status = get(&server, "/api/v1/calls", KeyIn::Bearer(&key))
            .await
            .status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            revoked_at.elapsed() < Duration::from_secs(10),
            "the revoked key still works after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(revoked_at.elapsed() < Duration::from_secs(5));
    // gRPC asks the same authorizer: refused as well, now.
    let refused = client
        .export(grpc_export(&key))
        .await
        .expect_err("gRPC export with a revoked key");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let listed = reprise(&["keys", "list", "--db", db.to_str().expect("path")]);
    assert!(listed.contains("revoked"), "{listed}");
}

#[tokio::test]
async fn a_key_of_another_project_cannot_see_its_data_even_by_id() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let alpha = create_key(&db, "alpha", "alpha", &["ingest", "read"]);
    let beta = create_key(&db, "beta", "beta", &["ingest", "read"]);
    let server = TestServer::start_on(&db, &[]).await;

    let (status, trace_id) = export_span(&server, KeyIn::Bearer(&alpha)).await;
    assert_eq!(status, 200);
    let (status, reply) = post_record(&server, KeyIn::Bearer(&alpha), "alpha").await;
    assert_eq!(status, 200, "{reply}");
    let call_id = reply["ids"][0].as_str().expect("id").to_owned();
    let mut client = TraceServiceClient::connect(server.grpc.clone())
        .await
        .expect("connect");
    let span = generate::span("alpha-grpc");
    let grpc_trace = hex(&span.trace_id);
    let mut grpc_request = tonic::Request::new(generate::request(vec![span]));
    grpc_request.metadata_mut().insert(
        "authorization",
        format!("Bearer {alpha}").parse().expect("ascii"),
    );
    client.export(grpc_request).await.expect("gRPC export");

    let as_json = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    };
    let paths = [
        format!("/api/v1/calls/{call_id}"),
        format!("/api/v1/traces/{trace_id}"),
        format!("/api/v1/traces/{grpc_trace}"),
        "/api/v1/sessions/session-alpha".to_owned(),
    ];
    for path in &paths {
        let (status, body) = as_json(get(&server, path, KeyIn::Bearer(&alpha)).await).await;
        assert_eq!(status, 200, "alpha reads its own {path}: {body}");
        let (status, body) = as_json(get(&server, path, KeyIn::Bearer(&beta)).await).await;
        assert_eq!(status, 404, "beta must not see {path}: {body}");
    }

    let list: Value = get(&server, "/api/v1/calls", KeyIn::Bearer(&beta))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["calls"], json!([]));
    let list: Value = get(&server, "/api/v1/calls", KeyIn::Bearer(&alpha))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["calls"][0]["id"], call_id.as_str());

    let count = |stats: &Value| -> i64 {
        let mut total = 0;
        for group in stats["groups"].as_array().expect("groups") {
            total += group["count"].as_i64().unwrap_or(0);
        }
        total
    };
    let stats: Value = get(&server, "/api/v1/stats", KeyIn::Bearer(&beta))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(count(&stats), 0, "{stats}");
    let stats: Value = get(&server, "/api/v1/stats", KeyIn::Bearer(&alpha))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(count(&stats), 1, "{stats}");

    let export = get(&server, "/api/v1/export", KeyIn::Bearer(&beta))
        .await
        .text()
        .await
        .expect("export");
    assert_eq!(export, "", "beta's export is empty");
    let export = get(&server, "/api/v1/export", KeyIn::Bearer(&alpha))
        .await
        .text()
        .await
        .expect("export");
    assert!(export.contains(&call_id));

    // What beta stores is beta's alone.
    let (status, reply) = post_record(&server, KeyIn::Bearer(&beta), "beta").await;
    assert_eq!(status, 200, "{reply}");
    let beta_call = reply["ids"][0].as_str().expect("id").to_owned();
    let status = get(
        &server,
        &format!("/api/v1/calls/{beta_call}"),
        KeyIn::Bearer(&alpha),
    )
    .await
    .status();
    assert_eq!(status, 404);
}

fn serve_output(db: &Path, http: &str, extra: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_reprise"));
    command
        .args(["serve", "--db", db.to_str().expect("path")])
        .args(["--http", http, "--grpc", "127.0.0.1:0"])
        .args(extra)
        .stdin(std::process::Stdio::null());
    command.output().expect("run reprise serve")
}

#[tokio::test]
async fn listening_beyond_loopback_without_a_key_refuses_to_start() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let output = tokio::task::spawn_blocking(move || serve_output(&db, "0.0.0.0:0", &[]))
        .await
        .expect("thread");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 with no API key"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--insecure"),
        "the error says the way out: {stderr}"
    );
}

#[tokio::test]
async fn listening_beyond_loopback_starts_with_insecure_or_with_a_key() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let mut open =
        TestServer::start_listening(&db, ("0.0.0.0:0", "127.0.0.1:0"), &["--insecure"], &[]).await;
    assert_eq!(
        get(&open, "/api/v1/calls", KeyIn::None).await.status(),
        200,
        "--insecure with no key: open"
    );
    open.stop().await;

    let key = create_key(&db, "k", "default", &["read"]);
    let guarded = TestServer::start_listening(&db, ("0.0.0.0:0", "127.0.0.1:0"), &[], &[]).await;
    assert_eq!(
        get(&guarded, "/api/v1/calls", KeyIn::None).await.status(),
        401
    );
    assert_eq!(
        get(&guarded, "/api/v1/calls", KeyIn::Bearer(&key))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn require_keys_refuses_everything_before_any_key_exists() {
    let server = TestServer::start_with_args(&["--require-keys"]).await;
    assert_eq!(
        get(&server, "/api/v1/calls", KeyIn::None).await.status(),
        401
    );
    assert_eq!(export_span(&server, KeyIn::None).await.0, 401);
}

/// Replay runs are a project's data like its calls: another project's key
/// cannot list, read, cancel or see the results of a run, and cannot start
/// one in a project the server's executor does not replay into.
#[tokio::test]
async fn replay_runs_execute_in_their_project_and_are_seen_only_by_it() {
    let fake = FakeProvider::start("127.0.0.1:0".parse().expect("addr"), FakeConfig::default())
        .await
        .expect("fake provider");
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let config = dir.path().join("reprise.toml");
    std::fs::write(
        &config,
        format!(
            "[targets.fake]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"m\"\n",
            fake.base_url()
        ),
    )
    .expect("config");
    let home = create_key(&db, "home", "default", &["ingest", "read", "admin"]);
    let other = create_key(&db, "other", "other", &["ingest", "read", "admin"]);
    let config_arg = config.to_string_lossy().to_string();
    let server = TestServer::start_on(&db, &["--config", &config_arg]).await;

    let mut originals = Vec::new();
    for (key, marker) in [(&home, "home"), (&other, "other")] {
        let (status, reply) = post_record(&server, KeyIn::Bearer(key), marker).await;
        assert_eq!(status, 200, "{reply}");
        originals.push(reply["ids"][0].as_str().expect("id").to_owned());
    }
    let (home_call, other_call) = (originals[0].clone(), originals[1].clone());
    let start = |key: String, call_id: String| {
        let body = json!({"ids": [call_id], "targets": ["fake"]});
        let url = server.url("/api/v1/replays");
        async move {
            let body = serde_json::to_vec(&body).expect("JSON");
            let response = request(
                reqwest::Method::POST,
                url,
                KeyIn::Bearer(&key),
                Some(("application/json", body)),
            )
            .await;
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("JSON"))
        }
    };
    // A project replays its own calls, never another's.
    let (status, refusal) = start(other.clone(), home_call.clone()).await;
    assert!((400..500).contains(&status), "{status}: {refusal}");
    let (status, run) = start(home.clone(), home_call.clone()).await;
    assert_eq!(status, 201, "{run}");
    let run_id = run["id"].as_str().expect("run id").to_owned();
    let (status, other_run) = start(other.clone(), other_call.clone()).await;
    assert_eq!(status, 201, "{other_run}");
    let other_run_id = other_run["id"].as_str().expect("run id").to_owned();

    // The other project's run executes, and its result is stored there.
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        let run: Value = get(
            &server,
            &format!("/api/v1/replays/{other_run_id}"),
            KeyIn::Bearer(&other),
        )
        .await
        .json()
        .await
        .expect("JSON");
        if run["state"] != "running" {
            break run;
        }
        assert!(Instant::now() < deadline, "the run never finished: {run}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(finished["state"], "done", "{finished}");
    let results: Value = get(
        &server,
        &format!("/api/v1/replays/{other_run_id}/results"),
        KeyIn::Bearer(&other),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let item = &results["results"][0]["replays"][0];
    assert_eq!(item["state"], "done", "{results}");
    let result_call = item["result_call_id"].as_str().expect("result call");
    let path = format!("/api/v1/calls/{result_call}");
    let seen: Value = get(&server, &path, KeyIn::Bearer(&other))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(seen["source"], "replay", "{seen}");
    assert_eq!(
        seen["attributes"]["replay.original_call_id"],
        other_call.as_str()
    );
    let status = get(&server, &path, KeyIn::Bearer(&home)).await.status();
    assert_eq!(status, 404, "the result call is not in the default project");

    let listed: Value = get(&server, "/api/v1/replays", KeyIn::Bearer(&other))
        .await
        .json()
        .await
        .expect("JSON");
    let ids: Vec<&Value> = listed["replays"]
        .as_array()
        .expect("replays")
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, [&json!(other_run_id)], "{listed}");
    let listed: Value = get(&server, "/api/v1/replays", KeyIn::Bearer(&home))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed["replays"][0]["id"], run_id.as_str(), "{listed}");

    for path in [
        format!("/api/v1/replays/{run_id}"),
        format!("/api/v1/replays/{run_id}/results"),
    ] {
        let status = get(&server, &path, KeyIn::Bearer(&other)).await.status();
        assert_eq!(status, 404, "the other project must not see {path}");
        let status = get(&server, &path, KeyIn::Bearer(&home)).await.status();
        assert_eq!(status, 200, "the run's project reads {path}");
    }
    let cancel = request(
        reqwest::Method::POST,
        server.url(&format!("/api/v1/replays/{run_id}/cancel")),
        KeyIn::Bearer(&other),
        None,
    )
    .await;
    assert_eq!(cancel.status(), 404, "the other project cannot cancel it");
}

#[tokio::test]
async fn metrics_need_a_metrics_key_not_a_projects_read_key() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("reprise.db");
    let other_read = create_key(&db, "other-reader", "other", &["read"]);
    let admin = create_key(&db, "admin", "default", &["admin"]);
    let scraper = create_key(&db, "prometheus", "default", &["metrics"]);
    let ingest = create_key(&db, "ingester", "default", &["ingest"]);
    let server = TestServer::start_on(&db, &[]).await;

    // A record of the default project, so its model shows in the metrics.
    let (status, _) = post_record(&server, KeyIn::Bearer(&ingest), "metered").await;
    assert_eq!(status, 200);

    for (key, expected) in [
        (KeyIn::None, 401),
        (KeyIn::Bearer(&other_read), 403),
        (KeyIn::Bearer(&admin), 403),
    ] {
        let response = get(&server, "/metrics", key).await;
        assert_eq!(response.status(), expected);
        let text = response.text().await.expect("body");
        assert!(!text.contains("reprise_llm_calls_total"), "{text}");
    }
    let response = get(&server, "/metrics", KeyIn::Bearer(&scraper)).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    assert!(text.contains("reprise_llm_calls_total"), "{text}");
    // The metrics key reads nothing else.
    assert_eq!(
        get(&server, "/api/v1/calls", KeyIn::Bearer(&scraper))
            .await
            .status(),
        403
    );
}
