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
//!
//! Content that is new to the store is *claimed* by the batch that will
//! carry it, until that batch's write is settled. A concurrent batch that
//! needs the same new content waits for the claim instead of packing a
//! second copy: when two turns of a chat are in flight at once, the later
//! one resends the earlier one's answer, and without claims a fifth of the
//! packed text was such dead copies. A batch never waits while it holds a
//! claim, so waits cannot form a cycle; a claim whose batch failed wakes
//! its waiters, and one of them claims the content in turn.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::watch;

use crate::store::encoding::codec::BlobHash;
#[cfg(test)]
use crate::store::encoding::codec::blob_hash;

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
    /// The batch's claim on `new`: hold it until the write is settled.
    pub claim: Claim,
}

/// A batch's claim on the new content it carries (see the module docs).
/// Dropping it releases the content to whoever waits for it.
#[derive(Debug, Default)]
#[must_use = "content is released for others as soon as the claim drops"]
pub struct Claim {
    held: Option<Held>,
}

#[derive(Debug)]
struct Held {
    known: Arc<KnownBlobs>,
    hashes: Vec<BlobHash>,
    /// Dropped with the claim, which wakes every waiter.
    _settled: watch::Sender<()>,
    id: watch::Receiver<()>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let Some(held) = &self.held else {
            return;
        };
        let mut state = held.known.lock();
        for hash in &held.hashes {
            if state
                .in_flight
                .get(hash)
                .is_some_and(|owner| owner.same_channel(&held.id))
            {
                state.in_flight.remove(hash);
            }
        }
    }
}

#[derive(Debug)]
pub struct KnownBlobs {
    state: Mutex<State>,
    capacity: usize,
    touch_after: Duration,
    /// Read-only connections for looking up hashes the cache lacks.
    lookups: SqlitePool,
}

#[derive(Debug, Default)]
struct State {
    /// Stored content and when it was last seen, as far as this process knows.
    last_seen: HashMap<BlobHash, i64>,
    /// New content claimed by a batch in flight, with that claim's signal.
    in_flight: HashMap<BlobHash, watch::Receiver<()>>,
}

impl KnownBlobs {
    pub fn new(capacity: usize, touch_after: Duration, lookups: SqlitePool) -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity,
            touch_after,
            lookups,
        }
    }

    /// Closes the lookup connections (at shutdown).
    pub async fn close(&self) {
        self.lookups.close().await;
    }

    /// How long a reference counts as recent (see [`TOUCH_AFTER`]).
    pub fn touch_after(&self) -> Duration {
        self.touch_after
    }

    /// Sorts `hashes` into new and stale; the rest are stored and fresh.
    /// Waits while another batch in flight carries some of the new content.
    pub async fn classify(
        self: &Arc<Self>,
        hashes: impl IntoIterator<Item = BlobHash>,
        now_unix_nano: i64,
    ) -> Result<Classified, sqlx::Error> {
        let hashes: Vec<BlobHash> = hashes.into_iter().collect();
        loop {
            match self.try_classify(&hashes, now_unix_nano).await? {
                Attempt::Done(classified) => return Ok(classified),
                Attempt::Wait(claims) => {
                    for mut claim in claims {
                        // Errs once the claim is dropped: that is the signal.
                        let _ = claim.changed().await;
                    }
                }
            }
        }
    }

    async fn try_classify(
        self: &Arc<Self>,
        hashes: &[BlobHash],
        now_unix_nano: i64,
    ) -> Result<Attempt, sqlx::Error> {
        let fresh_after = now_unix_nano - self.touch_after.as_nanos() as i64;
        let mut out = Classified::default();
        let mut unknown = Vec::new();
        {
            let state = self.lock();
            for hash in hashes {
                match state.last_seen.get(hash) {
                    Some(seen) if *seen >= fresh_after => {}
                    Some(_) => out.stale.push(*hash),
                    None => unknown.push(*hash),
                }
            }
        }
        if unknown.is_empty() {
            return Ok(Attempt::Done(out));
        }
        let stored = lookup(&self.lookups, &unknown).await?;
        let mut state = self.lock();
        let mut waits = Vec::new();
        for hash in unknown {
            match stored.get(&hash) {
                Some(seen) if *seen < fresh_after => out.stale.push(hash),
                Some(seen) => {
                    state.last_seen.insert(hash, *seen);
                }
                None => match (state.last_seen.get(&hash), state.in_flight.get(&hash)) {
                    // Committed while the lookup ran.
                    (Some(seen), _) if *seen < fresh_after => out.stale.push(hash),
                    (Some(_), _) => {}
                    (None, Some(owner)) => waits.push(owner.clone()),
                    (None, None) => out.new.push(hash),
                },
            }
        }
        if !waits.is_empty() {
            return Ok(Attempt::Wait(waits));
        }
        let (settled, id) = watch::channel(());
        for hash in &out.new {
            state.in_flight.insert(*hash, id.clone());
        }
        out.claim = Claim {
            held: Some(Held {
                known: self.clone(),
                hashes: out.new.clone(),
                _settled: settled,
                id,
            }),
        };
        Ok(Attempt::Done(out))
    }

    /// Records hashes that a committed transaction stored or touched.
    pub fn remember(&self, hashes: impl IntoIterator<Item = BlobHash>, seen_unix_nano: i64) {
        let mut state = self.lock();
        if state.last_seen.len() >= self.capacity {
            // A cache, not a record: dropping it only costs lookups.
            state.last_seen.clear();
        }
        for hash in hashes {
            state.last_seen.insert(hash, seen_unix_nano);
        }
    }

    /// Forgets hashes whose blobs were deleted.
    pub fn forget(&self, hashes: &[BlobHash]) {
        let mut state = self.lock();
        for hash in hashes {
            state.last_seen.remove(hash);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves a valid map behind.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

enum Attempt {
    Done(Classified),
    /// Some new content is claimed by batches in flight: wait for them, then
    /// look again (holding no claim meanwhile).
    Wait(Vec<watch::Receiver<()>>),
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

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000 * 1_000_000_000;

    async fn pool() -> SqlitePool {
        // One connection: an in-memory database lives as long as it does.
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("in-memory database");
        sqlx::query(
            "CREATE TABLE blobs (hash BLOB PRIMARY KEY, last_seen_unix_nano INTEGER NOT NULL)",
        )
        .execute(&pool)
        .await
        .expect("blobs table");
        pool
    }

    fn known(pool: &SqlitePool) -> Arc<KnownBlobs> {
        Arc::new(KnownBlobs::new(1_000, TOUCH_AFTER, pool.clone()))
    }

    /// Stores what a batch carried, as the writer does on commit.
    async fn store(pool: &SqlitePool, known: &KnownBlobs, hashes: &[BlobHash]) {
        for hash in hashes {
            sqlx::query("INSERT INTO blobs VALUES (?, ?)")
                .bind(hash.as_slice())
                .bind(NOW)
                .execute(pool)
                .await
                .expect("insert");
        }
        known.remember(hashes.iter().copied(), NOW);
    }

    impl Claim {
        /// Batches waiting for this claim.
        fn waiters(&self) -> usize {
            self.held.as_ref().map_or(0, |held| {
                // The claim's own receiver and one per hash it holds.
                held._settled.receiver_count() - 1 - held.hashes.len()
            })
        }
    }

    /// A batch classifying its content concurrently with the test.
    fn classify_in_background<const N: usize>(
        known: &Arc<KnownBlobs>,
        hashes: [BlobHash; N],
    ) -> tokio::task::JoinHandle<Result<Classified, sqlx::Error>> {
        let known = known.clone();
        tokio::spawn(async move { known.classify(hashes, NOW).await })
    }

    /// Returns once `batch` waits on `claim`, or has finished without.
    async fn until_waited_on<T>(claim: &Claim, batch: &tokio::task::JoinHandle<T>) {
        while claim.waiters() == 0 && !batch.is_finished() {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn content_in_flight_is_packed_by_one_batch_and_referenced_by_the_other() {
        let pool = pool().await;
        let known = known(&pool);
        let prompt = blob_hash(b"the answer of turn one");
        let first = known.classify([prompt], NOW).await.expect("first");
        assert_eq!(first.new, vec![prompt]);

        let second = classify_in_background(&known, [prompt]);
        until_waited_on(&first.claim, &second).await;
        store(&pool, &known, &first.new).await;
        drop(first);

        let second = second.await.expect("joins").expect("second");
        assert!(second.new.is_empty(), "the second batch packs no copy");
        assert!(second.stale.is_empty(), "and needs no touch");
    }

    #[tokio::test]
    async fn content_of_a_failed_batch_is_carried_by_the_batch_that_waited() {
        let pool = pool().await;
        let known = known(&pool);
        let prompt = blob_hash(b"a prompt whose first batch fails");
        let first = known.classify([prompt], NOW).await.expect("first");
        let second = classify_in_background(&known, [prompt]);
        until_waited_on(&first.claim, &second).await;
        drop(first);

        let second = second.await.expect("joins").expect("second");
        assert_eq!(second.new, vec![prompt]);
        let third = classify_in_background(&known, [prompt]);
        // The second batch now holds the claim, so a third waits on it.
        until_waited_on(&second.claim, &third).await;
        store(&pool, &known, &second.new).await;
        drop(second);
        assert!(third.await.expect("joins").expect("third").new.is_empty());
    }

    #[tokio::test]
    async fn a_waiting_batch_holds_no_claim() {
        let pool = pool().await;
        let known = known(&pool);
        let (shared, own) = (blob_hash(b"shared"), blob_hash(b"own"));
        let first = known.classify([shared], NOW).await.expect("first");
        let waiting = classify_in_background(&known, [shared, own]);
        until_waited_on(&first.claim, &waiting).await;

        // Were `own` claimed by the waiting batch, this would wait too, and
        // two batches could wait on each other.
        let third = known.classify([own], NOW).await.expect("third");
        assert_eq!(third.new, vec![own]);

        store(&pool, &known, &first.new).await;
        drop(first);
        store(&pool, &known, &third.new).await;
        drop(third);
        let waited = waiting.await.expect("joins").expect("waiting");
        assert!(waited.new.is_empty());
    }
}
