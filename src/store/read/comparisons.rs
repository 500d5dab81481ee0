//! Reading comparisons back: a run's scorings and their scored items. The
//! records are JSON written by [`crate::compare::scoring`], returned
//! without being read here.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{ReadError, Reader};
use crate::model::comparison::ScoringState;

/// A scoring as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoringRow {
    pub row_id: i64,
    pub scoring_id: String,
    pub run: i64,
    pub created_at_unix_nano: u64,
    pub finished_at_unix_nano: Option<u64>,
    pub state: ScoringState,
    pub error: Option<String>,
    pub spec: String,
}

const SCORING_SELECT: &str = "SELECT id, scoring_id, run, created_at_unix_nano, \
     finished_at_unix_nano, state, error, spec FROM comparison_scorings";

fn scoring_from_row(row: &SqliteRow) -> Result<ScoringRow, ReadError> {
    let state: String = row.try_get("state")?;
    let state = ScoringState::parse(&state)
        .ok_or_else(|| ReadError::Corrupt(format!("comparison scoring state {state:?}")))?;
    Ok(ScoringRow {
        row_id: row.try_get("id")?,
        scoring_id: row.try_get("scoring_id")?,
        run: row.try_get("run")?,
        created_at_unix_nano: row.try_get::<i64, _>("created_at_unix_nano")? as u64,
        finished_at_unix_nano: row
            .try_get::<Option<i64>, _>("finished_at_unix_nano")?
            .map(|t| t as u64),
        state,
        error: row.try_get("error")?,
        spec: row.try_get("spec")?,
    })
}

impl Reader {
    /// A run's scorings, newest first.
    pub async fn comparison_scorings(&self, run: i64) -> Result<Vec<ScoringRow>, ReadError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SCORING_SELECT} WHERE run = ? ORDER BY id DESC"
        )))
        .bind(run)
        .fetch_all(&self.pool)
        .await?;
        let mut scorings = Vec::with_capacity(rows.len());
        for row in &rows {
            scorings.push(scoring_from_row(row)?);
        }
        Ok(scorings)
    }

    /// The scored items of a scoring: (replay item row id, record JSON), by item.
    pub async fn comparison_items(&self, scoring: i64) -> Result<Vec<(i64, String)>, ReadError> {
        let rows = sqlx::query(
            "SELECT item, record FROM comparison_items WHERE scoring = ? ORDER BY item",
        )
        .bind(scoring)
        .fetch_all(&self.pool)
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            items.push((row.try_get("item")?, row.try_get("record")?));
        }
        Ok(items)
    }
}
