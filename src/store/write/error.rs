//! Why a write failed, at the bottom of the writing layer: every kind of
//! write and the writer task answer with it.

use crate::error_code::ErrorCode;

#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("the write queue is full; retry after a short wait")]
    QueueFull,
    #[error("the store is shutting down")]
    ShuttingDown,
    #[error("referenced content {0} is no longer stored; retry the request")]
    MissingBlob(String),
    #[error("internal error: {0}")]
    Invalid(&'static str),
    #[error("the database is full; retry after retention frees space")]
    Full,
    #[error("the database refused the write: {0}")]
    Database(String),
    /// The data no longer applies (a replay result for an item that was
    /// cancelled or taken over meanwhile); sending it again cannot help.
    #[error("{0}")]
    Conflict(String),
}

impl WriteError {
    /// The refusal's row in the one error table, for a client whose write
    /// this was.
    pub fn code(&self) -> ErrorCode {
        match self {
            WriteError::QueueFull => ErrorCode::Overloaded,
            WriteError::Invalid(_) => ErrorCode::Internal,
            WriteError::Conflict(_) => ErrorCode::Conflict,
            WriteError::ShuttingDown
            | WriteError::MissingBlob(_)
            | WriteError::Full
            | WriteError::Database(_) => ErrorCode::Unavailable,
        }
    }

    /// Whether this process should send the same data again itself (a
    /// replay or scoring write loop). Not the client's retry advice: a
    /// store that is shutting down is worth retrying for a client, never
    /// for the process that is stopping.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            WriteError::ShuttingDown | WriteError::Invalid(_) | WriteError::Conflict(_)
        )
    }
}

impl From<sqlx::Error> for WriteError {
    fn from(error: sqlx::Error) -> Self {
        // SQLITE_FULL: the disk, or the configured hard limit, is full.
        let full = error
            .as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|code| code == "13");
        if full {
            return WriteError::Full;
        }
        WriteError::Database(error.to_string())
    }
}
