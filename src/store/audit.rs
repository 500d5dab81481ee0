//! `reprise check --find TEXT`: where, if anywhere, a piece of text is
//! stored. For auditors proving that a secret never reached the disk, and
//! for tests of redaction.
//!
//! Four looks, since each alone can miss: every text and blob column of
//! every table (what SQLite returns, whole even when a value spans
//! overflow pages), every pack decompressed (content is zstd-compressed
//! there, so its bytes never show in the file), every export not yet
//! derived, decompressed (`ingest_log`, before redaction), and the raw bytes of the
//! database file and its write-ahead log (freed pages and old WAL frames
//! still hold what was deleted or overwritten).

use std::path::{Path, PathBuf};

use sqlx::Connection as _;

use super::maintenance::{MaintenanceError, open_read_only};
use super::read::PackRow;
use crate::store::encoding::pack;

/// One place the text was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// In `count` values of a column.
    Column {
        table: String,
        column: String,
        count: u64,
    },
    /// In a decompressed pack, `count` times.
    Pack { pack_id: i64, count: usize },
    /// In an acknowledged export not yet derived, `count` times.
    PendingExport { seq: i64, count: usize },
    /// In a file's raw bytes, `count` times.
    File { path: PathBuf, count: usize },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Column {
                table,
                column,
                count,
            } => write!(f, "table {table}, column {column}: {count} rows"),
            Finding::Pack { pack_id, count } => {
                write!(f, "pack {pack_id} (decompressed): {count} times")
            }
            Finding::PendingExport { seq, count } => write!(
                f,
                "export {seq}, acknowledged and not yet derived (decompressed): {count} times"
            ),
            Finding::File { path, count } => {
                write!(f, "file {} (raw bytes): {count} times", path.display())
            }
        }
    }
}

/// Every place `needle` occurs in the database `db`.
pub async fn find(db: &Path, needle: &[u8]) -> Result<Vec<Finding>, MaintenanceError> {
    let mut findings = Vec::new();
    if needle.is_empty() {
        return Ok(findings);
    }
    let mut conn = open_read_only(db).await?;
    findings.extend(find_in_columns(&mut conn, needle).await?);
    findings.extend(find_in_packs(&mut conn, needle).await?);
    findings.extend(find_in_pending_exports(&mut conn, needle).await?);
    conn.close().await.map_err(sql("closing the database"))?;
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    for path in [db.to_path_buf(), PathBuf::from(wal)] {
        let count = count_in_file(&path, needle)?;
        if count > 0 {
            findings.push(Finding::File { path, count });
        }
    }
    Ok(findings)
}

fn sql(what: &'static str) -> impl FnOnce(sqlx::Error) -> MaintenanceError {
    move |source| MaintenanceError::Sql { what, source }
}

async fn find_in_columns(
    conn: &mut sqlx::SqliteConnection,
    needle: &[u8],
) -> Result<Vec<Finding>, MaintenanceError> {
    // Virtual tables (full-text) are skipped: their shadow tables, which
    // hold their data, are ordinary tables and are searched.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' \
         AND sql NOT LIKE 'CREATE VIRTUAL%' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(sql("listing tables"))?;
    let mut findings = Vec::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
            .bind(&table)
            .fetch_all(&mut *conn)
            .await
            .map_err(sql("listing columns"))?;
        for column in columns {
            let query = format!(
                "SELECT COUNT(*) FROM {} WHERE instr(CAST({} AS BLOB), ?) > 0",
                quote(&table),
                quote(&column)
            );
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
                .bind(needle)
                .fetch_one(&mut *conn)
                .await
                .map_err(sql("searching a column"))?;
            if count > 0 {
                findings.push(Finding::Column {
                    table: table.clone(),
                    column,
                    count: count as u64,
                });
            }
        }
    }
    Ok(findings)
}

/// An SQL identifier, quoted: names come from the schema, but a quote in
/// one must not end the identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn find_in_packs(
    conn: &mut sqlx::SqliteConnection,
    needle: &[u8],
) -> Result<Vec<Finding>, MaintenanceError> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM packs ORDER BY id")
        .fetch_all(&mut *conn)
        .await
        .map_err(sql("listing packs"))?;
    let finder = memchr::memmem::Finder::new(needle);
    let mut findings = Vec::new();
    // One pack in memory at a time: a database may hold gigabytes of them.
    for pack_id in ids {
        let row: PackRow = sqlx::query_as("SELECT codec, raw_length, data FROM packs WHERE id = ?")
            .bind(pack_id)
            .fetch_one(&mut *conn)
            .await
            .map_err(sql("reading a pack"))?;
        let raw_length = row.raw_length.max(0) as usize;
        let raw = pack::decompress(row.codec, raw_length, &row.data).map_err(|e| {
            MaintenanceError::Corrupt {
                path: format!("pack {pack_id}"),
                problems: e.to_string(),
            }
        })?;
        let count = finder.find_iter(&raw).count();
        if count > 0 {
            findings.push(Finding::Pack { pack_id, count });
        }
    }
    Ok(findings)
}

async fn find_in_pending_exports(
    conn: &mut sqlx::SqliteConnection,
    needle: &[u8],
) -> Result<Vec<Finding>, MaintenanceError> {
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM ingest_log ORDER BY seq")
        .fetch_all(&mut *conn)
        .await
        .map_err(sql("listing pending exports"))?;
    let finder = memchr::memmem::Finder::new(needle);
    let mut findings = Vec::new();
    for seq in seqs {
        let row: PackRow =
            sqlx::query_as("SELECT codec, raw_length, body AS data FROM ingest_log WHERE seq = ?")
                .bind(seq)
                .fetch_one(&mut *conn)
                .await
                .map_err(sql("reading a pending export"))?;
        let raw = pack::decompress(row.codec, row.raw_length.max(0) as usize, &row.data).map_err(
            |e| MaintenanceError::Corrupt {
                path: format!("pending export {seq}"),
                problems: e.to_string(),
            },
        )?;
        let count = finder.find_iter(&raw).count();
        if count > 0 {
            findings.push(Finding::PendingExport { seq, count });
        }
    }
    Ok(findings)
}

/// Reads the file in chunks, overlapping by the needle's length less one,
/// so a database of any size is searched in bounded memory.
fn count_in_file(path: &Path, needle: &[u8]) -> Result<usize, MaintenanceError> {
    use std::io::Read as _;
    const CHUNK: usize = 8 << 20;
    let io_error = |source| MaintenanceError::Io {
        what: "read",
        path: path.display().to_string(),
        source,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => return Err(io_error(source)),
    };
    let finder = memchr::memmem::Finder::new(needle);
    let keep = needle.len() - 1;
    let mut buffer = Vec::with_capacity(CHUNK + keep);
    let mut count = 0;
    loop {
        let start = buffer.len();
        buffer.resize(start + CHUNK, 0);
        let read = file.read(&mut buffer[start..]).map_err(io_error)?;
        buffer.truncate(start + read);
        if read == 0 {
            return Ok(count);
        }
        count += finder.find_iter(&buffer).count();
        // Keep the tail that could begin a match finishing in the next
        // chunk; it is too short to hold a whole match, so none is counted twice.
        let tail_from = buffer.len().saturating_sub(keep);
        buffer.drain(..tail_from);
    }
}
