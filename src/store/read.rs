//! Reading stored telemetry back: rows, the packs that hold their bodies,
//! and the blobs their bodies reference.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use prost::Message as _;
use sqlx::{Row, SqlitePool};

use super::codec::DecodeError;
use super::pack::{self, PackError};
use super::records::{
    LogColumns, SpanColumns, StoredLogBody, StoredResource, StoredScope, StoredSpanBody,
};
use crate::model::{LogRecord, Resource, Scope, Span, SpanId, TraceId};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

impl From<prost::DecodeError> for ReadError {
    fn from(error: prost::DecodeError) -> Self {
        ReadError::Decode(DecodeError::Corrupt(error))
    }
}

/// Decompressed packs, most recently loaded kept, up to a byte budget.
pub struct PackCache {
    inner: Mutex<PackCacheInner>,
    max_bytes: usize,
}

#[derive(Default)]
struct PackCacheInner {
    packs: HashMap<i64, Arc<Vec<u8>>>,
    order: VecDeque<i64>,
    bytes: usize,
}

impl PackCache {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(PackCacheInner::default()),
            max_bytes,
        }
    }

    fn get(&self, id: i64) -> Option<Arc<Vec<u8>>> {
        self.lock().packs.get(&id).cloned()
    }

    fn put(&self, id: i64, raw: Arc<Vec<u8>>) {
        let mut inner = self.lock();
        if inner.packs.contains_key(&id) {
            return;
        }
        inner.bytes += raw.len();
        inner.packs.insert(id, raw);
        inner.order.push_back(id);
        while inner.bytes > self.max_bytes {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(evicted) = inner.packs.remove(&oldest) {
                inner.bytes -= evicted.len();
            }
        }
    }

    /// Forgets a pack that was deleted or rewritten.
    pub fn invalidate(&self, id: i64) {
        let mut inner = self.lock();
        if let Some(evicted) = inner.packs.remove(&id) {
            inner.bytes -= evicted.len();
            inner.order.retain(|p| *p != id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PackCacheInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reads records and content out of packs.
#[derive(Clone)]
pub struct Reader {
    pub pool: SqlitePool,
    pub packs: Arc<PackCache>,
}

/// Where a record lives.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub pack_id: i64,
    pub offset: i64,
    pub length: i64,
}

impl Reader {
    pub async fn pack(&self, id: i64) -> Result<Arc<Vec<u8>>, ReadError> {
        if let Some(raw) = self.packs.get(id) {
            return Ok(raw);
        }
        let row = sqlx::query("SELECT codec, raw_length, data FROM packs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| ReadError::Corrupt(format!("pack {id} is missing")))?;
        let codec: i64 = row.try_get("codec")?;
        let raw_length: i64 = row.try_get("raw_length")?;
        let data: Vec<u8> = row.try_get("data")?;
        let raw = tokio::task::spawn_blocking(move || {
            pack::decompress(codec, raw_length as usize, &data)
        })
        .await
        .map_err(|e| ReadError::Corrupt(e.to_string()))??;
        let raw = Arc::new(raw);
        self.packs.put(id, raw.clone());
        Ok(raw)
    }

    pub async fn record(&self, slot: Slot) -> Result<Vec<u8>, ReadError> {
        let raw = self.pack(slot.pack_id).await?;
        Ok(pack::slice(&raw, slot.offset as usize, slot.length as usize)?.to_vec())
    }

    /// The content of every blob in `hashes`. A missing blob is an error:
    /// stored data never references content that is not stored.
    pub async fn blobs(&self, hashes: &[Vec<u8>]) -> Result<HashMap<Vec<u8>, Vec<u8>>, ReadError> {
        let mut out = HashMap::with_capacity(hashes.len());
        let mut wanted: Vec<&Vec<u8>> = hashes.iter().collect();
        wanted.sort();
        wanted.dedup();
        for chunk in wanted.chunks(500) {
            let mut query: sqlx::QueryBuilder<sqlx::Sqlite> = sqlx::QueryBuilder::new(
                "SELECT hash, pack_id, pack_offset, length FROM blobs WHERE hash IN (",
            );
            let mut separated = query.separated(", ");
            for hash in chunk {
                separated.push_bind(hash.as_slice());
            }
            query.push(")");
            let rows: Vec<(Vec<u8>, i64, i64, i64)> =
                query.build_query_as().fetch_all(&self.pool).await?;
            for (hash, pack_id, offset, length) in rows {
                let content = self
                    .record(Slot {
                        pack_id,
                        offset,
                        length,
                    })
                    .await?;
                out.insert(hash, content);
            }
        }
        if let Some(missing) = wanted.iter().find(|h| !out.contains_key(**h)) {
            return Err(DecodeError::MissingBlob((*missing).clone()).into());
        }
        Ok(out)
    }

    pub async fn resource(&self, id: i64) -> Result<Resource, ReadError> {
        let body: Vec<u8> = sqlx::query_scalar("SELECT body FROM resources WHERE id = ?")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(StoredResource::decode(body.as_slice())?.into_resource()?)
    }

    pub async fn scope(&self, id: i64) -> Result<Scope, ReadError> {
        let body: Vec<u8> = sqlx::query_scalar("SELECT body FROM scopes WHERE id = ?")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(StoredScope::decode(body.as_slice())?.into_scope()?)
    }

    /// Every span of a trace, in start-time order, with the ids of their
    /// resources and scopes.
    pub async fn trace_spans(
        &self,
        project_id: i64,
        trace_id: TraceId,
    ) -> Result<Vec<StoredSpan>, ReadError> {
        let rows = sqlx::query(
            "SELECT span_id, parent_span_id, name, kind, start_time_unix_nano, end_time_unix_nano, \
             status_code, resource_id, scope_id, pack_id, body_offset, body_length \
             FROM spans WHERE project_id = ? AND trace_id = ? ORDER BY start_time_unix_nano, id",
        )
        .bind(project_id)
        .bind(trace_id.as_bytes())
        .fetch_all(&self.pool)
        .await?;
        let mut spans = Vec::with_capacity(rows.len());
        for row in rows {
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
            let slot = Slot {
                pack_id: row.try_get("pack_id")?,
                offset: row.try_get("body_offset")?,
                length: row.try_get("body_length")?,
            };
            let body = StoredSpanBody::decode(self.record(slot).await?.as_slice())?;
            let blobs = self.blobs(&body.hashes()).await?;
            spans.push(StoredSpan {
                span: columns.into_span(&body, &blobs)?,
                resource_id: row.try_get("resource_id")?,
                scope_id: row.try_get("scope_id")?,
            });
        }
        Ok(spans)
    }
}

impl Reader {
    /// Every log record of a trace, in time order.
    pub async fn trace_logs(
        &self,
        project_id: i64,
        trace_id: TraceId,
    ) -> Result<Vec<StoredLog>, ReadError> {
        let rows = sqlx::query(
            "SELECT time_unix_nano, span_id, severity_number, resource_id, scope_id, \
             pack_id, body_offset, body_length \
             FROM log_records WHERE project_id = ? AND trace_id = ? ORDER BY time_unix_nano, id",
        )
        .bind(project_id)
        .bind(trace_id.as_bytes())
        .fetch_all(&self.pool)
        .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let columns = LogColumns {
                time_unix_nano: row.try_get::<i64, _>("time_unix_nano")? as u64,
                trace_id: Some(trace_id),
                span_id: span_id_column(row.try_get("span_id")?)?,
                severity_number: row.try_get("severity_number")?,
            };
            let slot = Slot {
                pack_id: row.try_get("pack_id")?,
                offset: row.try_get("body_offset")?,
                length: row.try_get("body_length")?,
            };
            let body = StoredLogBody::decode(self.record(slot).await?.as_slice())?;
            let blobs = self.blobs(&body.hashes()).await?;
            records.push(StoredLog {
                record: columns.into_record(&body, &blobs)?,
                resource_id: row.try_get("resource_id")?,
                scope_id: row.try_get("scope_id")?,
            });
        }
        Ok(records)
    }
}

/// A log record read back, with the row ids of its resource and scope.
pub struct StoredLog {
    pub record: LogRecord,
    pub resource_id: i64,
    pub scope_id: i64,
}

/// A span read back, with the row ids of its resource and scope.
pub struct StoredSpan {
    pub span: Span,
    pub resource_id: i64,
    pub scope_id: i64,
}

fn span_id_column(bytes: Option<Vec<u8>>) -> Result<Option<SpanId>, ReadError> {
    match bytes {
        None => Ok(None),
        Some(bytes) => SpanId::try_from(bytes.as_slice())
            .map(Some)
            .map_err(|e| ReadError::Corrupt(e.to_string())),
    }
}
