//! Retention: deleting the oldest data so the store keeps to a maximum age
//! and a maximum size, and handing the space back to the file system.
//!
//! Data is deleted pack by pack, oldest first: every pack written up to a
//! cutoff time, the span, log record and call rows whose bodies live in
//! those packs, and the blobs nothing newer references. A blob that newer
//! data still references (its `last_seen` is after the cutoff) is copied to
//! a new pack first, dated by that last reference, so it goes when the data
//! that uses it goes. Then `PRAGMA incremental_vacuum` returns the freed
//! pages, so the file really shrinks.
//!
//! Planning reads through the read pool; the deletion runs as one batch on
//! the writer, which checks at commit time that no blob it is about to lose
//! became live meanwhile (a batch referencing it touched it): if one did,
//! the batch rolls back and the next round plans again.

use std::time::Duration;

use super::read::{ReadError, Reader, Slot};
use crate::store::encoding::codec::BlobHash;
use crate::store::encoding::pack::{PackBuilder, Stream};
use crate::store::write::batch::WriteBatch;
use crate::store::write::prune::PrunePlan;

/// A blob in a pack that is due to go, and when data last referenced it.
#[derive(sqlx::FromRow)]
struct PrunedBlobRow {
    /// Kept as bytes: a row whose hash is not a hash is skipped, not an error.
    hash: Vec<u8>,
    pack_id: i64,
    pack_offset: i64,
    length: i64,
    last_seen_unix_nano: i64,
}

/// What to keep.
#[derive(Clone, Debug, Default)]
pub struct RetentionPolicy {
    /// Delete data ingested longer ago than this.
    pub max_age: Option<Duration>,
    /// Keep the database's used pages under this many bytes.
    pub max_bytes: Option<u64>,
}

impl RetentionPolicy {
    pub fn is_active(&self) -> bool {
        self.max_age.is_some() || self.max_bytes.is_some()
    }
}

/// How full the database is.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub used_bytes: u64,
    pub file_bytes: u64,
}

impl Reader {
    pub async fn usage(&self) -> Result<Usage, ReadError> {
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&self.pool)
            .await?;
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&self.pool)
            .await?;
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&self.pool)
            .await?;
        Ok(Usage {
            used_bytes: ((pages - free).max(0) * page_size) as u64,
            file_bytes: (pages.max(0) * page_size) as u64,
        })
    }

    /// The time up to which packs must go, if any. For the size limit, see
    /// [`size_step`].
    async fn prune_cutoff(
        &self,
        policy: &RetentionPolicy,
        now_unix_nano: i64,
    ) -> Result<Option<i64>, ReadError> {
        let mut cutoff: Option<i64> = None;
        if let Some(max_age) = policy.max_age {
            let oldest_allowed = now_unix_nano - max_age.as_nanos() as i64;
            let by_age: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(created_at_unix_nano) FROM packs WHERE created_at_unix_nano < ?",
            )
            .bind(oldest_allowed)
            .fetch_one(&self.pool)
            .await?;
            cutoff = by_age;
        }
        let used = match policy.max_bytes {
            Some(_) => self.usage().await?.used_bytes,
            None => 0,
        };
        if let Some(max_bytes) = policy.max_bytes
            && used > max_bytes
        {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM packs")
                .fetch_one(&self.pool)
                .await?;
            let step = size_step(count, used, max_bytes);
            let by_size: Option<i64> = sqlx::query_scalar(
                "SELECT created_at_unix_nano FROM packs ORDER BY created_at_unix_nano LIMIT 1 OFFSET ?",
            )
            .bind(step - 1)
            .fetch_optional(&self.pool)
            .await?;
            cutoff = cutoff.max(by_size);
        }
        Ok(cutoff)
    }

    /// Plans one round of pruning: which rows and packs go, and the live
    /// blobs that must move to a new pack first. `None` when nothing is due.
    pub async fn plan_prune(
        &self,
        policy: &RetentionPolicy,
        touch_after: Duration,
        now_unix_nano: i64,
    ) -> Result<Option<(PrunePlan, PackBuilder)>, ReadError> {
        let Some(cutoff) = self.prune_cutoff(policy, now_unix_nano).await? else {
            return Ok(None);
        };
        let (spans, logs, calls): (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT MAX(span_rows_through), MAX(log_rows_through), MAX(call_rows_through) \
             FROM packs WHERE created_at_unix_nano <= ?",
        )
        .bind(cutoff)
        .fetch_one(&self.pool)
        .await?;
        // Ingest trusts blobs seen within `touch_after` without touching
        // them again, so those are never deleted, whatever the policy says.
        let dead_through = cutoff.min(now_unix_nano - 2 * touch_after.as_nanos() as i64);
        let rows: Vec<PrunedBlobRow> = sqlx::query_as(
            "SELECT hash, pack_id, pack_offset, length, last_seen_unix_nano FROM blobs \
             WHERE pack_id IN (SELECT id FROM packs WHERE created_at_unix_nano <= ?)",
        )
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        let mut builder = PackBuilder::new();
        let mut plan = PrunePlan {
            cutoff_unix_nano: cutoff,
            span_rows_through: spans.unwrap_or(0),
            log_rows_through: logs.unwrap_or(0),
            call_rows_through: calls.unwrap_or(0),
            dead_through_unix_nano: dead_through,
            ..PrunePlan::default()
        };
        for row in rows {
            let Ok(hash) = BlobHash::try_from(row.hash.as_slice()) else {
                continue;
            };
            let last_seen = row.last_seen_unix_nano;
            if last_seen <= dead_through {
                plan.dead.push(hash);
                continue;
            }
            plan.relocated_seen_unix_nano = plan.relocated_seen_unix_nano.max(last_seen);
            let content = self
                .record(Slot {
                    pack_id: row.pack_id,
                    offset: row.pack_offset,
                    length: row.length,
                })
                .await?;
            plan.relocated
                .push((hash, builder.add(Stream::Text, &content)));
        }
        Ok(Some((plan, builder)))
    }
}

/// How many of the oldest packs one round deletes when the database is
/// over its size cap: the share of the data that is over, down to nine
/// tenths of the cap so the next rounds do not start at once, and at least
/// a twentieth of the packs (and one), so a round always makes headway.
/// Rows and indexes shrink roughly with the packs they point into.
fn size_step(packs: i64, used_bytes: u64, max_bytes: u64) -> i64 {
    let target = max_bytes - max_bytes / 10;
    let over = used_bytes.saturating_sub(target) as f64 / used_bytes.max(1) as f64;
    let by_share = (packs as f64 * over).ceil() as i64;
    by_share.max(packs / 20).clamp(1, packs.max(1))
}

/// The batch that carries out a plan.
pub fn prune_batch(plan: PrunePlan, builder: PackBuilder) -> std::io::Result<WriteBatch> {
    Ok(WriteBatch {
        packs: builder.finish()?,
        prune: Some(plan),
        ..WriteBatch::default()
    })
}

/// Runs retention until `stop` turns true: a round every `interval`, and
/// at once when the writer found the database full.
pub fn spawn_pruner(
    store: super::Store,
    policy: RetentionPolicy,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !policy.is_active() {
            return;
        }
        loop {
            // Rounds follow each other while there is work, so a large
            // backlog is pruned quickly.
            loop {
                match prune_round(&store, &policy).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(error) => {
                        tracing::warn!(%error, "retention round failed; retrying later");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = store.space_needed.notified() => {}
                _ = stop.changed() => return,
            }
        }
    })
}

/// One round; true when something was deleted.
pub async fn prune_round(
    store: &super::Store,
    policy: &RetentionPolicy,
) -> Result<bool, PruneError> {
    let now = crate::model::time::now_unix_nano_i64();
    let touch_after = store.known_blobs.touch_after();
    let Some((plan, builder)) = store.reader.plan_prune(policy, touch_after, now).await? else {
        return Ok(false);
    };
    let through = plan.cutoff_unix_nano;
    let batch = tokio::task::spawn_blocking(move || prune_batch(plan, builder))
        .await
        .map_err(|e| PruneError::Pack(std::io::Error::other(e.to_string())))?
        .map_err(PruneError::Pack)?;
    let summary = store.queue.write(batch).await?;
    tracing::info!(
        cutoff_unix_nano = through,
        rows = summary.pruned_rows,
        "retention pruned old data"
    );
    Ok(true)
}

#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Write(#[from] super::WriteError),
    #[error("cannot pack relocated content: {0}")]
    Pack(std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::size_step;

    #[test]
    fn a_round_deletes_the_share_over_nine_tenths_of_the_cap() {
        // 300 MB used against a 100 MB cap: 70% of the packs go.
        assert_eq!(size_step(1000, 300 << 20, 100 << 20), 700);
        // Just over the cap: down to 90%, not only one pack.
        assert_eq!(size_step(1000, 101 << 20, 100 << 20), 109);
    }

    #[test]
    fn a_round_always_makes_headway() {
        assert_eq!(size_step(1000, 90 << 20, 100 << 20), 50);
        assert_eq!(size_step(3, 101 << 20, 100 << 20), 1);
        assert_eq!(size_step(0, 101 << 20, 100 << 20), 1);
    }
}
