//! `GET /api/v1/logs`: log records by filter, newest first, a page at a
//! time. Each record is shown as in a trace (`GET /api/v1/traces/{id}`),
//! with its resource and scope. Records without a trace id are readable
//! only here.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::error::responses::{BadRequest, Forbidden, Internal, Unauthorized};
use super::params::{param, parse_limit, query_pairs};
use super::traces::{Context, LogEntry};
use super::{ApiState, AppState};
use crate::model::TraceId;
use crate::model::filter::parse_time;
use crate::model::project::Project;
use crate::store::read::{LogCursor, LogFilter};

/// A page of `GET /api/v1/logs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogPage {
    pub logs: Vec<LogEntry>,
    /// Pass as `cursor` for the next page; null at the end. With `q`, a
    /// page may hold fewer records than `limit` (even none) while more
    /// follow.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_logs))
}

#[utoipa::path(
    get,
    path = "/api/v1/logs",
    operation_id = "listLogs",
    tag = "traces",
    summary = "Log records by filter, newest first, cursor-paginated.",
    description = "Every stored log record, with or without a trace id (plain logs and events are readable only here). Filters combine with AND; an unknown parameter is a 400 that names it.",
    params(
        ("since" = Option<String>, Query, description = "Records at or after this time: RFC 3339, Unix nanoseconds, or a duration ago (`15m`, `24h`, `7d`)."),
        ("until" = Option<String>, Query, description = "Records before this time (same forms as `since`)."),
        ("trace_id" = Option<String>, Query, description = "Records of this trace (32 hex digits).", pattern = "^[0-9a-fA-F]{32}$"),
        ("service" = Option<String>, Query, description = "The resource's `service.name`."),
        ("severity" = Option<String>, Query, description = "The lowest severity to list: `trace`, `debug`, `info`, `warn`, `error`, `fatal` (the first number of its range) or an OTLP severity number 1–24."),
        ("event_name" = Option<String>, Query, description = "The record's event name."),
        ("q" = Option<String>, Query, description = "Text the body, the event name or a string attribute holds, ignoring case."),
        ("limit" = Option<u32>, Query, description = "Page size (1–1000, default 50).", minimum = 1, maximum = 1000),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, with the same order."),
        ("order" = Option<String>, Query, description = "Sort order: `asc` or `desc` (default `desc`).", pattern = "^(asc|desc)$"),
        super::fresh::FreshParam,
    ),
    responses(
        (status = 200, description = "A page of log records.", body = LogPage),
        BadRequest,
        Unauthorized,
        Forbidden,
        Internal,
        super::error::responses::NotFresh,
    ),
)]
#[tracing::instrument(skip_all)]
async fn list_logs(
    State(state): State<ApiState>,
    project: Project,
    RawQuery(query): RawQuery,
) -> Result<Json<LogPage>, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let filter = parse_filter(&pairs)?;
    super::fresh::wait_if_asked(&state.store, &pairs).await?;
    let limit = parse_limit(param(&pairs, "limit"), 50, 1000)?;
    let ascending = match param(&pairs, "order") {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "order",
                format!("{other:?} is not asc or desc"),
            ));
        }
    };
    let cursor = match param(&pairs, "cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => {
            let cursor = LogCursor::decode(text)
                .ok_or_else(|| ApiError::invalid("cursor", "not a cursor this API returned"))?;
            if cursor.ascending != ascending {
                return Err(ApiError::invalid(
                    "cursor",
                    "was returned for another order",
                ));
            }
            Some(cursor)
        }
    };
    let page = state
        .store
        .reader
        .list_logs(project.id, &filter, ascending, limit, cursor)
        .await?;
    let mut context = Context::default();
    let mut logs = Vec::with_capacity(page.logs.len());
    for item in page.logs {
        let (resource, scope) = context.get(&state, item.resource_id, item.scope_id).await?;
        logs.push(LogEntry::new(&item.record, resource, scope));
    }
    Ok(Json(LogPage {
        logs,
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

/// The filter parameters; anything else but paging is refused by name, so
/// a typo never silently widens a query.
fn parse_filter(pairs: &[(String, String)]) -> Result<LogFilter, ApiError> {
    let mut filter = LogFilter::default();
    let non_empty = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    for (name, value) in pairs {
        match name.as_str() {
            "since" => filter.since_unix_nano = Some(parse_time("since", value)?),
            "until" => filter.until_unix_nano = Some(parse_time("until", value)?),
            "service" => filter.service = non_empty(value),
            "severity" => filter.min_severity_number = Some(parse_severity(value)?),
            "event_name" => filter.event_name = non_empty(value),
            "trace_id" => {
                let trace_id =
                    TraceId::from_hex(value).map_err(|e| ApiError::invalid("trace_id", e))?;
                filter.trace_id = Some(trace_id);
            }
            "q" => filter.text = non_empty(value.trim()),
            "limit" | "cursor" | "order" | super::fresh::PARAM => {}
            other => return Err(ApiError::invalid_name(other)),
        }
    }
    Ok(filter)
}

/// The lowest severity to list: an OTLP severity number (1–24) or a name,
/// which stands for the lowest number of its range (`warn` is 13, so
/// `WARN2`–`WARN4` records are included).
fn parse_severity(text: &str) -> Result<i32, ApiError> {
    let trimmed = text.trim();
    if let Ok(number) = trimmed.parse::<i32>() {
        if (1..=24).contains(&number) {
            return Ok(number);
        }
        return Err(ApiError::invalid("severity", "must be between 1 and 24"));
    }
    let number = match trimmed.to_ascii_lowercase().as_str() {
        "trace" => 1,
        "debug" => 5,
        "info" => 9,
        "warn" | "warning" => 13,
        "error" => 17,
        "fatal" => 21,
        _ => {
            return Err(ApiError::invalid(
                "severity",
                format!(
                    "{text:?} is not trace, debug, info, warn, error, fatal or a number from 1 to 24"
                ),
            ));
        }
    };
    Ok(number)
}
