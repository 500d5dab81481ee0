//! Whether the store can serve at all: the database file reads from a fresh
//! connection, and the writer is alive and not stuck on one group. This is
//! what `/healthz` answers for, so a load balancer sees a dead database or
//! writer instead of a process that merely runs.

use std::time::Duration;

use sqlx::{ConnectOptions as _, Connection as _};

use super::Store;

/// A writer busy with one group for longer than this is stuck: groups are
/// bounded in rows, and commit in well under a second on a healthy disk.
const STUCK_AFTER: Duration = Duration::from_secs(30);

/// A database that does not answer a fresh connection within this is down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, thiserror::Error)]
pub enum Problem {
    #[error("the writer has stopped: nothing can be stored; restart the server")]
    WriterStopped,
    #[error("the writer has been busy with one commit for {} s", .busy_for.as_secs())]
    WriterStuck { busy_for: Duration },
    #[error("the database cannot be read: {0}")]
    DatabaseUnreadable(String),
}

impl Problem {
    /// Which part failed, safe to tell a caller who may not read details.
    pub fn component(&self) -> &'static str {
        match self {
            Problem::WriterStopped | Problem::WriterStuck { .. } => "writer",
            Problem::DatabaseUnreadable(_) => "database",
        }
    }
}

impl Store {
    /// The first problem found, or `None` when the store can serve.
    pub async fn problem(&self) -> Option<Problem> {
        if self.queue.writer_stopped() {
            return Some(Problem::WriterStopped);
        }
        if let Some(busy_for) = self.queue.busy_for()
            && busy_for > STUCK_AFTER
        {
            return Some(Problem::WriterStuck { busy_for });
        }
        match tokio::time::timeout(PROBE_TIMEOUT, self.probe_database()).await {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(Problem::DatabaseUnreadable(error.to_string())),
            Err(_) => Some(Problem::DatabaseUnreadable(format!(
                "no answer within {} s",
                PROBE_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Reads the schema through a connection of its own: the pooled ones
    /// may answer from pages they cached before the file went bad.
    async fn probe_database(&self) -> Result<(), sqlx::Error> {
        let mut conn = super::read_only_options(&self.path, 64)?.connect().await?;
        sqlx::query("SELECT count(*) FROM sqlite_master")
            .fetch_one(&mut conn)
            .await?;
        conn.close().await
    }
}
