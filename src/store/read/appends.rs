//! Reading the append log (`ingest_log`): what is pending at start, the
//! exports the deriver takes next, and the pending spans of one trace.

use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::{ReadError, Reader};
use crate::store::backlog::PendingExport;
use crate::store::encoding::pack;
use crate::store::write::appends::ExportKind;
use crate::store::write::statements::chunks;

/// An acknowledged export, decompressed: its protobuf as received.
#[derive(Debug, Clone)]
pub struct PendingAppend {
    pub seq: i64,
    pub project_id: i64,
    pub kind: ExportKind,
    pub received_unix_nano: i64,
    pub protobuf: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct LevelRow {
    seq: i64,
    received_unix_nano: i64,
    items: i64,
    stored_bytes: i64,
    raw_length: i64,
}

#[derive(sqlx::FromRow)]
struct AppendRow {
    seq: i64,
    project_id: i64,
    signal: i64,
    received_unix_nano: i64,
    codec: i64,
    raw_length: i64,
    body: Vec<u8>,
}

impl TryFrom<AppendRow> for PendingAppend {
    type Error = ReadError;

    fn try_from(row: AppendRow) -> Result<Self, ReadError> {
        let kind = ExportKind::from_code(row.signal).ok_or_else(|| {
            ReadError::Corrupt(format!(
                "append {} has unknown signal {}",
                row.seq, row.signal
            ))
        })?;
        let protobuf = pack::decompress(row.codec, row.raw_length.max(0) as usize, &row.body)?;
        Ok(PendingAppend {
            seq: row.seq,
            project_id: row.project_id,
            kind,
            received_unix_nano: row.received_unix_nano,
            protobuf,
        })
    }
}

/// Every pending export's small columns, to load the backlog at start.
pub async fn pending_exports(pool: &SqlitePool) -> Result<Vec<(i64, PendingExport)>, sqlx::Error> {
    let rows: Vec<LevelRow> = sqlx::query_as(
        "SELECT seq, received_unix_nano, items, length(body) AS stored_bytes, raw_length \
         FROM ingest_log ORDER BY seq",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            (
                row.seq,
                PendingExport {
                    received_unix_nano: row.received_unix_nano,
                    items: row.items.max(0) as u64,
                    stored_bytes: row.stored_bytes.max(0) as u64,
                    raw_bytes: row.raw_length.max(0) as u64,
                },
            )
        })
        .collect())
}

impl Reader {
    /// Exports set aside in `ingest_failed` because they cannot be derived.
    pub async fn failed_export_count(&self) -> Result<i64, ReadError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM ingest_failed")
            .fetch_one(&self.pool)
            .await?)
    }

    /// The exports with these `seq`s, oldest first, decompressed.
    pub async fn appends(&self, seqs: &[i64]) -> Result<Vec<PendingAppend>, ReadError> {
        let mut appends = Vec::with_capacity(seqs.len());
        for range in chunks(seqs.len()) {
            let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT seq, project_id, signal, received_unix_nano, codec, raw_length, body \
                 FROM ingest_log WHERE seq IN (",
            );
            let mut separated = query.separated(", ");
            for seq in &seqs[range] {
                separated.push_bind(*seq);
            }
            query.push(") ORDER BY seq");
            let rows: Vec<AppendRow> = query.build_query_as().fetch_all(&self.pool).await?;
            for row in rows {
                appends.push(PendingAppend::try_from(row)?);
            }
        }
        appends.sort_by_key(|append| append.seq);
        Ok(appends)
    }

    /// The pending exports of a project with items of this trace, oldest
    /// first, decompressed. Found by each export's list of trace ids, so
    /// only the exports that hold the trace are read.
    pub async fn pending_exports_of_trace(
        &self,
        project_id: i64,
        trace_id: &[u8],
    ) -> Result<Vec<PendingAppend>, ReadError> {
        // A match may straddle two ids of the list; the caller keeps only
        // the items of the trace, so such an export costs a decode, no more.
        let seqs: Vec<i64> = sqlx::query_scalar(
            "SELECT seq FROM ingest_log WHERE project_id = ? AND instr(trace_ids, ?) > 0 \
             ORDER BY seq",
        )
        .bind(project_id)
        .bind(trace_id)
        .fetch_all(&self.pool)
        .await?;
        let mut found = Vec::new();
        for seq in seqs {
            let row: Option<AppendRow> = sqlx::query_as(
                "SELECT seq, project_id, signal, received_unix_nano, codec, raw_length, body \
                 FROM ingest_log WHERE seq = ?",
            )
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
            // Gone: derived meanwhile, and read from the derived tables.
            let Some(row) = row else { continue };
            found.push(PendingAppend::try_from(row)?);
        }
        Ok(found)
    }
}
