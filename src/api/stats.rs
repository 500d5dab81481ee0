//! `GET /api/v1/stats?group_by=model|provider|service|hour|day&…filters`:
//! count, error rate, latency and TTFT percentiles, tokens and cost per group.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::error::ApiError;
use super::params::{param, query_pairs};
use super::{ApiState, AppState};
use crate::model::filter::CallFilterParams;
use crate::model::project::Project;
use crate::store::read::{GroupBy, GroupKey};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/stats", get(stats))
}

#[tracing::instrument(skip_all)]
async fn stats(
    State(state): State<ApiState>,
    project: Project,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let filter = CallFilterParams::from_pairs(&pairs, &["group_by"])?.parse()?;
    let group_name = param(&pairs, "group_by").unwrap_or("model");
    let group_by = GroupBy::parse(group_name).ok_or_else(|| {
        ApiError::invalid(
            "group_by",
            format!("{group_name:?} is not model, provider, service, hour, day or none"),
        )
    })?;
    let groups = state
        .store
        .reader
        .call_stats(project.id, &filter, group_by)
        .await?;
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|group| {
            let mut value = json!(group);
            if let GroupKey::Time(nanos) = group.key {
                value["key_time"] = json!(rfc3339(nanos));
            }
            value
        })
        .collect();
    Ok(Json(json!({"group_by": group_name, "groups": groups})))
}

fn rfc3339(nanos: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}
