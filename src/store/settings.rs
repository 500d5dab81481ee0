//! Named settings kept in the database (the `settings` table): what the
//! server records for the commands that work on its file without it.

use std::path::Path;

use crate::model::time::now_unix_nano_i64 as now_unix_nano;
use sqlx::{ConnectOptions as _, Connection as _, SqlitePool};

/// The redaction file's text the server was last started with (empty for
/// the built-in policy).
pub const REDACTION_POLICY: &str = "redaction_policy";

/// The setting's value, if it was ever recorded.
pub(super) async fn get(pool: &SqlitePool, name: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM settings WHERE name = ?")
        .bind(name)
        .fetch_optional(pool)
        .await
}

/// Records a setting through a connection of its own: it is written once at
/// start, beside the writer, which holds no transaction while idle.
pub async fn set(db: &Path, name: &str, value: &str) -> Result<(), sqlx::Error> {
    let mut conn = super::connect_options(db, true)?.connect().await?;
    sqlx::query(
        "INSERT INTO settings (name, value, updated_at_unix_nano) VALUES (?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
         updated_at_unix_nano = excluded.updated_at_unix_nano",
    )
    .bind(name)
    .bind(value)
    .bind(now_unix_nano())
    .execute(&mut conn)
    .await?;
    conn.close().await
}
