//! Spans and log records read back, with the ids of their resources and scopes.

use prost::Message as _;

use super::{ReadError, Reader, Slot};
use crate::model::{LogRecord, Span, SpanId, TraceId};
use crate::store::encoding::records::{LogColumns, SpanColumns, StoredLogBody, StoredSpanBody};

/// A span read back, with the row ids of its resource and scope.
pub struct StoredSpan {
    pub span: Span,
    pub resource_id: i64,
    pub scope_id: i64,
}

/// A log record read back, with the row ids of its resource and scope.
pub struct StoredLog {
    pub record: LogRecord,
    pub resource_id: i64,
    pub scope_id: i64,
}

const SPAN_COLUMNS: &str = "span_id, parent_span_id, name, kind, start_time_unix_nano, \
    end_time_unix_nano, status_code, resource_id, scope_id, pack_id, body_offset, body_length";

pub(super) const LOG_COLUMNS: &str = "time_unix_nano, span_id, severity_number, resource_id, scope_id, \
    pack_id, body_offset, body_length";

/// A `spans` row as sqlx decodes it: [`SPAN_COLUMNS`].
#[derive(sqlx::FromRow)]
struct SpanRow {
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    name: String,
    kind: i32,
    start_time_unix_nano: i64,
    end_time_unix_nano: i64,
    status_code: i32,
    resource_id: i64,
    scope_id: i64,
    pack_id: i64,
    body_offset: i64,
    body_length: i64,
}

impl SpanRow {
    /// The span's columns; its trace id is the caller's, who asked for it.
    fn into_columns(self, trace_id: TraceId) -> SpanColumns {
        SpanColumns {
            trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            name: self.name,
            kind: self.kind,
            start_time_unix_nano: self.start_time_unix_nano as u64,
            end_time_unix_nano: self.end_time_unix_nano as u64,
            status_code: self.status_code,
        }
    }

    fn body(&self) -> Slot {
        Slot {
            pack_id: self.pack_id,
            offset: self.body_offset,
            length: self.body_length,
        }
    }
}

/// A `log_records` row as sqlx decodes it: [`LOG_COLUMNS`].
#[derive(sqlx::FromRow)]
pub(super) struct LogRow {
    pub(super) time_unix_nano: i64,
    span_id: Option<SpanId>,
    severity_number: i32,
    resource_id: i64,
    scope_id: i64,
    pack_id: i64,
    body_offset: i64,
    body_length: i64,
}

impl LogRow {
    /// The record's columns; its trace id is given by the caller, who
    /// knows it or read it from the row.
    fn columns(&self, trace_id: Option<TraceId>) -> LogColumns {
        LogColumns {
            time_unix_nano: self.time_unix_nano as u64,
            trace_id,
            span_id: self.span_id,
            severity_number: self.severity_number,
        }
    }

    fn body(&self) -> Slot {
        Slot {
            pack_id: self.pack_id,
            offset: self.body_offset,
            length: self.body_length,
        }
    }
}

impl Reader {
    /// Every span of a trace, in start-time order.
    pub async fn trace_spans(
        &self,
        project_id: i64,
        trace_id: TraceId,
    ) -> Result<Vec<StoredSpan>, ReadError> {
        let rows: Vec<SpanRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SPAN_COLUMNS} FROM spans WHERE project_id = ? AND trace_id = ? \
             ORDER BY start_time_unix_nano, id"
        )))
        .bind(project_id)
        .bind(trace_id.as_bytes())
        .fetch_all(&self.pool)
        .await?;
        let mut spans = Vec::with_capacity(rows.len());
        for row in rows {
            spans.push(self.span_from_row(trace_id, row).await?);
        }
        Ok(spans)
    }

    /// One span, if stored.
    pub async fn span(
        &self,
        project_id: i64,
        trace_id: TraceId,
        span_id: SpanId,
    ) -> Result<Option<StoredSpan>, ReadError> {
        let row: Option<SpanRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SPAN_COLUMNS} FROM spans WHERE project_id = ? AND trace_id = ? AND span_id = ?"
        )))
        .bind(project_id)
        .bind(trace_id.as_bytes())
        .bind(span_id.as_bytes())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.span_from_row(trace_id, row).await?)),
            None => Ok(None),
        }
    }

    async fn span_from_row(
        &self,
        trace_id: TraceId,
        row: SpanRow,
    ) -> Result<StoredSpan, ReadError> {
        let body = StoredSpanBody::decode(self.record(row.body()).await?.as_slice())?;
        let blobs = self.blobs(&body.hashes()).await?;
        Ok(StoredSpan {
            resource_id: row.resource_id,
            scope_id: row.scope_id,
            span: row.into_columns(trace_id).into_span(&body, &blobs)?,
        })
    }

    /// Every log record of a trace, in time order.
    pub async fn trace_logs(
        &self,
        project_id: i64,
        trace_id: TraceId,
    ) -> Result<Vec<StoredLog>, ReadError> {
        let rows: Vec<LogRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {LOG_COLUMNS} FROM log_records WHERE project_id = ? AND trace_id = ? \
             ORDER BY time_unix_nano, id"
        )))
        .bind(project_id)
        .bind(trace_id.as_bytes())
        .fetch_all(&self.pool)
        .await?;
        self.logs_from_rows(trace_id, rows).await
    }

    /// The log records of one span that carry an event name (GenAI events
    /// are among them), in time order.
    pub async fn span_events(
        &self,
        project_id: i64,
        trace_id: TraceId,
        span_id: SpanId,
    ) -> Result<Vec<StoredLog>, ReadError> {
        let rows: Vec<LogRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {LOG_COLUMNS} FROM log_records WHERE project_id = ? AND trace_id = ? \
             AND span_id = ? AND event_name IS NOT NULL ORDER BY time_unix_nano, id"
        )))
        .bind(project_id)
        .bind(trace_id.as_bytes())
        .bind(span_id.as_bytes())
        .fetch_all(&self.pool)
        .await?;
        self.logs_from_rows(trace_id, rows).await
    }

    async fn logs_from_rows(
        &self,
        trace_id: TraceId,
        rows: Vec<LogRow>,
    ) -> Result<Vec<StoredLog>, ReadError> {
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            records.push(self.log_from_row(row, Some(trace_id)).await?);
        }
        Ok(records)
    }

    /// A log record from a [`LogRow`]; its trace id is given by the
    /// caller, who knows it or read it from the row.
    pub(super) async fn log_from_row(
        &self,
        row: LogRow,
        trace_id: Option<TraceId>,
    ) -> Result<StoredLog, ReadError> {
        let body = StoredLogBody::decode(self.record(row.body()).await?.as_slice())?;
        let blobs = self.blobs(&body.hashes()).await?;
        Ok(StoredLog {
            record: row.columns(trace_id).into_record(&body, &blobs)?,
            resource_id: row.resource_id,
            scope_id: row.scope_id,
        })
    }
}
