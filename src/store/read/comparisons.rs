//! Reading comparisons back: a run's scorings and their scored items. The
//! records are JSON written by [`crate::compare::scoring`], returned
//! without being read here.

use super::{ReadError, Reader};
use crate::model::comparison::ScoringState;

/// A scoring as stored: a `comparison_scorings` row, decoded by sqlx.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct ScoringRow {
    #[sqlx(rename = "id")]
    pub row_id: i64,
    pub scoring_id: String,
    pub run: i64,
    #[sqlx(try_from = "i64")]
    pub created_at_unix_nano: u64,
    pub finished_at_unix_nano: Option<u64>,
    #[sqlx(try_from = "String")]
    pub state: ScoringState,
    pub error: Option<String>,
    pub spec: String,
}

const SCORING_SELECT: &str = "SELECT id, scoring_id, run, created_at_unix_nano, \
     finished_at_unix_nano, state, error, spec FROM comparison_scorings";

impl Reader {
    /// A run's scorings, newest first.
    pub async fn comparison_scorings(&self, run: i64) -> Result<Vec<ScoringRow>, ReadError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SCORING_SELECT} WHERE run = ? ORDER BY id DESC"
        )))
        .bind(run)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The scored items of a scoring: (replay item row id, record JSON), by item.
    pub async fn comparison_items(&self, scoring: i64) -> Result<Vec<(i64, String)>, ReadError> {
        Ok(sqlx::query_as(
            "SELECT item, record FROM comparison_items WHERE scoring = ? ORDER BY item",
        )
        .bind(scoring)
        .fetch_all(&self.pool)
        .await?)
    }
}
