//! `GET /api/v1/stats?group_by=model|provider|service|hour|day&…filters`:
//! count, error rate, latency and TTFT percentiles, tokens and cost per group.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::error::responses::{BadRequest, Forbidden, Internal, Unauthorized};
use super::params::{param, query_pairs};
use super::{ApiState, AppState};
use crate::model::filter::CallFilterParams;
use crate::model::project::Project;
use crate::store::read::{GroupBy, GroupKey, GroupStats};

/// What `GET /api/v1/stats` answers: one row per group.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    /// The grouping asked for.
    pub group_by: String,
    pub groups: Vec<StatsGroup>,
}

/// One group's figures; time groups also have their start as RFC 3339.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsGroup {
    #[serde(flatten)]
    pub stats: GroupStats,
    /// For hour and day groups: the start as RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_time: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stats))
}

#[utoipa::path(
    get,
    path = "/api/v1/stats",
    operation_id = "getStats",
    tag = "stats",
    summary = "Count, error rate, latency and TTFT percentiles, tokens and cost per group.",
    params(
        CallFilterParams,
        ("group_by" = Option<String>, Query, description = "Grouping: `model` (default), `provider`, `service`, `hour`, `day` or `none`.", pattern = "^(model|provider|service|hour|day|none)$"),
        super::fresh::FreshParam,
    ),
    responses(
        (status = 200, description = "One row per group.", body = Stats),
        BadRequest,
        Unauthorized,
        Forbidden,
        Internal,
        super::error::responses::NotFresh,
    ),
)]
#[tracing::instrument(skip_all)]
async fn stats(
    State(state): State<ApiState>,
    project: Project,
    RawQuery(query): RawQuery,
) -> Result<Json<Stats>, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let filter =
        CallFilterParams::from_pairs(&pairs, &["group_by", super::fresh::PARAM])?.parse()?;
    super::fresh::wait_if_asked(&state.store, &pairs).await?;
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
    let groups = groups
        .into_iter()
        .map(|stats| {
            let key_time = match stats.key {
                GroupKey::Time(nanos) => Some(rfc3339(nanos)),
                _ => None,
            };
            StatsGroup { stats, key_time }
        })
        .collect();
    Ok(Json(Stats {
        group_by: group_name.to_owned(),
        groups,
    }))
}

fn rfc3339(nanos: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}
