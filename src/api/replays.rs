//! Replay runs over HTTP:
//!
//! - `POST /api/v1/replays` starts a run: `{"name", "filters": {…} | "ids":
//!   […], "sample", "targets": ["NAME", …], "repeat", "overrides": {…},
//!   "allow_drop": ["PARAM", …], "budget": {"max_calls", "max_cost_usd"},
//!   "stream"}`; targets are names from the server's config file. Answers
//!   201 with the run.
//! - `GET /api/v1/replays`: runs, newest first, cursor-paginated.
//! - `GET /api/v1/replays/{id}`: one run with its state, progress counts
//!   and per-target summary.
//! - `GET /api/v1/replays/{id}/results`: original calls and their replays
//!   side by side, a page of original calls at a time.
//! - `POST /api/v1/replays/{id}/cancel`: cancels a running run.
//! - `GET /api/v1/replays/targets`: the targets of the server's config
//!   file that runs may name (what the web UI's "Replay this call" offers).
//!
//! The server's replay executor does the work in the background; creating
//! a run wakes it.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use super::AppState;
use super::body::ApiJson;
use super::error::ApiError;
use super::params::parse_limit;
use crate::model::project::Project;
use crate::model::{Call, CallId, nanos};
use crate::replay::run::{Item, Run, Selection, read_run};
use crate::replay::summary::{self, RunSummary};
use crate::replay::{ReplayError, RunRequest, cancel_run, create_run};
use crate::store::Store;
use crate::store::read::Reader;
use crate::targets::{Budget, ConfigFile};

/// What the replay handlers share.
#[derive(Clone)]
pub struct ReplaysState {
    pub store: Store,
    pub project_id: i64,
    /// The targets runs may name.
    pub config: Arc<ConfigFile>,
    /// The lease owner of the server's executor: new runs are its from the start.
    pub executor_owner: String,
    /// Wakes the executor when a run is created.
    pub wake: Arc<Notify>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/replays", get(list_runs).post(start_run))
        .route("/api/v1/replays/targets", get(list_targets))
        .route("/api/v1/replays/{id}", get(get_run))
        .route("/api/v1/replays/{id}/results", get(get_results))
        .route("/api/v1/replays/{id}/cancel", post(cancel))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    filters: Map<String, Value>,
    #[serde(default)]
    ids: Option<Vec<CallId>>,
    #[serde(default)]
    sample: Option<usize>,
    targets: Vec<String>,
    #[serde(default)]
    repeat: Option<u32>,
    #[serde(default)]
    overrides: Map<String, Value>,
    #[serde(default)]
    budget: Budget,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    allow_drop: BTreeSet<String>,
}

#[tracing::instrument(skip_all)]
async fn start_run(
    State(state): State<ReplaysState>,
    project: Project,
    ApiJson(body): ApiJson<StartBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let targets = state
        .config
        .resolve(&body.targets)
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let request = RunRequest {
        name: body.name,
        selection: Selection {
            filters: body.filters,
            ids: body.ids,
            sample: body.sample,
        },
        targets,
        repeat: body.repeat.unwrap_or(1),
        overrides: body.overrides,
        budget: body.budget,
        stream: body.stream.unwrap_or(true),
        allow_drop: body.allow_drop,
    };
    let created = create_run(
        &state.store,
        project.id,
        request,
        Some(&state.executor_owner),
    )
    .await
    .map_err(replay_error)?;
    state.wake.notify_one();
    let summary = summary::summarize(&state.store.reader, &created.run).await?;
    let mut json = run_json(&created.run, &summary);
    json["warnings"] = json!(created.warnings);
    Ok((StatusCode::CREATED, Json(json)))
}

fn replay_error(error: ReplayError) -> ApiError {
    match error {
        ReplayError::Selection(_) | ReplayError::Invalid(_) | ReplayError::Target(_) => {
            ApiError::BadRequest(error.to_string())
        }
        ReplayError::RunNotFound(id) => ApiError::NotFound(format!("replay run {id}")),
        ReplayError::Read(_) | ReplayError::Write(_) => ApiError::Internal(error.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct PageParams {
    limit: Option<String>,
    cursor: Option<String>,
}

fn parse_row_cursor(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    match cursor.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::invalid("cursor", "not a cursor this API returned")),
    }
}

#[tracing::instrument(skip_all)]
async fn list_runs(
    State(state): State<ReplaysState>,
    project: Project,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = parse_limit(params.limit.as_deref(), 20, 200)?;
    let before = parse_row_cursor(params.cursor.as_deref())?;
    let runs = state
        .store
        .reader
        .replay_runs(project.id, limit + 1, before)
        .await?;
    let runs = Run::all_from_stored(runs)?;
    let mut listed = Vec::with_capacity(runs.len().min(limit));
    let mut next_cursor = None;
    for (i, run) in runs.iter().enumerate() {
        if i == limit {
            next_cursor = Some(runs[i - 1].row_id.to_string());
            break;
        }
        let progress = summary::progress(&state.store.reader, run).await?;
        let summary = RunSummary {
            progress,
            targets: Vec::new(),
        };
        let mut json = run_json(run, &summary);
        if let Some(object) = json.as_object_mut() {
            object.shift_remove("summary");
        }
        listed.push(json);
    }
    Ok(Json(json!({"replays": listed, "next_cursor": next_cursor})))
}

/// The project's run `id`, or 404 (also for another project's run).
pub async fn load_run(reader: &Reader, project: &Project, id: &str) -> Result<Run, ApiError> {
    read_run(reader, project.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("replay run {id}")))
}

#[tracing::instrument(skip(state))]
async fn get_run(
    State(state): State<ReplaysState>,
    project: Project,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let run = load_run(&state.store.reader, &project, &id).await?;
    let summary = summary::summarize(&state.store.reader, &run).await?;
    Ok(Json(run_json(&run, &summary)))
}

#[tracing::instrument(skip(state))]
async fn cancel(
    State(state): State<ReplaysState>,
    project: Project,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let run = load_run(&state.store.reader, &project, &id).await?;
    let cancelled = cancel_run(&state.store, project.id, &run.id)
        .await
        .map_err(replay_error)?;
    let run = load_run(&state.store.reader, &project, &id).await?;
    if !cancelled {
        return Err(ApiError::Conflict(format!(
            "replay run {id} has already ended ({}); only a running run can be cancelled",
            run.state.as_str()
        )));
    }
    let summary = summary::summarize(&state.store.reader, &run).await?;
    Ok(Json(run_json(&run, &summary)))
}

#[tracing::instrument(skip(state, params))]
async fn get_results(
    State(state): State<ReplaysState>,
    project: Project,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, ApiError> {
    let run = load_run(&state.store.reader, &project, &id).await?;
    let limit = parse_limit(params.limit.as_deref(), 20, 200)?;
    let after = parse_row_cursor(params.cursor.as_deref())?;
    let page = state
        .store
        .reader
        .replay_results(run.row_id, limit, after)
        .await?;
    let mut results = Vec::with_capacity(page.groups.len());
    for (original_id, items) in &page.groups {
        let original = state.store.reader.call(project.id, *original_id).await?;
        let mut replays = Vec::with_capacity(items.len());
        for item in items {
            replays.push(replay_json(&state, &project, item).await?);
        }
        results.push(json!({
            "original_call_id": original_id.to_string(),
            "original": original.as_ref().map(|call| call_json(call, true)),
            "replays": replays,
        }));
    }
    Ok(Json(json!({
        "run_id": run.id,
        "results": results,
        "next_cursor": page.next_cursor.map(|c| c.to_string()),
    })))
}

async fn replay_json(
    state: &ReplaysState,
    project: &Project,
    item: &Item,
) -> Result<Value, ApiError> {
    let call = match item.result_call_id {
        Some(id) => state.store.reader.call(project.id, id).await?,
        None => None,
    };
    let mut json = serde_json::to_value(item).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(object) = json.as_object_mut() {
        object.insert(
            "call".into(),
            call.as_ref()
                .map_or(Value::Null, |call| call_json(call, false)),
        );
    }
    Ok(json)
}

/// A call as the results page shows it: the answer and its figures, and
/// for the original also the prompt.
fn call_json(call: &Call, with_prompt: bool) -> Value {
    let mut json = json!({
        "id": call.id.to_string(),
        "source": call.source.as_str(),
        "provider": call.provider,
        "request_model": call.request_model,
        "response_model": call.response_model,
        "status": call.status.as_str(),
        "error": call.error,
        "output_text": call.output_text(),
        "output_messages": call.output_messages,
        "finish_reasons": call.finish_reasons,
        "usage": call.usage,
        "duration_ms": call.duration_ms,
        "ttft_ms": call.ttft_ms,
        "streaming": call.streaming,
        "cost_usd": call.cost_usd,
    });
    if with_prompt && let Some(object) = json.as_object_mut() {
        object.insert(
            "system_instructions".into(),
            json!(call.system_instructions),
        );
        object.insert("input_messages".into(), json!(call.input_messages));
    }
    json
}

/// A run as the API shows it. Targets are shown without their headers,
/// which may carry credentials.
pub fn run_json(run: &Run, summary: &RunSummary) -> Value {
    let targets: Vec<Value> = run
        .spec
        .targets
        .iter()
        .map(|target| {
            json!({
                "name": target.name,
                "kind": target.kind.as_str(),
                "base_url": target.base_url,
                "model": target.model,
                "max_concurrency": target.max_concurrency,
                "requests_per_second": target.requests_per_second,
                "price": target.price,
            })
        })
        .collect();
    json!({
        "id": run.id,
        "name": run.name,
        "state": run.state.as_str(),
        "stop_reason": run.stop_reason,
        "created_at_unix_nano": nanos::to_json(run.created_at_unix_nano),
        "finished_at_unix_nano": run.finished_at_unix_nano.map(nanos::to_json),
        "created_at_ms": nanos::millis(run.created_at_unix_nano),
        "finished_at_ms": run.finished_at_unix_nano.map(nanos::millis),
        "targets": targets,
        "repeat": run.spec.repeat,
        "stream": run.spec.stream,
        "selection": run.spec.selection,
        "overrides": run.spec.overrides,
        "allow_drop": run.spec.allow_drop,
        "budget": run.spec.budget,
        "progress": summary.progress,
        "summary": summary.targets,
        "notes": summary::notes(summary),
    })
}

/// The configured targets, by name (the config file was checked when the
/// server started). Headers are left out: they may carry credentials.
#[tracing::instrument(skip_all)]
async fn list_targets(State(state): State<ReplaysState>) -> Result<Json<Value>, ApiError> {
    let specs = state
        .config
        .resolve_all()
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let mut targets = Vec::with_capacity(specs.len());
    for spec in &specs {
        targets.push(json!({
            "name": spec.name,
            "kind": spec.kind.as_str(),
            "base_url": spec.base_url,
            "model": spec.model,
        }));
    }
    Ok(Json(json!({ "targets": targets })))
}
