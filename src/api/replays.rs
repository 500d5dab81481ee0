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

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::Notify;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::body::ApiJson;
use super::error::responses::{BadRequest, Forbidden, Internal, NotFound, Unauthorized};
use super::error::{ApiError, ErrorBody};
use super::params::parse_limit;
use crate::model::project::Project;
use crate::model::{Call, CallError, CallId, CallStatus, Message, Part, Source, Usage, nanos};
use crate::providers::ProviderKind;
use crate::replay::run::{Item, Run, RunState, Selection, read_run};
use crate::replay::summary::{self, Progress, RunSummary, TargetSummary};
use crate::replay::{ReplayError, RunRequest, RunWarning, cancel_run, create_run};
use crate::store::Store;
use crate::store::read::Reader;
use crate::targets::spec::Price;
use crate::targets::{Budget, ConfigFile, TargetSpec};

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

/// A replay run as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayRun {
    pub id: String,
    pub name: Option<String>,
    /// `running`, `done`, `cancelled`, `stopped` (a budget guard or an
    /// error ended it; see `stop_reason`) or `failed` (every item failed;
    /// each target's `errors` say why).
    pub state: RunState,
    pub stop_reason: Option<String>,
    /// Unix nanoseconds as a decimal string.
    #[serde(with = "nanos::string")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub created_at_unix_nano: u64,
    /// Unix nanoseconds as a decimal string.
    #[serde(with = "nanos::optional_string")]
    #[schema(value_type = Option<String>, pattern = "^[0-9]+$")]
    pub finished_at_unix_nano: Option<u64>,
    /// The creation time in milliseconds since the epoch (the fraction
    /// holds the sub-millisecond part), for arithmetic in JavaScript.
    pub created_at_ms: f64,
    /// The end in milliseconds since the epoch, as `created_at_ms`.
    pub finished_at_ms: Option<f64>,
    pub targets: Vec<RunTarget>,
    /// Repetitions per call and target.
    pub repeat: u32,
    /// Whether answers are streamed.
    pub stream: bool,
    /// Which calls the run replays.
    pub selection: Selection,
    /// Request parameters set on every replayed request.
    pub overrides: Map<String, Value>,
    /// Parameters every target may lose, as the run was asked.
    pub allow_drop: BTreeSet<String>,
    pub budget: Budget,
    pub progress: Progress,
    /// Per target: progress, latency and TTFT percentiles, tokens,
    /// tokens/s and cost of the replayed calls. Absent in listings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Vec<TargetSummary>>,
    /// What to know before trusting the figures, such as items replayed
    /// without their tools.
    pub notes: Vec<String>,
    /// Only in the answer to `POST /api/v1/replays`: what the selected
    /// calls will not show. The first 200 selected calls are checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<RunWarning>>,
}

/// A target as configured, without its headers (they may carry credentials).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayTarget {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub model: String,
}

impl ReplayTarget {
    fn new(spec: &TargetSpec) -> Self {
        ReplayTarget {
            name: spec.name.clone(),
            kind: spec.kind,
            base_url: spec.base_url.clone(),
            model: spec.model.clone(),
        }
    }
}

/// A target of a run: as configured (without its headers), with its
/// pacing and price.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunTarget {
    #[serde(flatten)]
    pub target: ReplayTarget,
    pub max_concurrency: usize,
    pub requests_per_second: Option<f64>,
    pub price: Option<Price>,
}

/// A page of `GET /api/v1/replays`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayRunPage {
    /// Runs, newest first, without their per-target `summary`.
    pub replays: Vec<ReplayRun>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// What `GET /api/v1/replays/targets` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayTargets {
    pub targets: Vec<ReplayTarget>,
}

/// A page of `GET /api/v1/replays/{id}/results`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayResults {
    pub run_id: String,
    pub results: Vec<ReplayResult>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// One original call and its replays.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayResult {
    pub original_call_id: String,
    /// The original, with its prompt; null when it is no longer stored.
    #[schema(required = true)]
    pub original: Option<ReplayCall>,
    pub replays: Vec<ReplayItem>,
}

/// One item: target, repetition, state, attempts, last error and its
/// `error_class` (as in the summary's `errors`), and the replayed call.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayItem {
    #[serde(flatten)]
    pub item: Item,
    /// The call the target answered with, when there is one.
    pub call: Option<ReplayCall>,
}

/// A call as the results page shows it: the answer and its figures, and
/// for the original also the prompt.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayCall {
    pub id: CallId,
    pub source: Source,
    pub provider: Option<String>,
    pub request_model: Option<String>,
    pub response_model: Option<String>,
    pub status: CallStatus,
    pub error: Option<CallError>,
    /// Text of the first output message.
    pub output_text: Option<String>,
    pub output_messages: Option<Vec<Message>>,
    pub finish_reasons: Option<Vec<String>>,
    pub usage: Usage,
    pub duration_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub streaming: Option<bool>,
    pub cost_usd: Option<f64>,
    /// The prompt: only on originals.
    #[serde(flatten)]
    #[schema(inline)]
    pub prompt: Option<ReplayPrompt>,
}

/// The prompt of an original call.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayPrompt {
    pub system_instructions: Option<Vec<Part>>,
    pub input_messages: Option<Vec<Message>>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs, start_run))
        .routes(routes!(list_targets))
        .routes(routes!(get_run))
        .routes(routes!(get_results))
        .routes(routes!(cancel))
}

/// The body of `POST /api/v1/replays`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReplayStart)]
struct StartBody {
    /// A name to find the run by.
    #[serde(default)]
    name: Option<String>,
    /// The filters of `GET /api/v1/calls`, as a JSON object
    /// (`{"service": "support-bot", "since": "7d"}`).
    #[serde(default)]
    filters: Map<String, Value>,
    /// Explicit call ids instead of (or within) the filters.
    #[serde(default)]
    ids: Option<Vec<CallId>>,
    /// A random sample of this many of the selected calls.
    #[serde(default)]
    sample: Option<usize>,
    /// Target names from the config file (`[targets.NAME]`).
    targets: Vec<String>,
    /// Repetitions per call and target (default 1).
    #[serde(default)]
    repeat: Option<u32>,
    /// Request parameters to set on every replayed request (JSON merge
    /// patch; `null` leaves a parameter out, and then it cannot fail the
    /// item).
    #[serde(default)]
    overrides: Map<String, Value>,
    /// Guards that stop the run before it overspends.
    #[serde(default)]
    budget: Budget,
    /// Stream answers (default true) to measure time to first token.
    #[serde(default)]
    stream: Option<bool>,
    /// Recorded parameters every target may lose when it cannot express
    /// them, on top of each target's own `allow_drop`.
    #[serde(default)]
    allow_drop: BTreeSet<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/replays",
    operation_id = "startReplay",
    tag = "replays",
    summary = "Start a replay run in the background.",
    description = "Needs an `admin` key when the server has keys.",
    request_body = StartBody,
    responses(
        (status = 201, description = "The run, created and started.", body = ReplayRun),
        BadRequest,
        Unauthorized,
        Forbidden,
        Internal,
    ),
)]
#[tracing::instrument(skip_all)]
async fn start_run(
    State(state): State<ReplaysState>,
    project: Project,
    ApiJson(body): ApiJson<StartBody>,
) -> Result<(StatusCode, Json<ReplayRun>), ApiError> {
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
    let mut run = ReplayRun::new(&created.run, &summary);
    run.warnings = Some(created.warnings);
    Ok((StatusCode::CREATED, Json(run)))
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

#[utoipa::path(
    get,
    path = "/api/v1/replays",
    operation_id = "listReplays",
    tag = "replays",
    summary = "Replay runs, newest first, with progress.",
    params(
        ("limit" = Option<u32>, Query, description = "Page size (1–200, default 20).", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of runs.", body = ReplayRunPage),
        BadRequest,
        Unauthorized,
        Forbidden,
        Internal,
    ),
)]
#[tracing::instrument(skip_all)]
async fn list_runs(
    State(state): State<ReplaysState>,
    project: Project,
    Query(params): Query<PageParams>,
) -> Result<Json<ReplayRunPage>, ApiError> {
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
        let mut listed_run = ReplayRun::new(run, &summary);
        listed_run.summary = None;
        listed.push(listed_run);
    }
    Ok(Json(ReplayRunPage {
        replays: listed,
        next_cursor,
    }))
}

/// The project's run `id`, or 404 (also for another project's run).
pub async fn load_run(reader: &Reader, project: &Project, id: &str) -> Result<Run, ApiError> {
    read_run(reader, project.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("replay run {id}")))
}

#[utoipa::path(
    get,
    path = "/api/v1/replays/{id}",
    operation_id = "getReplay",
    tag = "replays",
    summary = "A run: state, progress and per-target summary.",
    params(
        ("id" = String, Path, description = "Replay run id."),
    ),
    responses(
        (status = 200, description = "The run.", body = ReplayRun),
        Unauthorized,
        Forbidden,
        NotFound,
        Internal,
    ),
)]
#[tracing::instrument(skip(state))]
async fn get_run(
    State(state): State<ReplaysState>,
    project: Project,
    Path(id): Path<String>,
) -> Result<Json<ReplayRun>, ApiError> {
    let run = load_run(&state.store.reader, &project, &id).await?;
    let summary = summary::summarize(&state.store.reader, &run).await?;
    Ok(Json(ReplayRun::new(&run, &summary)))
}

#[utoipa::path(
    post,
    path = "/api/v1/replays/{id}/cancel",
    operation_id = "cancelReplay",
    tag = "replays",
    summary = "Cancel a running run: pending items become cancelled.",
    description = "Needs an `admin` key when the server has keys.",
    params(
        ("id" = String, Path, description = "Replay run id."),
    ),
    responses(
        (status = 200, description = "The cancelled run.", body = ReplayRun),
        Unauthorized,
        Forbidden,
        NotFound,
        (status = 409, description = "The run has already ended.", body = ErrorBody),
        Internal,
    ),
)]
#[tracing::instrument(skip(state))]
async fn cancel(
    State(state): State<ReplaysState>,
    project: Project,
    Path(id): Path<String>,
) -> Result<Json<ReplayRun>, ApiError> {
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
    Ok(Json(ReplayRun::new(&run, &summary)))
}

#[utoipa::path(
    get,
    path = "/api/v1/replays/{id}/results",
    operation_id = "getReplayResults",
    tag = "replays",
    summary = "Originals and their replays side by side, paginated.",
    params(
        ("id" = String, Path, description = "Replay run id."),
        ("limit" = Option<u32>, Query, description = "Page size (1–200, default 20).", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of results.", body = ReplayResults),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Internal,
    ),
)]
#[tracing::instrument(skip(state, params))]
async fn get_results(
    State(state): State<ReplaysState>,
    project: Project,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<ReplayResults>, ApiError> {
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
            replays.push(replay_item(&state, &project, item).await?);
        }
        results.push(ReplayResult {
            original_call_id: original_id.to_string(),
            original: original.as_ref().map(|call| ReplayCall::new(call, true)),
            replays,
        });
    }
    Ok(Json(ReplayResults {
        run_id: run.id,
        results,
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

async fn replay_item(
    state: &ReplaysState,
    project: &Project,
    item: &Item,
) -> Result<ReplayItem, ApiError> {
    let call = match item.result_call_id {
        Some(id) => state.store.reader.call(project.id, id).await?,
        None => None,
    };
    Ok(ReplayItem {
        item: item.clone(),
        call: call.as_ref().map(|call| ReplayCall::new(call, false)),
    })
}

impl ReplayCall {
    /// The answer and its figures, and with `with_prompt` also the prompt.
    fn new(call: &Call, with_prompt: bool) -> Self {
        ReplayCall {
            id: call.id,
            source: call.source,
            provider: call.provider.clone(),
            request_model: call.request_model.clone(),
            response_model: call.response_model.clone(),
            status: call.status,
            error: call.error.clone(),
            output_text: call.output_text(),
            output_messages: call.output_messages.clone(),
            finish_reasons: call.finish_reasons.clone(),
            usage: call.usage.clone(),
            duration_ms: call.duration_ms,
            ttft_ms: call.ttft_ms,
            streaming: call.streaming,
            cost_usd: call.cost_usd,
            prompt: with_prompt.then(|| ReplayPrompt {
                system_instructions: call.system_instructions.clone(),
                input_messages: call.input_messages.clone(),
            }),
        }
    }
}

impl ReplayRun {
    /// A run as the API shows it. Targets are shown without their
    /// headers, which may carry credentials.
    pub fn new(run: &Run, summary: &RunSummary) -> Self {
        let targets = run
            .spec
            .targets
            .iter()
            .map(|target| RunTarget {
                target: ReplayTarget::new(target),
                max_concurrency: target.max_concurrency,
                requests_per_second: target.requests_per_second,
                price: target.price.clone(),
            })
            .collect();
        ReplayRun {
            id: run.id.clone(),
            name: run.name.clone(),
            state: run.state,
            stop_reason: run.stop_reason.clone(),
            created_at_unix_nano: run.created_at_unix_nano,
            finished_at_unix_nano: run.finished_at_unix_nano,
            created_at_ms: nanos::millis(run.created_at_unix_nano),
            finished_at_ms: run.finished_at_unix_nano.map(nanos::millis),
            targets,
            repeat: run.spec.repeat,
            stream: run.spec.stream,
            selection: run.spec.selection.clone(),
            overrides: run.spec.overrides.clone(),
            allow_drop: run.spec.allow_drop.clone(),
            budget: run.spec.budget.clone(),
            progress: summary.progress.clone(),
            summary: Some(summary.targets.clone()),
            notes: summary::notes(summary),
            warnings: None,
        }
    }
}

/// The configured targets, by name (the config file was checked when the
/// server started). Headers are left out: they may carry credentials.
#[utoipa::path(
    get,
    path = "/api/v1/replays/targets",
    operation_id = "listReplayTargets",
    tag = "replays",
    summary = "The replay targets configured in the config file, without their headers.",
    responses(
        (status = 200, description = "The targets.", body = ReplayTargets),
        Unauthorized,
        Forbidden,
        Internal,
    ),
)]
#[tracing::instrument(skip_all)]
async fn list_targets(State(state): State<ReplaysState>) -> Result<Json<ReplayTargets>, ApiError> {
    let specs = state
        .config
        .resolve_all()
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let targets = specs.iter().map(ReplayTarget::new).collect();
    Ok(Json(ReplayTargets { targets }))
}
