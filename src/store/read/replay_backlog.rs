//! How much replay work is left, over every project: what `GET /metrics`
//! reports as the replay gauges at each scrape. Read from the database
//! rather than counted by the executor, so runs executed by another
//! process on the same file (`reprise replay` beside the server) and runs
//! waiting for a restart are included.

use crate::store::ReadError;
use crate::store::read::Reader;

/// Unfinished replay work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayBacklog {
    /// Runs in state `running` (executing, or waiting for a process to
    /// take them up).
    pub runs_unfinished: i64,
    /// Items `pending` or `running` in those runs, by target name; targets
    /// with none are absent.
    pub items_by_target: Vec<(String, i64)>,
}

impl Reader {
    pub async fn replay_backlog(&self) -> Result<ReplayBacklog, ReadError> {
        let runs_unfinished =
            sqlx::query_scalar("SELECT COUNT(*) FROM replay_runs WHERE state = 'running'")
                .fetch_one(&self.pool)
                .await?;
        // Finished runs are skipped through the partial index on running
        // runs; items of a running run through (run, state, target).
        let items_by_target = sqlx::query_as(
            "SELECT i.target, COUNT(*) FROM replay_runs r \
             JOIN replay_items i ON i.run = r.id AND i.state IN ('pending', 'running') \
             WHERE r.state = 'running' \
             GROUP BY i.target ORDER BY i.target",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(ReplayBacklog {
            runs_unfinished,
            items_by_target,
        })
    }
}
