//! Log records by filter (`GET /api/v1/logs`), newest first, a page at a
//! time. Records without a trace id (plain logs and events, such as the
//! OTLP examples' `events.json`) are only reachable this way.

use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Sqlite};

use super::telemetry::{LOG_COLUMNS, LogRow};
use super::{ReadError, Reader, StoredLog};
use crate::model::{LogRecord, TraceId};

/// Rows read per query while a text filter, which no index answers, is
/// checked record by record.
const SCAN_CHUNK: usize = 500;

/// Rows a text search looks at for one page; past them the page ends
/// short, with a cursor to carry on from.
const SCAN_BUDGET: usize = 20_000;

/// Which log records to list; every field is optional, combined with AND.
#[derive(Debug, Default, Clone)]
pub struct LogFilter {
    pub since_unix_nano: Option<u64>,
    pub until_unix_nano: Option<u64>,
    /// The resource's `service.name`.
    pub service: Option<String>,
    /// At least this OTLP severity number (`WARN` is 13).
    pub min_severity_number: Option<i32>,
    pub event_name: Option<String>,
    pub trace_id: Option<TraceId>,
    /// Text the body or an attribute value holds, ignoring case.
    pub text: Option<String>,
}

/// Where the next page starts: after this record, in the listing's order.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogCursor {
    pub ascending: bool,
    pub time_unix_nano: i64,
    pub row_id: i64,
}

impl LogCursor {
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(text: &str) -> Option<LogCursor> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// A listed `log_records` row: [`LOG_COLUMNS`] with the row id and trace
/// id, which a listing does not know beforehand.
#[derive(sqlx::FromRow)]
struct ListedLogRow {
    id: i64,
    trace_id: Option<TraceId>,
    #[sqlx(flatten)]
    log: LogRow,
}

/// One page of log records and the cursor of the next, if any. With a
/// text filter a page can hold fewer than asked (even none) while more
/// may follow: the cursor says so.
pub struct LogPage {
    pub logs: Vec<StoredLog>,
    pub next_cursor: Option<LogCursor>,
}

impl Reader {
    pub async fn list_logs(
        &self,
        project_id: i64,
        filter: &LogFilter,
        ascending: bool,
        limit: usize,
        cursor: Option<LogCursor>,
    ) -> Result<LogPage, ReadError> {
        let needle = filter.text.as_ref().map(|t| t.to_lowercase());
        let chunk = if needle.is_some() { SCAN_CHUNK } else { limit };
        let mut logs = Vec::new();
        let mut after = cursor;
        let mut scanned = 0;
        loop {
            let rows = self
                .log_rows(project_id, filter, ascending, chunk + 1, after)
                .await?;
            let more = rows.len() > chunk;
            let taken = rows.len().min(chunk);
            for (index, row) in rows.into_iter().take(chunk).enumerate() {
                scanned += 1;
                let position = LogCursor {
                    ascending,
                    time_unix_nano: row.log.time_unix_nano,
                    row_id: row.id,
                };
                after = Some(position);
                let stored = self.log_from_row(row.log, row.trace_id).await?;
                let matches = needle
                    .as_deref()
                    .is_none_or(|n| holds_text(&stored.record, n));
                if !matches {
                    continue;
                }
                logs.push(stored);
                if logs.len() == limit {
                    let rest = more || index + 1 < taken;
                    return Ok(LogPage {
                        logs,
                        next_cursor: rest.then_some(position),
                    });
                }
            }
            if !more {
                return Ok(LogPage {
                    logs,
                    next_cursor: None,
                });
            }
            if scanned >= SCAN_BUDGET {
                return Ok(LogPage {
                    logs,
                    next_cursor: after,
                });
            }
        }
    }

    async fn log_rows(
        &self,
        project_id: i64,
        filter: &LogFilter,
        ascending: bool,
        limit: usize,
        after: Option<LogCursor>,
    ) -> Result<Vec<ListedLogRow>, ReadError> {
        let columns: Vec<String> = LOG_COLUMNS
            .split(',')
            .map(|c| format!("l.{}", c.trim()))
            .collect();
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT l.id, l.trace_id, {} FROM log_records l WHERE l.project_id = ",
            columns.join(", ")
        ));
        query.push_bind(project_id);
        if let Some(since) = filter.since_unix_nano {
            query
                .push(" AND l.time_unix_nano >= ")
                .push_bind(since as i64);
        }
        if let Some(until) = filter.until_unix_nano {
            query
                .push(" AND l.time_unix_nano < ")
                .push_bind(until as i64);
        }
        if let Some(service) = &filter.service {
            query
                .push(" AND l.resource_id IN (SELECT id FROM resources WHERE service_name = ")
                .push_bind(service.clone())
                .push(")");
        }
        if let Some(severity) = filter.min_severity_number {
            query.push(" AND l.severity_number >= ").push_bind(severity);
        }
        if let Some(name) = &filter.event_name {
            query.push(" AND l.event_name = ").push_bind(name.clone());
        }
        if let Some(trace_id) = filter.trace_id {
            query
                .push(" AND l.trace_id = ")
                .push_bind(trace_id.as_bytes().to_vec());
        }
        let (compare, direction) = if ascending {
            (">", "ASC")
        } else {
            ("<", "DESC")
        };
        if let Some(cursor) = after {
            query
                .push(format!(" AND (l.time_unix_nano, l.id) {compare} ("))
                .push_bind(cursor.time_unix_nano)
                .push(", ")
                .push_bind(cursor.row_id)
                .push(")");
        }
        query.push(format!(
            " ORDER BY l.time_unix_nano {direction}, l.id {direction} LIMIT "
        ));
        query.push_bind(limit as i64);
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }
}

/// Whether the record's body or one of its attribute values holds
/// `needle` (already lower-case).
fn holds_text(record: &LogRecord, needle: &str) -> bool {
    let holds = |text: &str| text.to_lowercase().contains(needle);
    let body_holds = match &record.body {
        Some(body) => match body.as_str() {
            Some(text) => holds(text),
            None => holds(&body.to_otlp_json().to_string()),
        },
        None => false,
    };
    body_holds
        || record.event_name.to_lowercase().contains(needle)
        || record.attributes.iter().any(|kv| match kv.value.as_str() {
            Some(text) => holds(text),
            None => false,
        })
}
