//! The SQL of comparisons: scorings of a replay run and their scored items
//! (see `migrations/0005_comparisons.sql`).
//!
//! Writes travel through the write queue like every other write, in a
//! [`WriteBatch`](crate::store::write::batch::WriteBatch)'s `comparison` list, so a
//! scoring never competes with ingest for the database's one writer. The
//! records themselves are JSON written by [`crate::compare::scoring`]; this
//! module stores and returns them without reading them, so the scorers can
//! gain fields without a migration.

use sqlx::sqlite::SqliteConnection;

use super::error::WriteError;
use crate::model::comparison::ScoringState;

/// One comparison write. Scorings are named by their public id, so a batch
/// can create a scoring and add items to it before knowing its row id.
#[derive(Clone, Debug)]
pub enum ComparisonWrite {
    /// A new scoring of the run with row id `run`, in state `running`.
    CreateScoring {
        scoring_id: String,
        run: i64,
        created_at_unix_nano: u64,
        spec: String,
    },
    /// Scored items (replay item row id, record JSON); an item scored again
    /// in the same scoring replaces its record.
    PutItems {
        scoring_id: String,
        run: i64,
        items: Vec<(i64, String)>,
    },
    /// Ends a scoring: `done`, or `failed` with the reason.
    FinishScoring {
        scoring_id: String,
        state: ScoringState,
        error: Option<String>,
        finished_at_unix_nano: u64,
    },
    /// Puts a finished scoring back to `running` (more items to add).
    ReopenScoring { scoring_id: String },
}

/// Applies a batch's comparison writes, in order; returns rows changed per write.
pub async fn apply(
    conn: &mut SqliteConnection,
    writes: &[ComparisonWrite],
) -> Result<Vec<u64>, WriteError> {
    let mut applied = Vec::with_capacity(writes.len());
    for write in writes {
        let rows = match write {
            ComparisonWrite::CreateScoring {
                scoring_id,
                run,
                created_at_unix_nano,
                spec,
            } => sqlx::query(
                "INSERT INTO comparison_scorings \
                 (scoring_id, run, created_at_unix_nano, state, spec) VALUES (?, ?, ?, 'running', ?)",
            )
            .bind(scoring_id)
            .bind(run)
            .bind(*created_at_unix_nano as i64)
            .bind(spec)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
            ComparisonWrite::PutItems {
                scoring_id,
                run,
                items,
            } => put_items(conn, scoring_id, *run, items).await?,
            ComparisonWrite::FinishScoring {
                scoring_id,
                state,
                error,
                finished_at_unix_nano,
            } => sqlx::query(
                "UPDATE comparison_scorings SET state = ?, error = ?, finished_at_unix_nano = ? \
                 WHERE scoring_id = ?",
            )
            .bind(state.as_str())
            .bind(error)
            .bind(*finished_at_unix_nano as i64)
            .bind(scoring_id)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
            ComparisonWrite::ReopenScoring { scoring_id } => sqlx::query(
                "UPDATE comparison_scorings SET state = 'running', error = NULL, \
                 finished_at_unix_nano = NULL WHERE scoring_id = ?",
            )
            .bind(scoring_id)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
        };
        applied.push(rows);
    }
    Ok(applied)
}

async fn put_items(
    conn: &mut SqliteConnection,
    scoring_id: &str,
    run: i64,
    items: &[(i64, String)],
) -> Result<u64, WriteError> {
    let scoring: Option<i64> =
        sqlx::query_scalar("SELECT id FROM comparison_scorings WHERE scoring_id = ? AND run = ?")
            .bind(scoring_id)
            .bind(run)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(scoring) = scoring else {
        return Err(WriteError::Conflict(format!(
            "scoring {scoring_id} of run {run} does not exist"
        )));
    };
    let mut rows = 0;
    for (item, record) in items {
        rows += sqlx::query(
            "INSERT OR REPLACE INTO comparison_items (run, item, scoring, record) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(run)
        .bind(item)
        .bind(scoring)
        .bind(record)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(rows)
}

/// Rows a list of comparison writes adds, for sizing write groups.
pub fn row_count(writes: &[ComparisonWrite]) -> usize {
    let mut rows = 0;
    for write in writes {
        rows += match write {
            ComparisonWrite::PutItems { items, .. } => items.len(),
            _ => 1,
        };
    }
    rows
}

/// Bytes a list of comparison writes holds, for the queue's byte budget.
pub fn memory_bytes(writes: &[ComparisonWrite]) -> usize {
    let mut bytes = 0;
    for write in writes {
        bytes += match write {
            ComparisonWrite::PutItems { items, .. } => {
                items.iter().map(|(_, record)| record.len() + 16).sum()
            }
            ComparisonWrite::CreateScoring { spec, .. } => spec.len() + 64,
            _ => 64,
        };
    }
    bytes
}
