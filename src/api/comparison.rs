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

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::body::ApiJson;
use super::error::ApiError;
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
#[derive(Debug, Serialize)]
pub struct ScoringStarted {
    pub run_id: String,
    pub scoring_id: String,
    /// `running`, or `done` when nothing was left to score.
    pub scoring: &'static str,
    /// Whether a new scoring was created (else an open one goes on).
    pub created: bool,
    /// Items the scoring will score.
    pub items_to_score: usize,
}

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/replays/{id}/comparison",
        get(get_comparison).post(start_scoring),
    )
}

#[derive(Debug, Deserialize)]
struct GetParams {
    #[serde(default)]
    scoring: Option<String>,
}

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    judge: Option<String>,
    #[serde(default)]
    rubric: Option<bool>,
    #[serde(default)]
    embeddings: Option<String>,
    #[serde(default)]
    rescore: bool,
}

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
