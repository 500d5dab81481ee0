//! Calls read back: listed with filters and a keyset cursor, or one in full.

use prost::Message as _;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{FromRow as _, QueryBuilder, Row as _};

use super::{ReadError, Reader, Slot};
use crate::model::CallSummary;
use crate::model::filter::{CallFilter, SourceFilter};
use crate::model::{Call, CallId, CallStatus, Source, SpanId, TraceId, Usage};
use crate::store::encoding::call_record::StoredCallContent;

/// What the listing is ordered by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    #[default]
    Time,
    Latency,
    Tokens,
    Cost,
}

impl SortKey {
    pub fn parse(text: &str) -> Option<SortKey> {
        match text {
            "time" => Some(SortKey::Time),
            "latency" | "duration" => Some(SortKey::Latency),
            "tokens" => Some(SortKey::Tokens),
            "cost" => Some(SortKey::Cost),
            _ => None,
        }
    }

    /// The SQL expression sorted on. Calls without a value sort as if it
    /// were -1, below every real value.
    fn expression(self) -> &'static str {
        match self {
            SortKey::Time => "start_time_unix_nano",
            SortKey::Latency => "COALESCE(duration_ms, -1)",
            SortKey::Tokens => "(COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0))",
            SortKey::Cost => "COALESCE(cost_usd, -1)",
        }
    }
}

/// Order of the listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallSort {
    pub key: SortKey,
    pub ascending: bool,
}

/// Where the next page starts: the sort value and row id of the last call
/// of the previous page. Keyset pagination, so calls inserted while a
/// client pages through never shift or repeat what it sees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    pub key: SortKey,
    pub ascending: bool,
    pub value: SortValue,
    pub row_id: i64,
}

/// A sort value: nanosecond times and token counts are integers (a double
/// would lose digits of a nanosecond time), latency and cost are reals.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Int(i64),
    Real(f64),
}

impl Cursor {
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// One page of calls (without their content) and the cursor of the next.
pub struct CallPage {
    pub calls: Vec<CallSummary>,
    pub next_cursor: Option<Cursor>,
}

const CALL_SELECT_COLUMNS: &str = "SELECT id, call_id, source, trace_id, span_id, service, \
    provider, operation, request_model, response_model, response_id, start_time_unix_nano, \
    duration_ms, ttft_ms, streaming, input_tokens, output_tokens, cached_input_tokens, \
    reasoning_tokens, cost_usd, status, error_type, session_id, user_id, pack_id, \
    content_offset, content_length";

const CALL_SELECT: &str = "SELECT id, call_id, source, trace_id, span_id, service, provider, \
    operation, request_model, response_model, response_id, start_time_unix_nano, duration_ms, \
    ttft_ms, streaming, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, \
    cost_usd, status, error_type, session_id, user_id, pack_id, content_offset, content_length \
    FROM calls";

/// The sort value of a listed row. Read by name rather than through a row
/// type: the column is integer or real depending on the sort key, which is
/// only known at run time.
fn sort_value(row: &SqliteRow, key: SortKey) -> Result<SortValue, ReadError> {
    Ok(match key {
        SortKey::Time | SortKey::Tokens => SortValue::Int(row.try_get("sort_value")?),
        SortKey::Latency | SortKey::Cost => SortValue::Real(row.try_get("sort_value")?),
    })
}

/// A `calls` row as sqlx decodes it: [`CALL_SELECT`]'s columns.
#[derive(sqlx::FromRow)]
struct CallRow {
    id: i64,
    call_id: CallId,
    source: i64,
    trace_id: Option<TraceId>,
    span_id: Option<SpanId>,
    service: Option<String>,
    provider: Option<String>,
    operation: Option<String>,
    request_model: Option<String>,
    response_model: Option<String>,
    response_id: Option<String>,
    start_time_unix_nano: i64,
    duration_ms: Option<f64>,
    ttft_ms: Option<f64>,
    streaming: Option<bool>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cached_input_tokens: Option<i64>,
    reasoning_tokens: Option<i64>,
    cost_usd: Option<f64>,
    status: i64,
    error_type: Option<String>,
    session_id: Option<String>,
    user_id: Option<String>,
    pack_id: i64,
    content_offset: i64,
    content_length: i64,
}

impl CallRow {
    /// Where the call's content is.
    fn content(&self) -> Slot {
        Slot {
            pack_id: self.pack_id,
            offset: self.content_offset,
            length: self.content_length,
        }
    }
}

impl From<CallRow> for CallSummary {
    fn from(row: CallRow) -> Self {
        CallSummary {
            call_id: row.call_id,
            source: CallSummary::source_from_code(row.source),
            trace_id: row.trace_id,
            span_id: row.span_id,
            service: row.service,
            provider: row.provider,
            operation: row.operation,
            request_model: row.request_model,
            response_model: row.response_model,
            response_id: row.response_id,
            start_time_unix_nano: row.start_time_unix_nano as u64,
            duration_ms: row.duration_ms,
            ttft_ms: row.ttft_ms,
            streaming: row.streaming,
            usage: Usage {
                input_tokens: row.input_tokens,
                output_tokens: row.output_tokens,
                cached_input_tokens: row.cached_input_tokens,
                reasoning_tokens: row.reasoning_tokens,
            },
            cost_usd: row.cost_usd,
            status: if row.status == 1 {
                CallStatus::Error
            } else {
                CallStatus::Ok
            },
            error_type: row.error_type,
            session_id: row.session_id,
            user_id: row.user_id,
        }
    }
}

pub(super) fn push_filter(query: &mut QueryBuilder<Sqlite>, project_id: i64, filter: &CallFilter) {
    query.push(" WHERE project_id = ").push_bind(project_id);
    if let Some(since) = filter.since_unix_nano {
        query
            .push(" AND start_time_unix_nano >= ")
            .push_bind(since as i64);
    }
    if let Some(until) = filter.until_unix_nano {
        query
            .push(" AND start_time_unix_nano < ")
            .push_bind(until as i64);
    }
    if let Some(trace_id) = filter.trace_id {
        query
            .push(" AND trace_id = ")
            .push_bind(trace_id.as_bytes().to_vec());
    }
    push_dimension_filter(query, filter);
    if let Some(session_id) = &filter.session_id {
        query
            .push(" AND session_id = ")
            .push_bind(session_id.clone());
    }
    if let Some(user_id) = &filter.user_id {
        query.push(" AND user_id = ").push_bind(user_id.clone());
    }
    for tag in &filter.tags {
        query
            .push(" AND id IN (SELECT call_row FROM call_tags WHERE tag = ")
            .push_bind(tag.clone())
            .push(")");
    }
    for (key, value) in &filter.attributes {
        query
            .push(" AND id IN (SELECT call_row FROM call_attributes WHERE key = ")
            .push_bind(key.clone())
            .push(" AND value = ")
            .push_bind(value.clone())
            .push(")");
    }
    if let Some(min) = filter.min_duration_ms {
        query.push(" AND duration_ms >= ").push_bind(min);
    }
    if let Some(max) = filter.max_duration_ms {
        query.push(" AND duration_ms <= ").push_bind(max);
    }
    let tokens = "(COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0))";
    if let Some(min) = filter.min_tokens {
        query.push(format!(" AND {tokens} >= ")).push_bind(min);
    }
    if let Some(max) = filter.max_tokens {
        query.push(format!(" AND {tokens} <= ")).push_bind(max);
    }
    if let Some(search) = &filter.search {
        query
            .push(" AND id IN (SELECT rowid FROM calls_fts WHERE calls_fts MATCH ")
            .push_bind(super::search::fts5_match(search))
            .push(")");
    }
}

/// The filters on columns that calls and their rollups both have.
pub(super) fn push_dimension_filter(query: &mut QueryBuilder<Sqlite>, filter: &CallFilter) {
    if let Some(service) = &filter.service {
        query.push(" AND service = ").push_bind(service.clone());
    }
    if let Some(provider) = &filter.provider {
        query.push(" AND provider = ").push_bind(provider.clone());
    }
    if let Some(model) = &filter.model {
        query
            .push(" AND (request_model = ")
            .push_bind(model.clone())
            .push(" OR response_model = ")
            .push_bind(model.clone())
            .push(")");
    }
    if let Some(status) = filter.status {
        query
            .push(" AND status = ")
            .push_bind(if status == CallStatus::Error { 1i64 } else { 0 });
    }
    let source_code = |source: Source| match source {
        Source::Otlp => 0i64,
        Source::Raw => 1,
        Source::Replay => 2,
    };
    match filter.source {
        Some(SourceFilter::Is(source)) => {
            query.push(" AND source = ").push_bind(source_code(source));
        }
        Some(SourceFilter::Production) => {
            query
                .push(" AND source <> ")
                .push_bind(source_code(Source::Replay));
        }
        None => {}
    }
}

impl Reader {
    /// A page of calls matching `filter` in `sort` order (newest first by
    /// default). The cursor must come from the same sort.
    pub async fn list_calls(
        &self,
        project_id: i64,
        filter: &CallFilter,
        sort: CallSort,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<CallPage, ReadError> {
        let expression = sort.key.expression();
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "{CALL_SELECT_COLUMNS}, {expression} AS sort_value FROM calls"
        ));
        push_filter(&mut query, project_id, filter);
        let (compare, direction) = if sort.ascending {
            (">", "ASC")
        } else {
            ("<", "DESC")
        };
        if let Some(cursor) = cursor {
            query.push(format!(" AND ({expression}, id) {compare} ("));
            match cursor.value {
                SortValue::Int(value) => query.push_bind(value),
                SortValue::Real(value) => query.push_bind(value),
            };
            query.push(", ").push_bind(cursor.row_id).push(")");
        }
        query
            .push(format!(
                " ORDER BY {expression} {direction}, id {direction} LIMIT "
            ))
            .push_bind(limit as i64 + 1);
        // Rows rather than `CallRow`s, for the sort value (see `sort_value`).
        let rows = query.build().fetch_all(&self.pool).await?;
        let more = rows.len() > limit;
        let page = &rows[..rows.len().min(limit)];
        let mut calls = Vec::with_capacity(page.len());
        let mut next_cursor = None;
        for (i, row) in page.iter().enumerate() {
            let call = CallRow::from_row(row)?;
            if more && i + 1 == page.len() {
                next_cursor = Some(Cursor {
                    key: sort.key,
                    ascending: sort.ascending,
                    value: sort_value(row, sort.key)?,
                    row_id: call.id,
                });
            }
            calls.push(CallSummary::from(call));
        }
        Ok(CallPage { calls, next_cursor })
    }

    /// One call with its full content.
    pub async fn call(&self, project_id: i64, call_id: CallId) -> Result<Option<Call>, ReadError> {
        let row: Option<CallRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{CALL_SELECT} WHERE project_id = ? AND call_id = ?"
        )))
        .bind(project_id)
        .bind(call_id.to_bytes().as_slice())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.call_from_row(row).await?)),
            None => Ok(None),
        }
    }

    async fn call_from_row(&self, row: CallRow) -> Result<Call, ReadError> {
        let slot = row.content();
        let columns = CallSummary::from(row);
        let content = StoredCallContent::decode(self.record(slot).await?.as_slice())?;
        let blobs = self.blobs(&content.hashes()).await?;
        Ok(content.into_call(columns, &blobs)?)
    }

    /// The call a span is the source of, directly or as an alias.
    pub async fn call_for_span(
        &self,
        project_id: i64,
        trace_id: TraceId,
        span_id: SpanId,
    ) -> Result<Option<Call>, ReadError> {
        let row: Option<CallRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{CALL_SELECT} WHERE project_id = ?1 AND ((trace_id = ?2 AND span_id = ?3) OR call_id = \
             (SELECT call_id FROM call_aliases WHERE project_id = ?1 AND trace_id = ?2 AND span_id = ?3))"
        )))
        .bind(project_id)
        .bind(trace_id.as_bytes())
        .bind(span_id.as_bytes())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.call_from_row(row).await?)),
            None => Ok(None),
        }
    }

    /// Every call with this response id, in full.
    pub async fn calls_with_response_id(
        &self,
        project_id: i64,
        response_id: &str,
    ) -> Result<Vec<Call>, ReadError> {
        let rows: Vec<CallRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{CALL_SELECT} WHERE project_id = ? AND response_id = ? ORDER BY id"
        )))
        .bind(project_id)
        .bind(response_id)
        .fetch_all(&self.pool)
        .await?;
        let mut calls = Vec::with_capacity(rows.len());
        for row in rows {
            calls.push(self.call_from_row(row).await?);
        }
        Ok(calls)
    }

    /// Spans folded into a call besides its own.
    pub async fn call_aliases(
        &self,
        project_id: i64,
        call_id: CallId,
    ) -> Result<Vec<(TraceId, SpanId)>, ReadError> {
        Ok(sqlx::query_as(
            "SELECT trace_id, span_id FROM call_aliases WHERE project_id = ? AND call_id = ?",
        )
        .bind(project_id)
        .bind(call_id.to_bytes().as_slice())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Spans waiting for the linker, oldest first: (project, trace, span, version).
    pub async fn pending_links(
        &self,
        limit: usize,
    ) -> Result<Vec<(i64, TraceId, SpanId, i64)>, ReadError> {
        Ok(sqlx::query_as(
            "SELECT project_id, trace_id, span_id, version FROM pending_links LIMIT ?",
        )
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many spans wait for the linker.
    pub async fn pending_link_count(&self) -> Result<i64, ReadError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM pending_links")
            .fetch_one(&self.pool)
            .await?)
    }
}
