//! The derivation backlog: exports acknowledged (their rows in `ingest_log`
//! committed) but not yet derived into spans, log records and calls.
//!
//! This is the in-memory mirror of `ingest_log`'s small columns, so that
//! health checks, back-pressure and readers waiting for freshness never
//! query the table. Only the writer changes it, right after the commit
//! that appended or derived the rows, so it never runs ahead of or behind
//! the file; at start it is loaded from the table.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

use crate::model::time::now_unix_nano_i64 as now_unix_nano;

/// One pending export, by its `ingest_log.seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingExport {
    pub received_unix_nano: i64,
    /// Spans or log records.
    pub items: u64,
    /// Its compressed size in the table.
    pub stored_bytes: u64,
    /// Its protobuf size once decompressed: what deriving it holds in memory.
    pub raw_bytes: u64,
}

/// The backlog's size, as `/healthz` and `/metrics` report it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BacklogLevel {
    pub exports: u64,
    pub items: u64,
    pub stored_bytes: u64,
    /// How long the oldest pending export has waited; zero when none does.
    pub oldest_age: Duration,
}

/// The pending exports by `seq`, and their totals.
#[derive(Debug, Default)]
struct Pending {
    exports: BTreeMap<i64, PendingExport>,
    items: u64,
    stored_bytes: u64,
}

impl Pending {
    fn insert(&mut self, seq: i64, export: PendingExport) {
        if let Some(old) = self.exports.insert(seq, export) {
            self.subtract(&old);
        }
        self.items += export.items;
        self.stored_bytes += export.stored_bytes;
    }

    fn remove(&mut self, seq: i64) {
        if let Some(old) = self.exports.remove(&seq) {
            self.subtract(&old);
        }
    }

    fn subtract(&mut self, export: &PendingExport) {
        self.items -= export.items;
        self.stored_bytes -= export.stored_bytes;
    }
}

#[derive(Debug, Default)]
pub struct Backlog {
    pending: Mutex<Pending>,
    /// Wakes the deriver: something was appended.
    appended: Notify,
    /// Wakes readers waiting for freshness: something was derived.
    derived: Notify,
}

impl Backlog {
    /// The backlog as the table holds it at start.
    pub fn load(rows: impl IntoIterator<Item = (i64, PendingExport)>) -> Self {
        let backlog = Backlog::default();
        {
            let mut pending = backlog.lock();
            for (seq, export) in rows {
                pending.insert(seq, export);
            }
        }
        backlog
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves a map that is still whole.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by the writer once the appends have committed.
    pub fn appended(&self, exports: impl IntoIterator<Item = (i64, PendingExport)>) {
        let mut added = false;
        {
            let mut pending = self.lock();
            for (seq, export) in exports {
                pending.insert(seq, export);
                added = true;
            }
        }
        if added {
            self.appended.notify_one();
        }
    }

    /// Called by the writer once the derived exports' rows are deleted.
    pub fn derived(&self, seqs: &[i64]) {
        if seqs.is_empty() {
            return;
        }
        {
            let mut pending = self.lock();
            for seq in seqs {
                pending.remove(*seq);
            }
        }
        self.derived.notify_waiters();
    }

    pub fn level(&self) -> BacklogLevel {
        let pending = self.lock();
        // Exports are appended in the order they arrive, so the oldest is
        // the first (a clock stepping back can only make it look younger).
        let oldest_age = pending.exports.first_key_value().map_or(0, |(_, oldest)| {
            now_unix_nano()
                .saturating_sub(oldest.received_unix_nano)
                .max(0)
        });
        BacklogLevel {
            exports: pending.exports.len() as u64,
            items: pending.items,
            stored_bytes: pending.stored_bytes,
            oldest_age: Duration::from_nanos(oldest_age as u64),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lock().exports.is_empty()
    }

    /// The oldest pending exports after seq `after`, as many as fit in
    /// `max_items` items and `max_raw_bytes` (always at least one, however
    /// large).
    /// Returns their seqs, oldest first.
    pub fn next_batch(&self, after: i64, max_items: u64, max_raw_bytes: u64) -> Option<Vec<i64>> {
        let pending = self.lock();
        let mut seqs = Vec::new();
        let (mut items, mut raw_bytes) = (0, 0);
        for (seq, export) in pending.exports.range(after.saturating_add(1)..) {
            let over =
                items + export.items > max_items || raw_bytes + export.raw_bytes > max_raw_bytes;
            if over && !seqs.is_empty() {
                break;
            }
            seqs.push(*seq);
            items += export.items;
            raw_bytes += export.raw_bytes;
        }
        (!seqs.is_empty()).then_some(seqs)
    }

    /// Waits until an export after seq `after` is pending.
    pub async fn wait_for_work(&self, after: i64) {
        loop {
            let appended = self.appended.notified();
            if self
                .lock()
                .exports
                .range(after.saturating_add(1)..)
                .next()
                .is_some()
            {
                return;
            }
            appended.await;
        }
    }

    /// The newest export acknowledged so far: what a reader asking for
    /// freshness waits to see derived. `None` when nothing is pending.
    pub fn newest(&self) -> Option<i64> {
        self.lock().exports.keys().next_back().copied()
    }

    /// Waits until every export up to `seq` is derived, or `timeout`
    /// passes; says whether it got there.
    pub async fn wait_derived(&self, seq: i64, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let derived = self.derived.notified();
                if self.is_derived(seq) {
                    return;
                }
                derived.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }

    fn is_derived(&self, seq: i64) -> bool {
        self.lock()
            .exports
            .keys()
            .next()
            .is_none_or(|oldest| *oldest > seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(items: u64, raw_bytes: u64) -> PendingExport {
        PendingExport {
            received_unix_nano: now_unix_nano(),
            items,
            stored_bytes: raw_bytes / 4,
            raw_bytes,
        }
    }

    #[test]
    fn a_batch_takes_the_oldest_exports_that_fit() {
        let backlog = Backlog::load([(3, export(10, 100)), (1, export(10, 100))]);
        backlog.appended([(7, export(10, 100))]);
        let batch = backlog.next_batch(0, 20, 1000).expect("pending");
        assert_eq!(batch, vec![1, 3]);
        // One export larger than the budget still goes, alone.
        let batch = backlog.next_batch(0, 5, 1000).expect("pending");
        assert_eq!(batch, vec![1]);
        // Those handed out already are skipped.
        let batch = backlog.next_batch(3, 20, 1000).expect("pending");
        assert_eq!(batch, vec![7]);
        assert!(backlog.next_batch(7, 20, 1000).is_none());
        let level = backlog.level();
        assert_eq!(
            (level.exports, level.items, level.stored_bytes),
            (3, 30, 75)
        );
    }

    #[tokio::test]
    async fn waiting_for_freshness_ends_once_everything_before_is_derived() {
        let backlog = std::sync::Arc::new(Backlog::load([(1, export(1, 1)), (2, export(1, 1))]));
        let newest = backlog.newest().expect("pending");
        assert!(
            !backlog
                .wait_derived(newest, Duration::from_millis(10))
                .await
        );
        let waiter = {
            let backlog = backlog.clone();
            tokio::spawn(async move { backlog.wait_derived(newest, Duration::from_secs(30)).await })
        };
        backlog.derived(&[1]);
        // Appended after the reader asked: not waited for.
        backlog.appended([(3, export(1, 1))]);
        backlog.derived(&[2]);
        assert!(waiter.await.expect("waiter"));
        assert_eq!(backlog.newest(), Some(3));
    }
}
