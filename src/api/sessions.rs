//! `GET /api/v1/sessions/{id}`: a conversation — every call with this
//! session id in time order (paginated), and its totals.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::error::responses::{BadRequest, Forbidden, Internal, NotFound, Unauthorized};
use super::params::{param, parse_cursor, parse_limit, query_pairs};
use super::{ApiState, AppState};
use crate::model::CallSummary;
use crate::model::filter::CallFilter;
use crate::model::project::Project;
use crate::store::read::{CallSort, GroupBy, GroupStats, SortKey};

/// A conversation: its calls in time order, a page at a time, and its totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub session_id: String,
    /// Figures over every call of the session.
    pub totals: GroupStats,
    pub calls: Vec<CallSummary>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_session))
}

#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}",
    operation_id = "getSession",
    tag = "sessions",
    summary = "A conversation: its calls in time order and its totals.",
    params(
        ("id" = String, Path, description = "Session id."),
        ("limit" = Option<u32>, Query, description = "Page size (1–1000, default 200).", minimum = 1, maximum = 1000),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, with the same sort and order. Stable under concurrent inserts."),
        super::fresh::FreshParam,
    ),
    responses(
        (status = 200, description = "The session.", body = Session),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Internal,
        super::error::responses::NotFresh,
    ),
)]
#[tracing::instrument(skip(state, query))]
async fn get_session(
    State(state): State<ApiState>,
    project: Project,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Session>, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let known = ["limit", "cursor", super::fresh::PARAM];
    if let Some((name, _)) = pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        return Err(ApiError::invalid_name(name));
    }
    super::fresh::wait_if_asked(&state.store, &pairs).await?;
    let sort = CallSort {
        key: SortKey::Time,
        ascending: true,
    };
    let limit = parse_limit(param(&pairs, "limit"), 200, 1000)?;
    let cursor = parse_cursor(param(&pairs, "cursor"), sort)?;
    let filter = CallFilter {
        session_id: Some(id.clone()),
        ..CallFilter::default()
    };
    let reader = &state.store.reader;
    let totals = reader.call_stats(project.id, &filter, GroupBy::All).await?;
    let Some(totals) = totals.into_iter().next().filter(|t| t.count > 0) else {
        return Err(ApiError::NotFound(format!("session {id:?}")));
    };
    let page = reader
        .list_calls(project.id, &filter, sort, limit, cursor)
        .await?;
    Ok(Json(Session {
        session_id: id,
        totals,
        calls: page.calls,
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}
