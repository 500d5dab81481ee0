//! Keeping a database healthy: consistent backups while ingest runs,
//! integrity checks, and where the disk space went.

use std::path::{Path, PathBuf};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};

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
///
/// The copy is written under a temporary name beside `target`, checked
/// (integrity and reprise's schema), flushed to disk, and only then renamed
/// to `target`: a backup killed at any point leaves `target` absent, never a
/// partial file that a later restore could take for a backup.
pub async fn backup(db: &Path, target: &Path) -> Result<u64, MaintenanceError> {
    let target_text = target.display().to_string();
    if target.exists() {
        return Err(MaintenanceError::Exists(target_text));
    }
    let partial = sibling(target, &format!("partial-{}", std::process::id()));
    let written = write_checked_copy(db, &partial).await;
    let bytes = match written {
        Ok(bytes) => bytes,
        Err(error) => {
            remove_with_journal(&partial);
            return Err(error);
        }
    };
    if target.exists() {
        remove_with_journal(&partial);
        return Err(MaintenanceError::Exists(target_text));
    }
    std::fs::rename(&partial, target).map_err(io_error("rename", &partial))?;
    sync_parent(target)?;
    Ok(bytes)
}

async fn write_checked_copy(db: &Path, partial: &Path) -> Result<u64, MaintenanceError> {
    let mut conn = open(db, true).await?;
    sqlx::query("VACUUM INTO ?")
        .bind(partial.display().to_string())
        .execute(&mut conn)
        .await
        .map_err(sql("VACUUM INTO"))?;
    conn.close().await.map_err(sql("closing the database"))?;
    let problems = problems(partial).await?;
    if !problems.is_empty() {
        return Err(MaintenanceError::Corrupt {
            path: partial.display().to_string(),
            problems: problems.join("; "),
        });
    }
    let file = std::fs::File::open(partial).map_err(io_error("open", partial))?;
    file.sync_all().map_err(io_error("flush", partial))?;
    Ok(file.metadata().map_err(io_error("measure", partial))?.len())
}

/// Replaces `db` with the backup at `source`, after checking the backup.
/// The server must be stopped. The old file (with its write-ahead log) is
/// kept as `db.before-restore`, or the first free `db.before-restore.N`:
/// an earlier kept file is never overwritten.
pub async fn restore(source: &Path, db: &Path, force: bool) -> Result<(), MaintenanceError> {
    let problems = problems(source).await?;
    if !problems.is_empty() {
        return Err(MaintenanceError::Corrupt {
            path: source.display().to_string(),
            problems: problems.join("; "),
        });
    }
    if db.exists() {
        if !force {
            return Err(MaintenanceError::Exists(db.display().to_string()));
        }
        let kept = free_name(&sibling(db, "before-restore"));
        std::fs::rename(db, &kept).map_err(io_error("move aside", db))?;
        let wal = side_file(db, "-wal");
        if wal.exists() {
            // Commits not yet checkpointed live in the log: it goes with its file.
            let kept_wal = side_file(&kept, "-wal");
            std::fs::rename(&wal, &kept_wal).map_err(io_error("move aside", &wal))?;
        }
    }
    let shm = side_file(db, "-shm");
    if shm.exists() {
        std::fs::remove_file(&shm).map_err(io_error("remove", &shm))?;
    }
    // Copy next to the target, then rename: the database appears whole or not at all.
    let partial = sibling(db, "restoring");
    std::fs::copy(source, &partial).map_err(io_error("copy", source))?;
    std::fs::File::open(&partial)
        .and_then(|file| file.sync_all())
        .map_err(io_error("flush", &partial))?;
    std::fs::rename(&partial, db).map_err(io_error("rename", &partial))?;
    sync_parent(db)
}

/// Everything wrong with a file that should be a reprise database: what
/// `PRAGMA integrity_check` reports, then what its schema lacks. Empty when
/// it is an intact reprise database that this build can open.
pub async fn problems(db: &Path) -> Result<Vec<String>, MaintenanceError> {
    let mut problems = integrity_problems(db).await?;
    if problems.is_empty() {
        problems.extend(schema_problems(db).await?);
    }
    Ok(problems)
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

/// Whether the file holds reprise's schema: every migration this build
/// knows, applied and unchanged, and none it does not know. An empty file
/// is an intact SQLite database, so integrity alone cannot tell a backup
/// from nothing.
pub async fn schema_problems(db: &Path) -> Result<Vec<String>, MaintenanceError> {
    let mut conn = open(db, true).await?;
    let has_table: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(sql("reading the schema"))?;
    if has_table == 0 {
        conn.close().await.map_err(sql("closing the database"))?;
        return Ok(vec![
            "not a reprise database: it has no migrations table (an empty or foreign file)"
                .to_string(),
        ]);
    }
    let applied: Vec<(i64, Vec<u8>, bool)> =
        sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations")
            .fetch_all(&mut conn)
            .await
            .map_err(sql("reading the migrations table"))?;
    conn.close().await.map_err(sql("closing the database"))?;
    let known: Vec<(i64, &[u8])> = super::MIGRATOR
        .iter()
        .map(|m| (m.version, m.checksum.as_ref()))
        .collect();
    Ok(migration_problems(&known, &applied))
}

fn migration_problems(known: &[(i64, &[u8])], applied: &[(i64, Vec<u8>, bool)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (version, checksum) in known {
        match applied.iter().find(|(v, ..)| v == version) {
            None => problems.push(format!("migration {version} was never applied")),
            Some((_, _, false)) => problems.push(format!("migration {version} failed")),
            Some((_, stored, true)) if stored.as_slice() != *checksum => problems.push(format!(
                "migration {version} differs from this build's (a different program's database?)"
            )),
            Some(_) => {}
        }
    }
    for (version, ..) in applied {
        if !known.iter().any(|(v, _)| v == version) {
            problems.push(format!(
                "migration {version} is unknown to this build (made by a newer reprise?)"
            ));
        }
    }
    problems
}

/// `path` with `.suffix` appended to its file name, in the same folder (so
/// a rename onto `path` is atomic).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    path.with_file_name(name)
}

/// `path` + `-wal`, `-shm` or `-journal`: SQLite's side files.
fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// `path` itself if free, else `path.2`, `path.3`, …
fn free_name(path: &Path) -> PathBuf {
    let mut candidate = path.to_path_buf();
    let mut n = 1;
    while candidate.exists() || side_file(&candidate, "-wal").exists() {
        n += 1;
        candidate = sibling(path, &n.to_string());
    }
    candidate
}

fn remove_with_journal(path: &Path) {
    for file in [path.to_path_buf(), side_file(path, "-journal")] {
        let _ = std::fs::remove_file(file);
    }
}

/// Makes a rename in `path`'s folder durable.
fn sync_parent(path: &Path) -> Result<(), MaintenanceError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error("flush the folder of", path))
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> MaintenanceError {
    let path = path.display().to_string();
    move |source| MaintenanceError::Io { what, path, source }
}

/// Disk used by one table or index.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableSize {
    pub name: String,
    pub bytes: u64,
    pub rows: Option<u64>,
}

/// Bytes of one table or index, summed over its pages in `dbstat`.
#[derive(sqlx::FromRow)]
struct DbstatRow {
    name: String,
    bytes: i64,
}

/// Bytes per table and index (from the `dbstat` virtual table), largest first.
pub async fn table_sizes(db: &Path) -> Result<Vec<TableSize>, MaintenanceError> {
    let mut conn = open(db, true).await?;
    let rows: Vec<DbstatRow> = sqlx::query_as(
        "SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(sql("reading dbstat"))?;
    let mut sizes = Vec::with_capacity(rows.len());
    for DbstatRow { name, bytes } in rows {
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

#[cfg(test)]
mod tests {
    use super::migration_problems;

    #[test]
    fn a_database_with_every_migration_has_no_problem() {
        let known: Vec<(i64, &[u8])> = vec![(1, b"a"), (2, b"b")];
        let applied = vec![(1, b"a".to_vec(), true), (2, b"b".to_vec(), true)];
        assert!(migration_problems(&known, &applied).is_empty());
    }

    #[test]
    fn missing_failed_changed_and_unknown_migrations_are_named() {
        let known: Vec<(i64, &[u8])> = vec![(1, b"a"), (2, b"b"), (3, b"c")];
        let applied = vec![
            (1, b"x".to_vec(), true),
            (2, b"b".to_vec(), false),
            (9, b"z".to_vec(), true),
        ];
        let problems = migration_problems(&known, &applied);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("migration 1 differs"));
        assert!(problems[1].contains("migration 2 failed"));
        assert!(problems[2].contains("migration 3 was never applied"));
        assert!(problems[3].contains("migration 9 is unknown"));
    }
}
