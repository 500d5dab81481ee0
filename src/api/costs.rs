//! `POST /api/v1/costs/recompute`: prices stored calls again with the
//! current price table (after `--prices` changed, or a price was wrong).
//! Takes the calls filter as query parameters; answers how many calls were
//! examined and how many costs changed.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::error::responses::{BadRequest, Busy, Forbidden, Internal, Unauthorized};
use super::params::query_pairs;
use super::{ApiState, AppState};
use crate::model::Call;
use crate::model::filter::CallFilterParams;
use crate::model::project::Project;
use crate::store::read::{CallSort, SortKey};
use crate::store::write::batch::WriteBatch;

/// Calls priced per page, and per write.
const PAGE: usize = 1000;

/// What a recompute did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recompute {
    /// Calls the filter selected.
    pub examined: usize,
    /// Calls whose cost changed.
    pub updated: usize,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(recompute))
}

#[utoipa::path(
    post,
    path = "/api/v1/costs/recompute",
    operation_id = "recomputeCosts",
    tag = "costs",
    summary = "Price stored calls again with the current price table.",
    description = "Takes the calls filter as query parameters. Needs an `admin` key when the server has keys.",
    params(
        CallFilterParams,
    ),
    responses(
        (status = 200, description = "How many calls were examined and how many costs changed.", body = Recompute),
        BadRequest,
        Unauthorized,
        Forbidden,
        Internal,
        Busy,
    ),
)]
#[tracing::instrument(skip_all)]
async fn recompute(
    State(state): State<ApiState>,
    project: Project,
    RawQuery(query): RawQuery,
) -> Result<Json<Recompute>, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let filter = CallFilterParams::from_pairs(&pairs, &[])?.parse()?;
    let sort = CallSort {
        key: SortKey::Time,
        ascending: true,
    };
    let prices = &state.ingest.prices;
    let (mut examined, mut updated) = (0usize, 0usize);
    let mut cursor = None;
    loop {
        let page = state
            .store
            .reader
            .list_calls(project.id, &filter, sort, PAGE, cursor)
            .await?;
        let mut changes = Vec::new();
        for columns in &page.calls {
            examined += 1;
            let mut call = Call::new(
                columns.call_id,
                columns.source,
                columns.start_time_unix_nano,
            );
            call.request_model = columns.request_model.clone();
            call.response_model = columns.response_model.clone();
            call.usage = columns.usage.clone();
            let cost = prices.cost(&call);
            if cost != columns.cost_usd {
                changes.push((columns.call_id, cost));
            }
        }
        updated += changes.len();
        if !changes.is_empty() {
            let batch = WriteBatch {
                project_id: project.id,
                cost_updates: changes,
                ..WriteBatch::default()
            };
            state.store.queue.write(batch).await?;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(Json(Recompute { examined, updated }))
}
