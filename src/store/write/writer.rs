//! The write path's single writer: a bounded queue of prepared batches and
//! one task that commits them in groups.
//!
//! SQLite allows one writer at a time, so one task owns the write
//! connection and does nothing but bind parameters: every batch arrives
//! encoded and compressed. Batches that wait together are committed in one
//! transaction (one fsync), each inside its own savepoint so a bad batch
//! fails alone. A request is acknowledged only after the transaction that
//! holds its data has committed.
//!
//! The queue is bounded in bytes. When it is full, [`WriteQueue::submit`]
//! refuses at once and the receivers tell the client to retry later,
//! instead of buffering without bound.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection, QueryBuilder};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::error::WriteError;
use super::statements::chunks;
use crate::metrics;
use crate::model::time::now_unix_nano_i64 as now_unix_nano;
use crate::store::backlog::Backlog;
use crate::store::encoding::codec::BlobHash;
use crate::store::write::appends::NewAppend;
use crate::store::write::batch::{DedupRow, WriteBatch};
use crate::store::write::blobs::KnownBlobs;
use crate::store::write::calls::TextEntries;

/// Most batches committed in one transaction.
const MAX_GROUP_BATCHES: usize = 64;
/// Most rows committed in one transaction.
const MAX_GROUP_ROWS: usize = 50_000;
/// The byte budget is counted in units of this many bytes.
const PERMIT_UNIT: usize = 1024;

/// What one committed batch added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub spans_inserted: u64,
    pub logs_inserted: u64,
    pub calls_inserted: u64,
    /// Spans queued for the linker.
    pub links_queued: u64,
    /// What each replay write of the batch did, in order.
    pub replay: Vec<crate::store::write::replays::ReplayApplied>,
    /// Rows each comparison write of the batch changed, in order.
    pub comparison: Vec<u64>,
    /// Rows deleted by retention.
    pub pruned_rows: u64,
    /// The `ingest_log.seq` of each export the batch appended, in order.
    pub appended: Vec<i64>,
}

/// A batch written inside the open transaction.
struct Written {
    summary: WriteSummary,
    /// Indices into the batch's calls of those that were new.
    inserted_calls: Vec<usize>,
}

struct Pending {
    batch: WriteBatch,
    _permit: OwnedSemaphorePermit,
    ack: oneshot::Sender<Result<WriteSummary, WriteError>>,
}

/// The sending side of the write queue; cheap to clone.
#[derive(Clone)]
pub struct WriteQueue {
    sender: mpsc::UnboundedSender<Pending>,
    budget: Arc<Semaphore>,
    capacity_units: usize,
    activity: Arc<Activity>,
}

/// When the writer started the group it is committing, so health checks
/// can tell a busy writer from a stuck one.
#[derive(Debug)]
struct Activity {
    epoch: Instant,
    /// Milliseconds from `epoch` at which the current group began, plus one;
    /// zero while the writer waits for work.
    busy_since_ms: std::sync::atomic::AtomicU64,
}

impl Activity {
    fn begin(&self) {
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        self.busy_since_ms
            .store(now, std::sync::atomic::Ordering::Relaxed);
    }

    fn end(&self) {
        self.busy_since_ms
            .store(0, std::sync::atomic::Ordering::Relaxed);
    }

    fn busy_for(&self) -> Option<Duration> {
        let since = self
            .busy_since_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        let since = since.checked_sub(1)?;
        Some(
            self.epoch
                .elapsed()
                .saturating_sub(Duration::from_millis(since)),
        )
    }
}

impl WriteQueue {
    /// Queues a batch, or refuses at once when the byte budget is spent.
    /// The returned receiver resolves once the batch is committed.
    pub fn submit(
        &self,
        batch: WriteBatch,
    ) -> Result<oneshot::Receiver<Result<WriteSummary, WriteError>>, WriteError> {
        let permit = self
            .budget
            .clone()
            .try_acquire_many_owned(self.units_of(&batch))
            .map_err(|_| WriteError::QueueFull)?;
        self.send(batch, permit)
    }

    /// Queues a batch and waits for its commit.
    pub async fn write(&self, batch: WriteBatch) -> Result<WriteSummary, WriteError> {
        let done = self.submit(batch)?;
        done.await.map_err(|_| WriteError::ShuttingDown)?
    }

    /// Queues a batch once the byte budget has room for it, and waits for
    /// its commit: for background work (derivation) that must not be
    /// refused but can wait.
    pub async fn write_when_room(&self, batch: WriteBatch) -> Result<WriteSummary, WriteError> {
        let permit = self
            .budget
            .clone()
            .acquire_many_owned(self.units_of(&batch))
            .await
            .map_err(|_| WriteError::ShuttingDown)?;
        let done = self.send(batch, permit)?;
        done.await.map_err(|_| WriteError::ShuttingDown)?
    }

    /// Hands a batch holding its share of the budget to the writer.
    fn send(
        &self,
        batch: WriteBatch,
        permit: OwnedSemaphorePermit,
    ) -> Result<oneshot::Receiver<Result<WriteSummary, WriteError>>, WriteError> {
        let (ack, done) = oneshot::channel();
        self.sender
            .send(Pending {
                batch,
                _permit: permit,
                ack,
            })
            .map_err(|_| WriteError::ShuttingDown)?;
        Ok(done)
    }

    /// The budget a batch takes: at most all of it, so any batch fits.
    fn units_of(&self, batch: &WriteBatch) -> u32 {
        batch
            .memory_bytes()
            .div_ceil(PERMIT_UNIT)
            .clamp(1, self.capacity_units) as u32
    }

    /// The queue's byte budget.
    pub fn capacity_bytes(&self) -> usize {
        self.capacity_units * PERMIT_UNIT
    }

    /// Bytes waiting in the queue.
    pub fn queued_bytes(&self) -> usize {
        (self.capacity_units - self.budget.available_permits()) * PERMIT_UNIT
    }

    /// Waits until the queue is less than half full. Background writers
    /// (replay results, comparison scorings) call it before each batch, so
    /// they leave at least half of the queue to ingest.
    pub async fn wait_for_half_room(&self) {
        let mut delay = Duration::from_millis(2);
        while self.queued_bytes() * 2 >= self.capacity_bytes() {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(100));
        }
    }

    /// Whether the writer has stopped taking batches (it drained on shutdown,
    /// or its task ended).
    pub fn writer_stopped(&self) -> bool {
        self.sender.is_closed()
    }

    /// How long the writer has been working on its current group; `None`
    /// while it waits for work.
    pub fn busy_for(&self) -> Option<Duration> {
        self.activity.busy_for()
    }
}

/// Past this size the writer checkpoints and truncates the write-ahead
/// log, unless the store's size cap asks for less (see [`WriterOptions`]).
const MAX_WAL_BYTES: u64 = 64 << 20;
/// How often the writer asks how much of the database is in use (the
/// log's size it reads after every group).
const SIZE_CHECK_EVERY: Duration = Duration::from_millis(250);

/// How the writer opens its connection, and the sizes it keeps to.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    pub connect: SqliteConnectOptions,
    /// `PRAGMA max_page_count` in bytes: past it a write fails with
    /// SQLITE_FULL, as on a full disk.
    pub hard_limit_bytes: Option<u64>,
    /// Retention's size cap: past it the writer wakes the pruner at once
    /// instead of waiting for its next round.
    pub soft_limit_bytes: Option<u64>,
    pub max_wal_bytes: u64,
    pub max_queue_bytes: usize,
}

impl WriterOptions {
    pub fn new(connect: SqliteConnectOptions) -> Self {
        WriterOptions {
            connect,
            hard_limit_bytes: None,
            soft_limit_bytes: None,
            max_wal_bytes: MAX_WAL_BYTES,
            max_queue_bytes: 64 << 20,
        }
    }

    /// Opens a write connection with the hard limit in force. Used at
    /// start and again whenever a failed write leaves the connection's
    /// transaction state in doubt.
    pub async fn open(&self) -> Result<SqliteConnection, sqlx::Error> {
        let mut conn = self.connect.connect().await?;
        if let Some(limit) = self.hard_limit_bytes {
            let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
                .fetch_one(&mut conn)
                .await?;
            let pages = (limit as i64 / page_size.max(512)).max(1);
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "PRAGMA max_page_count = {pages}"
            )))
            .execute(&mut conn)
            .await?;
        }
        Ok(conn)
    }
}

/// Starts the writer task on `conn`, opened by `options.open()`. It stops
/// once every [`WriteQueue`] clone is dropped and the queue is drained.
pub fn spawn(
    conn: SqliteConnection,
    options: WriterOptions,
    wal_path: std::path::PathBuf,
    known_blobs: Arc<KnownBlobs>,
    links_queued: Arc<Notify>,
    space_needed: Arc<Notify>,
    backlog: Arc<Backlog>,
) -> (WriteQueue, tokio::task::JoinHandle<()>) {
    let capacity_units = (options.max_queue_bytes / PERMIT_UNIT).max(1);
    let (sender, receiver) = mpsc::unbounded_channel();
    let activity = Arc::new(Activity {
        epoch: Instant::now(),
        busy_since_ms: std::sync::atomic::AtomicU64::new(0),
    });
    let queue = WriteQueue {
        sender,
        budget: Arc::new(Semaphore::new(capacity_units)),
        capacity_units,
        activity: activity.clone(),
    };
    let writer = Writer {
        conn: Some(conn),
        options,
        wal_path,
        last_size_check: Instant::now(),
        checkpoint_blocked_at: None,
        known_blobs,
        links_queued: links_queued.clone(),
        space_needed,
        backlog,
        resource_ids: HashMap::new(),
        scope_ids: HashMap::new(),
        activity,
    };
    let handle = tokio::spawn(writer.run(receiver));
    (queue, handle)
}

struct Writer {
    /// `None` after a failed reopen; the next group tries again.
    conn: Option<SqliteConnection>,
    options: WriterOptions,
    wal_path: std::path::PathBuf,
    last_size_check: Instant,
    /// When a checkpoint last could not start the log over (readers held
    /// it): the next try waits [`SIZE_CHECK_EVERY`], so the writer does not
    /// spend every group waiting on busy readers.
    checkpoint_blocked_at: Option<Instant>,
    known_blobs: Arc<KnownBlobs>,
    links_queued: Arc<Notify>,
    space_needed: Arc<Notify>,
    backlog: Arc<Backlog>,
    resource_ids: HashMap<BlobHash, i64>,
    scope_ids: HashMap<BlobHash, i64>,
    activity: Arc<Activity>,
}

impl Writer {
    async fn run(mut self, mut receiver: mpsc::UnboundedReceiver<Pending>) {
        while let Some(first) = receiver.recv().await {
            let mut group = vec![first];
            let mut rows = row_count(&group[0].batch);
            while group.len() < MAX_GROUP_BATCHES && rows < MAX_GROUP_ROWS {
                match receiver.try_recv() {
                    Ok(next) => {
                        rows += row_count(&next.batch);
                        group.push(next);
                    }
                    Err(_) => break,
                }
            }
            self.activity.begin();
            self.commit_group(group).await;
            self.watch_sizes().await;
            self.activity.end();
        }
        // Fold the write-ahead log into the database file, so a stopped
        // server leaves one file behind.
        if let Some(conn) = self.conn.as_mut()
            && let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(conn)
                .await
        {
            tracing::warn!(%error, "final checkpoint failed");
        }
        tracing::info!("writer drained its queue and stopped");
    }

    /// Opens the connection again if an earlier failure dropped it.
    async fn ensure_connection(&mut self) -> Result<(), WriteError> {
        if self.conn.is_none() {
            let conn = self.options.open().await.map_err(|error| {
                WriteError::Database(format!("cannot reopen the database: {error}"))
            })?;
            tracing::info!("the writer reopened its database connection");
            self.conn = Some(conn);
        }
        Ok(())
    }

    /// The connection, reopened first if an earlier failure dropped it.
    async fn connection(&mut self) -> Result<&mut SqliteConnection, WriteError> {
        self.ensure_connection().await?;
        self.conn
            .as_mut()
            .ok_or(WriteError::Invalid("no write connection"))
    }

    /// After a failed group the connection's transaction state cannot be
    /// trusted: on SQLITE_FULL, IOERR or NOMEM SQLite may roll the whole
    /// transaction back by itself, while sqlx still counts the savepoints
    /// it opened, so its next BEGIN would be a SAVEPOINT inside nothing and
    /// later "commits" would acknowledge data that never reaches the file.
    /// A fresh connection starts with both sides agreeing.
    async fn discard_connection(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing rolls back whatever SQLite still holds open.
            if let Err(error) = conn.close().await {
                tracing::debug!(%error, "closing the failed write connection");
            }
        }
        // Ids cached from rolled-back rows may not exist.
        self.resource_ids.clear();
        self.scope_ids.clear();
        if let Err(error) = self.ensure_connection().await {
            tracing::warn!(%error, "the writer will reopen its connection at the next write");
        }
    }

    /// Between two groups, now and then: truncates a write-ahead log that
    /// grew past its bound, and wakes the pruner when the database passed
    /// retention's size cap, so the cap holds under steady ingest rather
    /// than only at the pruner's interval.
    async fn watch_sizes(&mut self) {
        // After every group: one `stat`, and fast ingest can add megabytes
        // to the log between two timed checks.
        self.bound_wal().await;
        if self.last_size_check.elapsed() < SIZE_CHECK_EVERY {
            return;
        }
        self.last_size_check = Instant::now();
        if let Some(limit) = self.options.soft_limit_bytes
            && let Ok(used) = self.used_bytes().await
            && used > limit
        {
            self.space_needed.notify_one();
        }
    }

    async fn used_bytes(&mut self) -> Result<u64, WriteError> {
        let conn = self.connection().await?;
        let (pages, free, page_size): (i64, i64, i64) = sqlx::query_as(
            "SELECT page_count, freelist_count, page_size \
             FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
        )
        .fetch_one(conn)
        .await?;
        Ok(((pages - free).max(0) * page_size) as u64)
    }

    /// SQLite's automatic checkpoints are passive: while some reader is
    /// always inside a read transaction (dashboards polling, long stats
    /// queries), the log is never started over and grows without bound.
    /// Past a size, the writer truncates it between two commits, waiting a
    /// little for readers to move on; if they do not, it tries again later.
    async fn bound_wal(&mut self) {
        let size = std::fs::metadata(&self.wal_path).map_or(0, |m| m.len());
        if size < self.options.max_wal_bytes {
            return;
        }
        if self
            .checkpoint_blocked_at
            .is_some_and(|at| at.elapsed() < SIZE_CHECK_EVERY)
        {
            return;
        }
        let Ok(conn) = self.connection().await else {
            return;
        };
        let result = async {
            sqlx::query("PRAGMA busy_timeout = 1000")
                .execute(&mut *conn)
                .await?;
            // The first of the checkpoint's three columns: whether readers
            // kept it from finishing.
            let busy = sqlx::query_scalar::<_, i64>("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&mut *conn)
                .await;
            sqlx::query("PRAGMA busy_timeout = 10000")
                .execute(&mut *conn)
                .await?;
            busy
        }
        .await;
        match result {
            Ok(busy) => {
                self.checkpoint_blocked_at = (busy != 0).then(Instant::now);
                if busy == 0 {
                    tracing::debug!(wal_bytes = size, "started the write-ahead log over");
                } else {
                    tracing::info!(
                        wal_bytes = size,
                        "readers kept the write-ahead log from starting over; trying again shortly"
                    );
                }
            }
            Err(error) => {
                self.checkpoint_blocked_at = Some(Instant::now());
                tracing::warn!(%error, wal_bytes = size, "checkpoint failed");
            }
        }
    }

    async fn commit_group(&mut self, group: Vec<Pending>) {
        let started = Instant::now();
        let count = group.len();
        let rows = group.iter().map(|p| row_count(&p.batch)).sum();
        let outcome = self.write_group(&group).await;
        metrics::commit(metrics::Commit {
            batches: count,
            rows,
            committed: outcome.is_ok(),
            duration: started.elapsed(),
        });
        match outcome {
            Ok(results) => {
                self.remember_blobs(&group, &results);
                self.update_backlog(&group, &results);
                if group.iter().any(|p| !p.batch.derived_from.is_empty()) && self.backlog.is_empty()
                {
                    self.return_backlog_space().await;
                }
                let linked = results
                    .iter()
                    .any(|r| r.as_ref().is_ok_and(|w| w.summary.links_queued > 0));
                if linked {
                    self.links_queued.notify_one();
                }
                if results.iter().any(|r| matches!(r, Err(WriteError::Full))) {
                    self.space_needed.notify_one();
                }
                // Clients first: counting what was stored can wait.
                let mut stored = Vec::with_capacity(group.len());
                for (pending, result) in group.into_iter().zip(results) {
                    let Pending { batch, ack, .. } = pending;
                    match result {
                        Ok(written) => {
                            let _ = ack.send(Ok(written.summary.clone()));
                            stored.push((batch, written));
                        }
                        Err(error) => {
                            let _ = ack.send(Err(error));
                        }
                    }
                }
                record_metrics(&stored);
            }
            Err(error) => {
                if matches!(error, WriteError::Full) {
                    self.space_needed.notify_one();
                }
                tracing::error!(%error, batches = count, "commit failed; no batch of the group was stored");
                // Nothing of the group is acknowledged: COMMIT did not return OK.
                for pending in group {
                    let _ = pending.ack.send(Err(error.clone()));
                }
                self.discard_connection().await;
            }
        }
        tracing::debug!(
            batches = count,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "committed"
        );
    }

    /// Tells the ingest workers which content is now stored, and which is gone.
    fn remember_blobs(&self, group: &[Pending], results: &[Result<Written, WriteError>]) {
        let now = now_unix_nano();
        for (pending, result) in group.iter().zip(results) {
            if result.is_ok() {
                let batch = &pending.batch;
                if let Some(plan) = &batch.prune {
                    self.known_blobs.forget(&plan.dead);
                }
                let hashes = batch.new_blobs.iter().map(|(hash, _)| *hash);
                self.known_blobs
                    .remember(hashes.chain(batch.touched_blobs.iter().copied()), now);
            }
        }
    }

    /// Hands the pages the derived exports took back to the file system,
    /// once none is pending: otherwise the file keeps the backlog's peak
    /// size as free pages (new appends reuse them, so under load this is
    /// rare and the pages are not wasted).
    async fn return_backlog_space(&mut self) {
        let Ok(conn) = self.connection().await else {
            return;
        };
        if let Err(error) = sqlx::query("PRAGMA incremental_vacuum")
            .execute(&mut *conn)
            .await
        {
            tracing::warn!(%error, "could not return free pages to the file system");
        }
    }

    /// Mirrors the committed appends and derivations in the backlog, before
    /// any client hears of them: an acknowledged export is always counted.
    fn update_backlog(&self, group: &[Pending], results: &[Result<Written, WriteError>]) {
        for (pending, result) in group.iter().zip(results) {
            if let Ok(written) = result {
                let batch = &pending.batch;
                let appended = written.summary.appended.iter().copied();
                self.backlog
                    .appended(appended.zip(batch.appends.iter().map(NewAppend::pending)));
                self.backlog.derived(&batch.derived_from);
                let quarantined: Vec<i64> = batch.quarantined.iter().map(|(seq, _)| *seq).collect();
                self.backlog.derived(&quarantined);
            }
        }
    }

    /// Writes the group in one transaction, each batch in a savepoint so a
    /// bad batch fails alone. An `Err` means the transaction is gone: a
    /// savepoint that cannot be rolled back to no longer exists, because
    /// SQLite already rolled the whole transaction back.
    async fn write_group(
        &mut self,
        group: &[Pending],
    ) -> Result<Vec<Result<Written, WriteError>>, WriteError> {
        self.ensure_connection().await?;
        let Writer {
            conn,
            resource_ids,
            scope_ids,
            ..
        } = self;
        let conn = conn
            .as_mut()
            .ok_or(WriteError::Invalid("no write connection"))?;
        let mut tx = Connection::begin(conn).await?;
        let mut results = Vec::with_capacity(group.len());
        let mut rolled_back = false;
        let mut text = TextEntries::new();
        for pending in group {
            let mut savepoint = Connection::begin(&mut *tx).await?;
            let mut batch_text = TextEntries::new();
            let result = write_batch(
                &mut savepoint,
                &pending.batch,
                resource_ids,
                scope_ids,
                &mut batch_text,
            )
            .await;
            match result {
                Ok(summary) => {
                    savepoint.commit().await?;
                    text.append(&mut batch_text);
                    results.push(Ok(summary));
                }
                Err(error) => {
                    savepoint.rollback().await.map_err(|rollback| {
                        tracing::warn!(%error, %rollback, "a failed batch took its transaction with it");
                        error.clone()
                    })?;
                    rolled_back = true;
                    results.push(Err(error));
                }
            }
        }
        crate::store::write::calls::index_text(&mut tx, text).await?;
        tx.commit().await?;
        if rolled_back {
            // Ids cached while writing a rolled-back batch may not exist.
            resource_ids.clear();
            scope_ids.clear();
        }
        Ok(results)
    }
}

fn row_count(batch: &WriteBatch) -> usize {
    batch.row_count()
}

/// Counts what a committed group did: new rows, the LLM calls that were
/// not stored before, rows retention deleted.
fn record_metrics(stored: &[(WriteBatch, Written)]) {
    let mut spans = 0;
    let mut log_records = 0;
    let mut pruned = 0;
    let mut calls = Vec::new();
    for (batch, written) in stored {
        spans += written.summary.spans_inserted;
        log_records += written.summary.logs_inserted;
        pruned += written.summary.pruned_rows;
        for index in &written.inserted_calls {
            if let Some(call) = batch.calls.get(*index) {
                calls.push(&call.columns);
            }
        }
    }
    metrics::rows_inserted(spans, log_records);
    metrics::rows_pruned(pruned);
    metrics::calls_stored(calls);
}

/// Writes one batch; the full-text entries of its calls go to `text`, for
/// the end of the group.
async fn write_batch<'a>(
    conn: &mut SqliteConnection,
    batch: &'a WriteBatch,
    resource_ids: &mut HashMap<BlobHash, i64>,
    scope_ids: &mut HashMap<BlobHash, i64>,
    text: &mut TextEntries<'a>,
) -> Result<Written, WriteError> {
    if !batch.references_are_valid() {
        return Err(WriteError::Invalid("a row points outside its batch"));
    }
    let now = now_unix_nano();
    touch_blobs(conn, &batch.touched_blobs, now).await?;
    let pack_ids = insert_packs(conn, batch, now).await?;
    insert_blobs(conn, batch, &pack_ids, now).await?;
    let resources =
        resolve_dedup(conn, DedupTable::Resources, &batch.resources, resource_ids).await?;
    let scopes = resolve_dedup(conn, DedupTable::Scopes, &batch.scopes, scope_ids).await?;
    let spans_inserted = insert_spans(conn, batch, &pack_ids, &resources, &scopes).await?;
    let logs_inserted = insert_logs(conn, batch, &pack_ids, &resources, &scopes).await?;
    let calls = crate::store::write::calls::insert_calls(conn, batch, &pack_ids, text).await?;
    let refused =
        crate::store::write::calls::write_linked_calls(conn, batch, &pack_ids, text).await?;
    let mut links = calls.links;
    links.extend(batch.link_keys.iter().copied());
    // Queued again before the linker's versions are cleared, so they stay.
    links.extend(refused);
    let links_queued =
        crate::store::write::calls::queue_links(conn, batch.project_id, &links).await?;
    crate::store::write::calls::clear_links(conn, batch.project_id, &batch.links_done).await?;
    let replay =
        crate::store::write::replays::apply(conn, batch.project_id, &batch.replay, now).await?;
    crate::store::write::calls::update_costs(conn, batch.project_id, &batch.cost_updates).await?;
    let mut pruned_rows = 0;
    if let Some(plan) = &batch.prune {
        pruned_rows = super::prune::execute(conn, plan, &pack_ids).await?;
        sqlx::query("PRAGMA incremental_vacuum")
            .execute(&mut *conn)
            .await?;
    }
    if batch.prune.is_none() {
        // Relocated content carries no rows.
        mark_row_watermarks(conn, &pack_ids).await?;
    }
    let comparison = crate::store::write::comparisons::apply(conn, &batch.comparison).await?;
    let appended = super::appends::append(conn, batch.project_id, &batch.appends).await?;
    super::appends::remove_derived(conn, &batch.derived_from).await?;
    super::appends::quarantine(conn, &batch.quarantined, now).await?;
    Ok(Written {
        summary: WriteSummary {
            appended,
            pruned_rows,
            spans_inserted,
            logs_inserted,
            calls_inserted: calls.inserted,
            links_queued,
            replay,
            comparison,
        },
        inserted_calls: calls.inserted_indices,
    })
}

/// Records, on the batch's packs, the highest row ids at this point: the
/// pruner deletes a pack's rows by row id range (see `store::prune`).
async fn mark_row_watermarks(
    conn: &mut SqliteConnection,
    pack_ids: &[i64],
) -> Result<(), WriteError> {
    let (Some(first), Some(last)) = (pack_ids.first(), pack_ids.last()) else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE packs SET span_rows_through = (SELECT MAX(id) FROM spans), \
         log_rows_through = (SELECT MAX(id) FROM log_records), \
         call_rows_through = (SELECT MAX(id) FROM calls) WHERE id BETWEEN ? AND ?",
    )
    .bind(first)
    .bind(last)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn touch_blobs(
    conn: &mut SqliteConnection,
    hashes: &[BlobHash],
    now: i64,
) -> Result<(), WriteError> {
    for range in chunks(hashes.len()) {
        let slice = &hashes[range];
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new("UPDATE blobs SET last_seen_unix_nano = ");
        query.push_bind(now).push(" WHERE hash IN (");
        let mut separated = query.separated(", ");
        for hash in slice {
            separated.push_bind(hash.as_slice());
        }
        query.push(")");
        let updated = query.build().execute(&mut *conn).await?.rows_affected();
        if updated as usize != slice.len() {
            return Err(WriteError::MissingBlob(format!(
                "{} of {} referenced blobs",
                slice.len() - updated as usize,
                slice.len()
            )));
        }
    }
    Ok(())
}

async fn insert_packs(
    conn: &mut SqliteConnection,
    batch: &WriteBatch,
    now: i64,
) -> Result<Vec<i64>, WriteError> {
    let mut ids = Vec::with_capacity(batch.packs.len());
    for pack in &batch.packs {
        let id = sqlx::query(
            "INSERT INTO packs (created_at_unix_nano, codec, raw_length, data) VALUES (?, ?, ?, ?)",
        )
        .bind(now)
        .bind(pack.codec)
        .bind(pack.raw_length as i64)
        .bind(pack.data.as_slice())
        .execute(&mut *conn)
        .await?
        .last_insert_rowid();
        ids.push(id);
    }
    Ok(ids)
}

async fn insert_blobs(
    conn: &mut SqliteConnection,
    batch: &WriteBatch,
    pack_ids: &[i64],
    now: i64,
) -> Result<(), WriteError> {
    for range in chunks(batch.new_blobs.len()) {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO blobs (hash, pack_id, pack_offset, length, last_seen_unix_nano) ",
        );
        query.push_values(&batch.new_blobs[range], |mut row, (hash, slot)| {
            row.push_bind(hash.as_slice())
                .push_bind(pack_ids[slot.pack])
                .push_bind(slot.offset as i64)
                .push_bind(slot.length as i64)
                .push_bind(now);
        });
        // Another request may have stored the same content first; its copy wins.
        query.push(
            " ON CONFLICT (hash) DO UPDATE SET last_seen_unix_nano = excluded.last_seen_unix_nano",
        );
        query.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The two tables of deduplicated, rarely changing records.
#[derive(Clone, Copy)]
enum DedupTable {
    Resources,
    Scopes,
}

impl DedupTable {
    fn insert_sql(self) -> &'static str {
        match self {
            DedupTable::Resources => {
                "INSERT INTO resources (hash, service_name, body) VALUES (?, ?, ?) \
                 ON CONFLICT (hash) DO NOTHING"
            }
            DedupTable::Scopes => {
                "INSERT INTO scopes (hash, name, version, body) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (hash) DO NOTHING"
            }
        }
    }

    fn select_sql(self) -> &'static str {
        match self {
            DedupTable::Resources => "SELECT id FROM resources WHERE hash = ?",
            DedupTable::Scopes => "SELECT id FROM scopes WHERE hash = ?",
        }
    }
}

/// Maps each resource or scope of the batch to its row id, inserting new ones.
async fn resolve_dedup(
    conn: &mut SqliteConnection,
    table: DedupTable,
    rows: &[DedupRow],
    cache: &mut HashMap<BlobHash, i64>,
) -> Result<Vec<i64>, WriteError> {
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(id) = cache.get(&row.hash) {
            ids.push(*id);
            continue;
        }
        let mut insert = sqlx::query(table.insert_sql())
            .bind(row.hash.as_slice())
            .bind(row.label.as_deref());
        if let DedupTable::Scopes = table {
            insert = insert.bind(row.version.as_deref().unwrap_or(""));
        }
        insert.bind(row.body.as_slice()).execute(&mut *conn).await?;
        let id: i64 = sqlx::query_scalar(table.select_sql())
            .bind(row.hash.as_slice())
            .fetch_one(&mut *conn)
            .await?;
        cache.insert(row.hash, id);
        ids.push(id);
    }
    Ok(ids)
}

async fn insert_spans(
    conn: &mut SqliteConnection,
    batch: &WriteBatch,
    pack_ids: &[i64],
    resources: &[i64],
    scopes: &[i64],
) -> Result<u64, WriteError> {
    let mut inserted = 0;
    for range in chunks(batch.spans.len()) {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO spans (project_id, trace_id, span_id, parent_span_id, name, kind, \
             start_time_unix_nano, end_time_unix_nano, status_code, resource_id, scope_id, \
             pack_id, body_offset, body_length) ",
        );
        query.push_values(&batch.spans[range], |mut row, span| {
            let c = &span.columns;
            row.push_bind(batch.project_id)
                .push_bind(c.trace_id.as_bytes().to_vec())
                .push_bind(c.span_id.as_bytes().to_vec())
                .push_bind(c.parent_span_id.map(|id| id.as_bytes().to_vec()))
                .push_bind(c.name.clone())
                .push_bind(c.kind)
                .push_bind(c.start_time_unix_nano as i64)
                .push_bind(c.end_time_unix_nano as i64)
                .push_bind(c.status_code)
                .push_bind(resources[span.resource])
                .push_bind(scopes[span.scope])
                .push_bind(pack_ids[span.body.pack])
                .push_bind(span.body.offset as i64)
                .push_bind(span.body.length as i64);
        });
        query.push(" ON CONFLICT (project_id, trace_id, span_id) DO NOTHING");
        inserted += query.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(inserted)
}

async fn insert_logs(
    conn: &mut SqliteConnection,
    batch: &WriteBatch,
    pack_ids: &[i64],
    resources: &[i64],
    scopes: &[i64],
) -> Result<u64, WriteError> {
    let mut inserted = 0;
    for range in chunks(batch.logs.len()) {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO log_records (project_id, hash, time_unix_nano, trace_id, span_id, \
             event_name, severity_number, resource_id, scope_id, pack_id, body_offset, body_length) ",
        );
        query.push_values(&batch.logs[range], |mut row, log| {
            let c = &log.columns;
            row.push_bind(batch.project_id)
                .push_bind(log.hash.to_vec())
                .push_bind(c.time_unix_nano as i64)
                .push_bind(c.trace_id.map(|id| id.as_bytes().to_vec()))
                .push_bind(c.span_id.map(|id| id.as_bytes().to_vec()))
                .push_bind(log.event_name.clone())
                .push_bind(c.severity_number)
                .push_bind(resources[log.resource])
                .push_bind(scopes[log.scope])
                .push_bind(pack_ids[log.body.pack])
                .push_bind(log.body.offset as i64)
                .push_bind(log.body.length as i64);
        });
        query.push(" ON CONFLICT (project_id, hash) DO NOTHING");
        inserted += query.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(inserted)
}
