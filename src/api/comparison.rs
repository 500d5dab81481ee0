//! A replay run's comparison over HTTP:
//!
//! - `GET /api/v1/replays/{id}/comparison[?scoring=ID]`: the
//!   [`ComparisonReport`] that `reprise compare --format json` prints: per
//!   target win/tie/loss, similarity, paired latency, tokens, cost and
//!   error rate with their intervals, the verdict, counts of what the judge
//!   could not decide, and the worst regressions. `scoring` is the state of
//!   the run's newest scoring (`none`, `running`, `done`, `failed`).
//! - `POST /api/v1/replays/{id}/comparison` with `{"judge", "rubric",
//!   "embeddings", "rescore"}` (all optional; the server's `[compare]`
//!   section fills in the rest) starts a scoring in the background and
//!   answers 202; the GET shows `scoring: running` until it is done.
//!
//! A scoring reads the stored answers and calls only the judge and the
//! embeddings target, never the replay targets.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::body::ApiJson;
use super::error::responses::{BadRequest, Forbidden, Internal, NotFound, Unauthorized};
use super::error::{ApiError, ErrorBody};
use crate::compare::scoring::{self, ScoringError};
use crate::compare::settings::{CompareFile, ScoringRequest, SettingsError};
use crate::compare::summary::report::{ComparisonReport, ReportError, load_report};
use crate::model::project::Project;
use crate::store::Store;

/// What the comparison handlers share.
#[derive(Clone)]
pub struct ComparisonState {
    pub store: Store,
    pub project_id: i64,
    /// Targets and the `[compare]` section.
    pub config: Arc<CompareFile>,
    /// Runs this server is scoring now: one scoring per run at a time.
    pub scoring: Arc<Mutex<HashSet<String>>>,
    /// Every project's redaction policy, applied to judge replies.
    pub redactor: Arc<crate::redact::Redactor>,
}

impl ComparisonState {
    pub fn new(
        store: Store,
        project_id: i64,
        config: Arc<CompareFile>,
        redactor: Arc<crate::redact::Redactor>,
    ) -> Self {
        ComparisonState {
            store,
            project_id,
            config,
            scoring: Arc::new(Mutex::new(HashSet::new())),
            redactor,
        }
    }
}

/// The answer to `POST /api/v1/replays/{id}/comparison`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoringStarted {
    pub run_id: String,
    pub scoring_id: String,
    /// `running`, or `done` when nothing was left to score.
    #[schema(pattern = "^(running|done)$")]
    pub scoring: &'static str,
    /// Whether a new scoring was created (else an open one goes on).
    pub created: bool,
    /// Items the scoring will score.
    pub items_to_score: usize,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_comparison, start_scoring))
}

#[derive(Debug, Deserialize)]
struct GetParams {
    #[serde(default)]
    scoring: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/replays/{id}/comparison",
    operation_id = "getComparison",
    tag = "compare",
    summary = "The run's comparison: aggregate table per target and the worst regressions.",
    params(
        ("id" = String, Path, description = "Replay run id."),
        ("scoring" = Option<String>, Query, description = "A scoring id; default the newest."),
    ),
    responses(
        (status = 200, description = "The comparison (same as `reprise compare RUN --format json`).", body = ComparisonReport),
        Unauthorized,
        Forbidden,
        NotFound,
        Internal,
    ),
)]
#[tracing::instrument(skip_all)]
async fn get_comparison(
    State(state): State<ComparisonState>,
    project: Project,
    Path(id): Path<String>,
    Query(params): Query<GetParams>,
) -> Result<Json<ComparisonReport>, ApiError> {
    let run = super::replays::load_run(&state.store.reader, &project, &id).await?;
    let report = load_report(
        &state.store,
        &run,
        params.scoring.as_deref(),
        &state.config.compare.aggregate,
    )
    .await
    .map_err(|error| match error {
        ReportError::NoSuchScoring { .. } => ApiError::NotFound(error.to_string()),
        ReportError::Read(error) => error.into(),
    })?;
    Ok(Json(report))
}

/// The body of `POST /api/v1/replays/{id}/comparison`; every field is
/// optional (the server's `[compare]` section fills in the rest).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ScoringRequest)]
struct StartBody {
    /// A target name from the config file.
    #[serde(default)]
    judge: Option<String>,
    /// Grade 1–10 instead of pairwise.
    #[serde(default)]
    rubric: Option<bool>,
    /// An OpenAI-compatible embeddings target.
    #[serde(default)]
    embeddings: Option<String>,
    /// Score every item again, not only those without scores.
    #[serde(default)]
    rescore: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/replays/{id}/comparison",
    operation_id = "scoreRun",
    tag = "compare",
    summary = "Score the run (again) in the background, with a judge, rubric or embeddings target, without calling the candidates again.",
    description = "Needs an `admin` key when the server has keys. An empty body reads as `{}`.",
    params(
        ("id" = String, Path, description = "Replay run id."),
    ),
    request_body(content = Option<StartBody>, content_type = "application/json", description = "Scoring options; may be empty."),
    responses(
        (status = 202, description = "Scoring started (or already complete).", body = ScoringStarted),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        (status = 409, description = "The run is being scored already.", body = ErrorBody),
        Internal,
    ),
)]
#[tracing::instrument(skip_all)]
async fn start_scoring(
    State(state): State<ComparisonState>,
    project: Project,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StartBody>,
) -> Result<(StatusCode, Json<ScoringStarted>), ApiError> {
    let run = super::replays::load_run(&state.store.reader, &project, &id).await?;
    let mut options = state
        .config
        .scoring_options(&ScoringRequest {
            judge: body.judge,
            embeddings: body.embeddings,
            rubric: body.rubric,
            judge_template: None,
            rescore: body.rescore,
        })
        .map_err(|error| match error {
            SettingsError::Target(_) | SettingsError::BadTemplate { .. } => {
                ApiError::BadRequest(error.to_string())
            }
            other => ApiError::Internal(other.to_string()),
        })?;
    options.redaction = state.redactor.policy_for(&project.name);
    if !claim(&state, &run.id) {
        return Err(ApiError::Conflict(format!(
            "run {} is being scored; wait until GET …/comparison shows scoring: done",
            run.id
        )));
    }
    let prepared = scoring::prepare(&state.store, &run, &options).await;
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            release(&state, &run.id);
            return Err(scoring_error(error));
        }
    };
    let scoring_id = prepared.scoring_id.clone();
    let created = prepared.created;
    let item_count = prepared.items.len();
    let prepared_open = prepared.open;
    let task_state = state.clone();
    tokio::spawn(async move {
        let result = scoring::complete(&task_state.store, &run, options, prepared).await;
        if let Err(error) = result {
            tracing::error!(run_id = %run.id, %error, "scoring failed");
        }
        release(&task_state, &run.id);
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(ScoringStarted {
            run_id: id,
            scoring_id,
            scoring: if prepared_open { "running" } else { "done" },
            created,
            items_to_score: item_count,
        }),
    ))
}

fn claim(state: &ComparisonState, run_id: &str) -> bool {
    let mut running = state.scoring.lock().unwrap_or_else(|e| e.into_inner());
    running.insert(run_id.to_owned())
}

fn release(state: &ComparisonState, run_id: &str) {
    let mut running = state.scoring.lock().unwrap_or_else(|e| e.into_inner());
    running.remove(run_id);
}

fn scoring_error(error: ScoringError) -> ApiError {
    ApiError::Internal(error.to_string())
}
