//! Reading stored data back: rows, the packs that hold their bodies, and
//! the blobs their bodies reference. [`telemetry`] reads spans and log
//! records, [`logs`] lists log records by filter, [`calls`] reads calls, [`replays`] replay runs and items, [`search`] runs a search on the calls'
//! full-text index.

pub mod appends;
mod calls;
pub mod comparisons;
mod ids;
mod logs;
mod replay_backlog;
mod replays;
mod search;
mod stats;
mod telemetry;

pub use calls::{CallPage, CallSort, Cursor, SortKey, SortValue};
pub use logs::{LogCursor, LogFilter, LogPage};
pub use replays::{ItemCounts, ResultPage};
pub use stats::{GroupBy, GroupKey, GroupStats, Percentiles};
pub use telemetry::{StoredLog, StoredSpan};

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use prost::Message as _;
use sqlx::SqlitePool;

use crate::model::project::Project;
use crate::model::{Resource, Scope};
use crate::store::encoding::codec::DecodeError;
use crate::store::encoding::pack::{self, PackError};
use crate::store::encoding::records::{StoredResource, StoredScope};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A full-text query the index still refuses: words are split as its
    /// tokenizer splits them, so this is left for characters newer than
    /// SQLite's Unicode tables. The client's error, not ours.
    #[error("the search index refused the query: {0}")]
    BadSearch(String),
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for ReadError {
    fn from(error: sqlx::Error) -> Self {
        // SQLite reports a full-text query it cannot parse as a plain
        // SQLITE_ERROR; only the message, which FTS5 prefixes with its
        // name, tells it apart from a failure of ours.
        match &error {
            sqlx::Error::Database(database) if database.message().contains("fts5") => {
                ReadError::BadSearch(database.message().to_owned())
            }
            _ => ReadError::Database(error),
        }
    }
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

/// A `packs` row's content: compressed bytes and how to decompress them.
/// Also read by the audit, which searches every pack.
#[derive(sqlx::FromRow)]
pub(in crate::store) struct PackRow {
    pub codec: i64,
    pub raw_length: i64,
    pub data: Vec<u8>,
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
        let row: PackRow = sqlx::query_as("SELECT codec, raw_length, data FROM packs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| ReadError::Corrupt(format!("pack {id} is missing")))?;
        let raw = tokio::task::spawn_blocking(move || {
            pack::decompress(row.codec, row.raw_length as usize, &row.data)
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

    /// The project with this id, with its name.
    pub async fn project(&self, id: i64) -> Result<Option<Project>, ReadError> {
        let name: Option<String> = sqlx::query_scalar("SELECT name FROM projects WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(name.map(|name| Project { id, name }))
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection as _;

    /// SQLite's own answer to a query FTS5 cannot parse, and to a failure
    /// of ours, classified.
    #[tokio::test]
    async fn a_query_the_search_index_refuses_is_a_bad_search_and_nothing_else_is() {
        let mut db = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("in-memory database");
        sqlx::query("CREATE VIRTUAL TABLE words USING fts5(body)")
            .execute(&mut db)
            .await
            .expect("fts5 table");
        let refused = sqlx::query("SELECT rowid FROM words WHERE words MATCH 'word AND'")
            .fetch_all(&mut db)
            .await
            .expect_err("FTS5 refuses a dangling AND");
        let refused_text = refused.to_string();
        assert!(
            matches!(ReadError::from(refused), ReadError::BadSearch(ref message) if message.contains("fts5")),
            "{refused_text}"
        );
        let ours = sqlx::query("SELECT missing FROM words")
            .fetch_all(&mut db)
            .await
            .expect_err("no such column");
        assert!(matches!(ReadError::from(ours), ReadError::Database(_)));
    }
}
