//! Storage: one SQLite file in WAL mode, reached through sqlx.
//!
//! Three layers, each importing only those below it: [`encoding`] (how
//! domain values become stored bytes and columns; no SQL), [`write`] (one
//! writer task fed by a bounded queue of prepared batches, one file per
//! kind of write) and [`read`] (a pool of read connections, one file per
//! resource). Bulky bytes live in compressed packs ([`encoding::pack`]),
//! content is deduplicated by hash ([`encoding::codec`], [`write::blobs`]).
//!
//! All SQL lives in this module. A second engine (PostgreSQL, as design.md
//! plans) would be a sibling of these files behind the same `Store` methods;
//! the types crossing the boundary are domain types and batches, never
//! SQLite types. Queries are checked at run time (`sqlx::query`, not the
//! compile-time macros), because those check against one database per crate.

pub mod audit;
pub mod backlog;
pub mod encoding;
pub mod health;
pub mod keys;
pub mod maintenance;
pub mod prune;
pub mod read;
pub mod settings;
pub mod write;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection as _};
use tokio::sync::Notify;

pub use read::{PackCache, ReadError, Reader};
pub use write::blobs::KnownBlobs;
pub use write::error::WriteError;
pub use write::writer::{WriteQueue, WriteSummary};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the database is opened.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub path: PathBuf,
    /// Bytes of prepared batches that may wait for the writer before ingest
    /// answers "retry later".
    pub max_queue_bytes: usize,
    /// `true`: fsync every commit (durable across power loss). `false`:
    /// durable across process crashes only; faster on slow disks.
    pub fsync_every_commit: bool,
    pub read_connections: u32,
    pub pack_cache_bytes: usize,
    /// Refuse writes that would grow the file past this many bytes
    /// (SQLite's `max_page_count`): ingest answers 503 instead.
    pub hard_limit_bytes: Option<u64>,
    /// Retention's size cap (`--max-db-mb`): the writer wakes the pruner as
    /// soon as the database passes it, and keeps the write-ahead log to a
    /// fraction of it.
    pub soft_limit_bytes: Option<u64>,
    /// See [`write::blobs::TOUCH_AFTER`].
    pub touch_after: Duration,
    /// Refuse a missing file instead of creating an empty one: for commands
    /// that only work on data already stored (replay, compare).
    pub must_exist: bool,
}

impl StoreOptions {
    /// The write-ahead log's bound: 64 MB, or an eighth of retention's size
    /// cap (at least 1 MB), so the cap holds with the log counted.
    pub fn max_wal_bytes(&self) -> u64 {
        const DEFAULT: u64 = 64 << 20;
        match self.soft_limit_bytes {
            Some(cap) => (cap / 8).clamp(1 << 20, DEFAULT),
            None => DEFAULT,
        }
    }

    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            max_queue_bytes: 64 << 20,
            fsync_every_commit: true,
            read_connections: 4,
            pack_cache_bytes: 32 << 20,
            hard_limit_bytes: None,
            soft_limit_bytes: None,
            touch_after: write::blobs::TOUCH_AFTER,
            must_exist: false,
        }
    }

    /// Options for a command that reads what is stored: a missing file is
    /// an error, not a new empty database.
    pub fn existing(path: impl Into<PathBuf>) -> Self {
        Self {
            must_exist: true,
            ..Self::new(path)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "no database at {path}: give --db the file `reprise serve` stores into (its default is ./reprise.db)"
    )]
    Missing { path: PathBuf },
    #[error("cannot open database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("cannot migrate database {path} to the current schema: {source}")]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
}

/// The store: a write queue, a reader, and what they share.
#[derive(Clone)]
pub struct Store {
    pub queue: WriteQueue,
    pub reader: Reader,
    pub known_blobs: Arc<KnownBlobs>,
    /// Signalled after a commit that queued spans for the linker.
    pub links_queued: Arc<Notify>,
    /// Signalled when a write failed because the database is full.
    pub space_needed: Arc<Notify>,
    /// Exports acknowledged but not yet derived.
    pub backlog: Arc<backlog::Backlog>,
    path: PathBuf,
    wal_path: PathBuf,
    writer_task: Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Store {
    /// Opens (creating if needed) and migrates the database, and starts the writer.
    pub async fn open(options: &StoreOptions) -> Result<Store, OpenError> {
        let path = options.path.clone();
        if options.must_exist && !path.exists() {
            return Err(OpenError::Missing { path });
        }
        let open_error = |source| OpenError::Open {
            path: path.clone(),
            source,
        };
        let writer_options = write::writer::WriterOptions {
            connect: connect_options(&options.path, options.fsync_every_commit)
                .map_err(open_error)?,
            hard_limit_bytes: options.hard_limit_bytes,
            soft_limit_bytes: options.soft_limit_bytes,
            max_wal_bytes: options.max_wal_bytes(),
            max_queue_bytes: options.max_queue_bytes,
        };
        let mut write_conn = writer_options
            .connect
            .clone()
            .connect()
            .await
            .map_err(open_error)?;
        MIGRATOR
            .run(&mut write_conn)
            .await
            .map_err(|source| OpenError::Migrate {
                path: path.clone(),
                source,
            })?;
        // Migrations run without the hard limit, which the writer's own
        // connection carries.
        write_conn.close().await.map_err(open_error)?;
        let write_conn = writer_options.open().await.map_err(open_error)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .connect_with(read_options(&options.path).map_err(open_error)?)
            .await
            .map_err(open_error)?;
        // Every ingest request probes the blob table for its new content.
        // Through the readers' mapping, the pages those probes touch would
        // count in the server's resident memory (20–35 MB under the ingest
        // bench); a connection of their own reads through a small cache.
        let lookups = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(lookup_options(&options.path).map_err(open_error)?)
            .await
            .map_err(open_error)?;
        let known_blobs = Arc::new(KnownBlobs::new(200_000, options.touch_after, lookups));
        let links_queued = Arc::new(Notify::new());
        let space_needed = Arc::new(Notify::new());
        let backlog = Arc::new(backlog::Backlog::load(
            read::appends::pending_exports(&pool)
                .await
                .map_err(open_error)?,
        ));
        let wal_path = PathBuf::from(format!("{}-wal", options.path.display()));
        let (queue, writer_task) = write::writer::spawn(
            write_conn,
            writer_options,
            wal_path.clone(),
            known_blobs.clone(),
            links_queued.clone(),
            space_needed.clone(),
            backlog.clone(),
        );
        Ok(Store {
            queue,
            reader: Reader {
                pool,
                packs: Arc::new(PackCache::new(options.pack_cache_bytes)),
            },
            known_blobs,
            links_queued,
            space_needed,
            backlog,
            path: options.path.clone(),
            wal_path,
            writer_task: Arc::new(tokio::sync::Mutex::new(Some(writer_task))),
        })
    }

    /// The write-ahead log's size now: the writer keeps it near
    /// `MAX_WAL_BYTES`, unless readers hold it back (see `writer::bound_wal`).
    pub fn wal_bytes(&self) -> u64 {
        std::fs::metadata(&self.wal_path).map_or(0, |m| m.len())
    }

    /// The keys and projects, for the key check.
    pub fn keys(&self) -> keys::KeyStore {
        keys::KeyStore::new(self.reader.pool.clone())
    }

    /// A setting the server recorded ([`settings`]), if any.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, sqlx::Error> {
        settings::get(&self.reader.pool, name).await
    }

    /// Waits until every batch queued so far is committed and the writer has
    /// stopped. Call after the receivers have stopped and every clone of the
    /// store's queue has been dropped elsewhere.
    pub async fn close(self) {
        // Readers go first: the writer's final checkpoint can then empty
        // the write-ahead log.
        self.reader.pool.close().await;
        self.known_blobs.close().await;
        let task = self.writer_task.lock().await.take();
        drop(self.queue);
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

fn connect_options(
    path: &Path,
    fsync_every_commit: bool,
) -> Result<SqliteConnectOptions, sqlx::Error> {
    let url = format!("sqlite://{}", path.display());
    Ok(SqliteConnectOptions::from_str(&url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(if fsync_every_commit {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        })
        // Set before the first table exists, so the pruner can hand space back.
        .auto_vacuum(SqliteAutoVacuum::Incremental)
        .busy_timeout(Duration::from_secs(10))
        .pragma("cache_size", "-16000")
        .pragma("temp_store", "memory")
        .log_statements(tracing::log::LevelFilter::Trace))
}

/// Readers never write, so they set no pragmas that would need to.
fn read_only_options(path: &Path, cache_kib: u32) -> Result<SqliteConnectOptions, sqlx::Error> {
    let url = format!("sqlite://{}", path.display());
    Ok(SqliteConnectOptions::from_str(&url)?
        .read_only(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("cache_size", format!("-{cache_kib}"))
        .log_statements(tracing::log::LevelFilter::Trace))
}

/// For the blob table's point lookups: no mapping, a small cache.
fn lookup_options(path: &Path) -> Result<SqliteConnectOptions, sqlx::Error> {
    read_only_options(path, 2000)
}

fn read_options(path: &Path) -> Result<SqliteConnectOptions, sqlx::Error> {
    // Scans (stats over every call) read the file through the page cache's
    // mapping instead of copying it page by page: a third of their time at
    // a million calls. The pages are the OS's file cache, shared and
    // reclaimable, though they show in the process's RSS.
    Ok(read_only_options(path, 4000)?.pragma("mmap_size", "1073741824"))
}
