//! Spans and log records read back, with the ids of their resources and scopes.

use prost::Message as _;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{ReadError, Reader, Slot, span_id_column};
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

fn slot(row: &SqliteRow, offset: &str, length: &str) -> Result<Slot, ReadError> {
    Ok(Slot {
        pack_id: row.try_get("pack_id")?,
        offset: row.try_get(offset)?,
        length: row.try_get(length)?,
    })
}

impl Reader {
    /// Every span of a trace, in start-time order.
    pub async fn trace_spans(
        &self,
        project_id: i64,
        trace_id: TraceId,
    ) -> Result<Vec<StoredSpan>, ReadError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SPAN_COLUMNS} FROM spans WHERE project_id = ? AND trace_id = ? \
             ORDER BY start_time_unix_nano, id"
        )))
        .bind(project_id)
        .bind(trace_id.as_bytes())
        .fetch_all(&self.pool)
        .await?;
        let mut spans = Vec::with_capacity(rows.len());
        for row in rows {
            spans.push(self.span_from_row(trace_id, &row).await?);
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
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SPAN_COLUMNS} FROM spans WHERE project_id = ? AND trace_id = ? AND span_id = ?"
        )))
        .bind(project_id)
        .bind(trace_id.as_bytes())
        .bind(span_id.as_bytes())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.span_from_row(trace_id, &row).await?)),
            None => Ok(None),
        }
    }

    async fn span_from_row(
        &self,
        trace_id: TraceId,
        row: &SqliteRow,
    ) -> Result<StoredSpan, ReadError> {
        let columns = SpanColumns {
            trace_id,
            span_id: span_id_column(row.try_get("span_id")?)?
                .ok_or_else(|| ReadError::Corrupt("span without span id".into()))?,
            parent_span_id: span_id_column(row.try_get("parent_span_id")?)?,
            name: row.try_get("name")?,
            kind: row.try_get("kind")?,
            start_time_unix_nano: row.try_get::<i64, _>("start_time_unix_nano")? as u64,
            end_time_unix_nano: row.try_get::<i64, _>("end_time_unix_nano")? as u64,
            status_code: row.try_get("status_code")?,
        };
        let body = StoredSpanBody::decode(
            self.record(slot(row, "body_offset", "body_length")?)
                .await?
                .as_slice(),
        )?;
        let blobs = self.blobs(&body.hashes()).await?;
        Ok(StoredSpan {
            span: columns.into_span(&body, &blobs)?,
            resource_id: row.try_get("resource_id")?,
            scope_id: row.try_get("scope_id")?,
        })
    }

    /// Every log record of a trace, in time order.
    pub async fn trace_logs(
        &self,
        project_id: i64,
        trace_id: TraceId,
    ) -> Result<Vec<StoredLog>, ReadError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
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
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
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
        rows: Vec<SqliteRow>,
    ) -> Result<Vec<StoredLog>, ReadError> {
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            records.push(self.log_from_row(&row, Some(trace_id)).await?);
        }
        Ok(records)
    }

    /// A log record from a row with [`LOG_COLUMNS`]; its trace id is given
    /// by the caller, who knows it or read it from the row.
    pub(super) async fn log_from_row(
        &self,
        row: &SqliteRow,
        trace_id: Option<TraceId>,
    ) -> Result<StoredLog, ReadError> {
        let columns = LogColumns {
            time_unix_nano: row.try_get::<i64, _>("time_unix_nano")? as u64,
            trace_id,
            span_id: span_id_column(row.try_get("span_id")?)?,
            severity_number: row.try_get("severity_number")?,
        };
        let body = StoredLogBody::decode(
            self.record(slot(row, "body_offset", "body_length")?)
                .await?
                .as_slice(),
        )?;
        let blobs = self.blobs(&body.hashes()).await?;
        Ok(StoredLog {
            record: columns.into_record(&body, &blobs)?,
            resource_id: row.try_get("resource_id")?,
            scope_id: row.try_get("scope_id")?,
        })
    }
}
