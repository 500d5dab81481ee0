//! Keeping a database healthy: consistent backups while ingest runs,
//! integrity checks, and where the disk space went.

use std::path::Path;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection};

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("cannot open {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("{what} failed: {source}")]
    Sql {
        what: &'static str,
        source: sqlx::Error,
    },
    #[error("{0} already exists; remove it or pass --force")]
    Exists(String),
    #[error("{path} is not intact: {problems}")]
    Corrupt { path: String, problems: String },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
}

fn sql(what: &'static str) -> impl FnOnce(sqlx::Error) -> MaintenanceError {
    move |source| MaintenanceError::Sql { what, source }
}

/// A read-only connection, for looks that must not change anything.
pub(super) async fn open_read_only(path: &Path) -> Result<SqliteConnection, MaintenanceError> {
    open(path, true).await
}

async fn open(path: &Path, read_only: bool) -> Result<SqliteConnection, MaintenanceError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .busy_timeout(std::time::Duration::from_secs(30));
    options
        .connect()
        .await
        .map_err(|source| MaintenanceError::Open {
            path: path.display().to_string(),
            source,
        })
}

/// Writes a consistent copy of `db` to `target` with `VACUUM INTO`: one
/// read transaction, so the copy is the database at one instant even while
/// a server keeps writing, and compacted. Returns the copy's size.
pub async fn backup(db: &Path, target: &Path) -> Result<u64, MaintenanceError> {
    let target_text = target.display().to_string();
    if target.exists() {
        return Err(MaintenanceError::Exists(target_text));
    }
    let mut conn = open(db, true).await?;
    sqlx::query("VACUUM INTO ?")
        .bind(&target_text)
        .execute(&mut conn)
        .await
        .map_err(sql("VACUUM INTO"))?;
    conn.close().await.map_err(sql("closing the database"))?;
    let problems = integrity_problems(target).await?;
    if !problems.is_empty() {
        return Err(MaintenanceError::Corrupt {
            path: target_text,
            problems: problems.join("; "),
        });
    }
    std::fs::metadata(target)
        .map(|m| m.len())
        .map_err(|source| MaintenanceError::Io {
            what: "measure",
            path: target_text,
            source,
        })
}

/// Replaces `db` with the backup at `source`, after checking the backup.
/// The server must be stopped. The old file is kept as `db` + `.before-restore`.
pub async fn restore(source: &Path, db: &Path, force: bool) -> Result<(), MaintenanceError> {
    let problems = integrity_problems(source).await?;
    if !problems.is_empty() {
        return Err(MaintenanceError::Corrupt {
            path: source.display().to_string(),
            problems: problems.join("; "),
        });
    }
    let io = |what: &'static str, path: &Path| {
        let path = path.display().to_string();
        move |source| MaintenanceError::Io { what, path, source }
    };
    if db.exists() {
        if !force {
            return Err(MaintenanceError::Exists(db.display().to_string()));
        }
        let kept = db.with_extension("db.before-restore");
        std::fs::rename(db, &kept).map_err(io("move aside", db))?;
    }
    for suffix in ["-wal", "-shm"] {
        let side = Path::new(&format!("{}{suffix}", db.display())).to_path_buf();
        if side.exists() {
            std::fs::remove_file(&side).map_err(io("remove", &side))?;
        }
    }
    // Copy next to the target, then rename: the database appears whole or not at all.
    let partial = db.with_extension("db.restoring");
    std::fs::copy(source, &partial).map_err(io("copy", source))?;
    std::fs::rename(&partial, db).map_err(io("rename", &partial))?;
    Ok(())
}

/// What `PRAGMA integrity_check` reports; empty when the file is intact.
pub async fn integrity_problems(db: &Path) -> Result<Vec<String>, MaintenanceError> {
    let mut conn = open(db, true).await?;
    let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(sql("PRAGMA integrity_check"))?;
    conn.close().await.map_err(sql("closing the database"))?;
    Ok(rows.into_iter().filter(|r| r != "ok").collect())
}

/// Disk used by one table or index.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableSize {
    pub name: String,
    pub bytes: u64,
    pub rows: Option<u64>,
}

/// Bytes per table and index (from the `dbstat` virtual table), largest first.
pub async fn table_sizes(db: &Path) -> Result<Vec<TableSize>, MaintenanceError> {
    let mut conn = open(db, true).await?;
    let rows = sqlx::query(
        "SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(sql("reading dbstat"))?;
    let mut sizes = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("name").map_err(sql("reading dbstat"))?;
        let bytes: i64 = row.try_get("bytes").map_err(sql("reading dbstat"))?;
        sizes.push(TableSize {
            rows: count_rows(&mut conn, &name).await,
            name,
            bytes: bytes.max(0) as u64,
        });
    }
    conn.close().await.map_err(sql("closing the database"))?;
    Ok(sizes)
}

/// Rows of a table the schema defines (not of indexes or internal tables).
async fn count_rows(conn: &mut SqliteConnection, name: &str) -> Option<u64> {
    const TABLES: &[&str] = &[
        "packs",
        "blobs",
        "resources",
        "scopes",
        "spans",
        "log_records",
        "calls",
        "call_aliases",
        "pending_links",
        "call_tags",
        "call_attributes",
    ];
    let table = TABLES.iter().find(|t| **t == name)?;
    let count: i64 =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(conn)
            .await
            .ok()?;
    Some(count.max(0) as u64)
}
