//! Recording the write path: each commit of the writer (its size, its
//! duration, whether it succeeded, which rows were new or pruned), and the
//! gauges sampled when Prometheus scrapes (queue depth, pending links,
//! database size).

use std::time::Duration;

use ::metrics::{counter, gauge, histogram};

use super::names::*;

/// What one writer transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// Batches written in the transaction.
    pub batches: usize,
    /// Rows those batches held.
    pub rows: usize,
    /// Whether the transaction committed.
    pub committed: bool,
    pub duration: Duration,
}

/// Records one writer transaction.
pub fn commit(commit: Commit) {
    let outcome = if commit.committed { "ok" } else { "error" };
    counter!(STORE_COMMITS, LABEL_OUTCOME => outcome).increment(1);
    histogram!(STORE_COMMIT_DURATION).record(commit.duration.as_secs_f64());
    histogram!(STORE_COMMIT_BATCHES).record(commit.batches as f64);
    histogram!(STORE_COMMIT_ROWS).record(commit.rows as f64);
}

/// Records the rows a committed batch added (re-sent rows excluded).
pub fn rows_inserted(spans: u64, log_records: u64) {
    counter!(STORE_INSERTED_ROWS, LABEL_TABLE => "spans").increment(spans);
    counter!(STORE_INSERTED_ROWS, LABEL_TABLE => "log_records").increment(log_records);
}

/// Records rows deleted by retention.
pub fn rows_pruned(rows: u64) {
    counter!(STORE_PRUNED_ROWS).increment(rows);
}

/// Sets the database size gauges; called at scrape time.
pub fn database_size(used_bytes: u64, file_bytes: u64) {
    gauge!(STORE_DATABASE_USED_BYTES).set(used_bytes as f64);
    gauge!(STORE_DATABASE_FILE_BYTES).set(file_bytes as f64);
}

/// Sets the write-ahead log's size: a log that keeps growing means readers
/// never let the writer start it over.
pub fn wal_size(bytes: u64) {
    gauge!(STORE_WAL_BYTES).set(bytes as f64);
}

/// Sets the configured size limits, once at start; an unset limit has no
/// series (a dashboard line at 0 would read as "full").
pub fn database_limits(retention_bytes: Option<u64>, hard_bytes: Option<u64>) {
    if let Some(bytes) = retention_bytes {
        gauge!(STORE_RETENTION_LIMIT_BYTES).set(bytes as f64);
    }
    if let Some(bytes) = hard_bytes {
        gauge!(STORE_HARD_LIMIT_BYTES).set(bytes as f64);
    }
}

/// Sets the write queue gauges; called at scrape time.
pub fn write_queue(queued_bytes: usize, capacity_bytes: usize) {
    gauge!(WRITE_QUEUE_BYTES).set(queued_bytes as f64);
    gauge!(WRITE_QUEUE_CAPACITY_BYTES).set(capacity_bytes as f64);
}

/// Sets the pending links gauge; called at scrape time.
pub fn pending_links(count: i64) {
    gauge!(LINKER_PENDING_LINKS).set(count as f64);
}

/// Sets the derivation backlog gauges; called at scrape time.
pub fn derive_backlog(level: &crate::store::backlog::BacklogLevel) {
    gauge!(DERIVE_PENDING_ITEMS).set(level.items as f64);
    gauge!(DERIVE_PENDING_BYTES).set(level.stored_bytes as f64);
    gauge!(DERIVE_OLDEST_AGE).set(level.oldest_age.as_secs_f64());
}

/// Records a derivation batch that failed.
pub fn derive_failed() {
    counter!(DERIVE_FAILURES).increment(1);
}

/// Records an export set aside in `ingest_failed`.
pub fn derive_quarantined() {
    counter!(DERIVE_QUARANTINED).increment(1);
}

/// Commit counters start at zero, so the first failed commit is an increase.
pub(super) fn register_defaults() {
    for outcome in ["ok", "error"] {
        counter!(STORE_COMMITS, LABEL_OUTCOME => outcome).increment(0);
    }
    rows_inserted(0, 0);
    rows_pruned(0);
    counter!(DERIVE_FAILURES).increment(0);
    counter!(DERIVE_QUARANTINED).increment(0);
}
