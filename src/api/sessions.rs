//! `GET /api/v1/sessions/{id}`: a conversation — every call with this
//! session id in time order (paginated), and its totals.

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::error::ApiError;
use super::params::{param, parse_cursor, parse_limit, query_pairs};
use super::{ApiState, AppState};
use crate::model::CallSummary;
use crate::model::filter::CallFilter;
use crate::model::project::Project;
use crate::store::read::{CallSort, GroupBy, GroupStats, SortKey};

/// A conversation: its calls in time order, a page at a time, and its totals.
#[derive(Debug, Serialize)]
pub struct Session {
    pub session_id: String,
    /// Figures over every call of the session.
    pub totals: GroupStats,
    pub calls: Vec<CallSummary>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/sessions/{id}", get(get_session))
}

#[tracing::instrument(skip(state, query))]
async fn get_session(
    State(state): State<ApiState>,
    project: Project,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Session>, ApiError> {
    let pairs = query_pairs(query.as_deref());
    if let Some((name, _)) = pairs.iter().find(|(k, _)| k != "limit" && k != "cursor") {
        return Err(ApiError::invalid_name(name));
    }
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
