//! Which content is already stored: a bounded in-memory view of the blob
//! table, so ingest workers can leave known content out of their packs
//! without asking the database each time.
//!
//! The rules that keep references from dangling:
//! - a hash enters the cache only after the transaction that stored it
//!   committed (the writer inserts it);
//! - a hash whose `last_seen` is older than [`TOUCH_AFTER`] is "stale": the
//!   batch that references it asks the writer to touch it, and the writer
//!   fails the batch (retryably) if it is gone;
//! - the pruner only deletes blobs unseen for far longer than
//!   `TOUCH_AFTER`, and removes what it deletes from the cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::SqlitePool;

use super::codec::BlobHash;

/// How long a reference counts as recent enough that the blob needs no
/// touch, by default.
pub const TOUCH_AFTER: Duration = Duration::from_secs(600);

/// What ingest must do about each hash a batch references.
#[derive(Debug, Default)]
pub struct Classified {
    /// Not stored: the batch carries the content.
    pub new: Vec<BlobHash>,
    /// Stored, but not seen recently: the batch asks the writer to touch it.
    pub stale: Vec<BlobHash>,
}

pub struct KnownBlobs {
    last_seen: Mutex<HashMap<BlobHash, i64>>,
    capacity: usize,
    touch_after: Duration,
}

impl KnownBlobs {
    pub fn new(capacity: usize, touch_after: Duration) -> Self {
        Self {
            last_seen: Mutex::new(HashMap::new()),
            capacity,
            touch_after,
        }
    }

    /// How long a reference counts as recent (see [`TOUCH_AFTER`]).
    pub fn touch_after(&self) -> Duration {
        self.touch_after
    }

    /// Sorts `hashes` into new and stale; the rest are stored and fresh.
    pub async fn classify(
        &self,
        pool: &SqlitePool,
        hashes: impl IntoIterator<Item = BlobHash>,
        now_unix_nano: i64,
    ) -> Result<Classified, sqlx::Error> {
        let fresh_after = now_unix_nano - self.touch_after.as_nanos() as i64;
        let mut out = Classified::default();
        let mut unknown = Vec::new();
        {
            let cache = self.lock();
            for hash in hashes {
                match cache.get(&hash) {
                    Some(seen) if *seen >= fresh_after => {}
                    Some(_) => out.stale.push(hash),
                    None => unknown.push(hash),
                }
            }
        }
        if unknown.is_empty() {
            return Ok(out);
        }
        let stored = lookup(pool, &unknown).await?;
        let mut cache = self.lock();
        for hash in unknown {
            match stored.get(&hash) {
                Some(seen) => {
                    if *seen < fresh_after {
                        out.stale.push(hash);
                    } else {
                        cache.insert(hash, *seen);
                    }
                }
                None => out.new.push(hash),
            }
        }
        Ok(out)
    }

    /// Records hashes that a committed transaction stored or touched.
    pub fn remember(&self, hashes: impl IntoIterator<Item = BlobHash>, seen_unix_nano: i64) {
        let mut cache = self.lock();
        if cache.len() >= self.capacity {
            // A cache, not a record: dropping it only costs lookups.
            cache.clear();
        }
        for hash in hashes {
            cache.insert(hash, seen_unix_nano);
        }
    }

    /// Forgets hashes whose blobs were deleted.
    pub fn forget(&self, hashes: &[BlobHash]) {
        let mut cache = self.lock();
        for hash in hashes {
            cache.remove(hash);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BlobHash, i64>> {
        // A panic while holding this lock leaves a valid map behind.
        self.last_seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn lookup(
    pool: &SqlitePool,
    hashes: &[BlobHash],
) -> Result<HashMap<BlobHash, i64>, sqlx::Error> {
    let mut found = HashMap::new();
    for chunk in hashes.chunks(500) {
        let mut query: sqlx::QueryBuilder<sqlx::Sqlite> =
            sqlx::QueryBuilder::new("SELECT hash, last_seen_unix_nano FROM blobs WHERE hash IN (");
        let mut separated = query.separated(", ");
        for hash in chunk {
            separated.push_bind(hash.as_slice());
        }
        query.push(")");
        let rows: Vec<(Vec<u8>, i64)> = query.build_query_as().fetch_all(pool).await?;
        for (hash, seen) in rows {
            if let Ok(hash) = BlobHash::try_from(hash.as_slice()) {
                found.insert(hash, seen);
            }
        }
    }
    Ok(found)
}
