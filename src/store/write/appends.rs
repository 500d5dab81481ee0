//! The append log (`ingest_log`): exports stored as received, before their
//! acknowledgement, and deleted in the transaction that stores what was
//! derived from them.

use sqlx::QueryBuilder;
use sqlx::sqlite::{Sqlite, SqliteConnection};

use super::error::WriteError;
use super::statements::chunks;
use crate::store::backlog::PendingExport;
use crate::store::encoding::pack::EncodedPack;

/// Which export request an append holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Traces,
    Logs,
}

impl ExportKind {
    pub fn code(self) -> i64 {
        match self {
            ExportKind::Traces => 1,
            ExportKind::Logs => 2,
        }
    }

    pub fn from_code(code: i64) -> Option<ExportKind> {
        match code {
            1 => Some(ExportKind::Traces),
            2 => Some(ExportKind::Logs),
            _ => None,
        }
    }
}

/// An acknowledged export as it is appended: its protobuf, compressed.
#[derive(Debug, Clone)]
pub struct NewAppend {
    pub kind: ExportKind,
    pub received_unix_nano: i64,
    /// Spans or log records it carries.
    pub items: u64,
    /// The distinct trace ids of its items, 16 bytes each.
    pub trace_ids: Vec<u8>,
    pub body: EncodedPack,
}

impl NewAppend {
    pub fn pending(&self) -> PendingExport {
        PendingExport {
            received_unix_nano: self.received_unix_nano,
            items: self.items,
            stored_bytes: self.body.data.len() as u64,
            raw_bytes: self.body.raw_length as u64,
        }
    }
}

/// Appends the exports; returns the `seq` each got, in order.
pub async fn append(
    conn: &mut SqliteConnection,
    project_id: i64,
    appends: &[NewAppend],
) -> Result<Vec<i64>, WriteError> {
    let mut seqs = Vec::with_capacity(appends.len());
    for append in appends {
        let seq = sqlx::query(
            "INSERT INTO ingest_log (project_id, signal, received_unix_nano, items, codec, \
             raw_length, trace_ids, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(project_id)
        .bind(append.kind.code())
        .bind(append.received_unix_nano)
        .bind(append.items as i64)
        .bind(append.body.codec)
        .bind(append.body.raw_length as i64)
        .bind(append.trace_ids.as_slice())
        .bind(append.body.data.as_slice())
        .execute(&mut *conn)
        .await?
        .last_insert_rowid();
        seqs.push(seq);
    }
    Ok(seqs)
}

/// Deletes the appends a batch was derived from. Every one must still be
/// there: one that is gone was derived already, and deriving it again
/// would count its calls twice, so the batch fails instead.
///
/// The rows hold exports as received, before redaction: SQLite is told to
/// overwrite their freed pages with zeros, so no secret stays behind in
/// the file's free space.
pub async fn remove_derived(conn: &mut SqliteConnection, seqs: &[i64]) -> Result<(), WriteError> {
    if seqs.is_empty() {
        return Ok(());
    }
    sqlx::query("PRAGMA secure_delete = ON")
        .execute(&mut *conn)
        .await?;
    let removed = remove(conn, seqs).await;
    sqlx::query("PRAGMA secure_delete = OFF")
        .execute(&mut *conn)
        .await?;
    removed
}

/// Moves exports that cannot be derived to `ingest_failed`, with why.
pub async fn quarantine(
    conn: &mut SqliteConnection,
    failed: &[(i64, String)],
    now: i64,
) -> Result<(), WriteError> {
    for (seq, error) in failed {
        let moved = sqlx::query(
            "INSERT INTO ingest_failed (seq, project_id, signal, received_unix_nano, items, \
             codec, raw_length, failed_at_unix_nano, error, body) \
             SELECT seq, project_id, signal, received_unix_nano, items, codec, raw_length, ?, ?, \
             body FROM ingest_log WHERE seq = ?",
        )
        .bind(now)
        .bind(error)
        .bind(seq)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if moved != 1 {
            return Err(WriteError::Conflict(format!(
                "export {seq} is no longer pending"
            )));
        }
    }
    let seqs: Vec<i64> = failed.iter().map(|(seq, _)| *seq).collect();
    remove(conn, &seqs).await
}

async fn remove(conn: &mut SqliteConnection, seqs: &[i64]) -> Result<(), WriteError> {
    for range in chunks(seqs.len()) {
        let slice = &seqs[range];
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new("DELETE FROM ingest_log WHERE seq IN (");
        let mut separated = query.separated(", ");
        for seq in slice {
            separated.push_bind(*seq);
        }
        query.push(")");
        let deleted = query.build().execute(&mut *conn).await?.rows_affected();
        if deleted as usize != slice.len() {
            return Err(WriteError::Conflict(format!(
                "{} of {} exports were derived already",
                slice.len() - deleted as usize,
                slice.len()
            )));
        }
    }
    Ok(())
}
