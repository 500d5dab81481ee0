//! Retention's write: one round of deletion, planned by
//! [`crate::store::prune`] on the read side and carried out here, inside the
//! writer's savepoint for the batch that carries the plan.

use crate::store::encoding::codec::BlobHash;
use crate::store::encoding::pack::PackSlot;

/// One round of deletion, prepared outside the writer.
#[derive(Debug, Clone, Default)]
pub struct PrunePlan {
    /// Every pack written at or before this time goes.
    pub cutoff_unix_nano: i64,
    /// Rows of those packs have no higher ids (see `mark_row_watermarks`).
    pub span_rows_through: i64,
    pub log_rows_through: i64,
    pub call_rows_through: i64,
    /// Blobs last referenced at or before this time are deleted; the others
    /// in the doomed packs were relocated.
    pub dead_through_unix_nano: i64,
    /// Live blobs moved to the batch's new pack.
    pub relocated: Vec<(BlobHash, PackSlot)>,
    /// The latest `last_seen` among the relocated blobs: the new pack's date.
    pub relocated_seen_unix_nano: i64,
    /// Blobs that go (for the cache).
    pub dead: Vec<BlobHash>,
}

/// Why the writer refused a prune batch.
pub const BLOB_BECAME_LIVE: &str = "a blob to be deleted was referenced again";

/// The writer's part: runs inside the batch's savepoint.
pub async fn execute(
    conn: &mut sqlx::SqliteConnection,
    plan: &PrunePlan,
    pack_ids: &[i64],
) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    for (table, through) in [
        ("spans", plan.span_rows_through),
        ("log_records", plan.log_rows_through),
        ("calls", plan.call_rows_through),
    ] {
        deleted += sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE id <= ? AND pack_id IN \
             (SELECT id FROM packs WHERE created_at_unix_nano <= ?)"
        )))
        .bind(through)
        .bind(plan.cutoff_unix_nano)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    // The relocation pack is dated by its blobs' last use, so it goes with
    // the data that uses them, and never before this round's cutoff.
    for pack_id in pack_ids {
        sqlx::query("UPDATE packs SET created_at_unix_nano = ? WHERE id = ?")
            .bind(plan.relocated_seen_unix_nano.max(plan.cutoff_unix_nano + 1))
            .bind(pack_id)
            .execute(&mut *conn)
            .await?;
    }
    for (hash, slot) in &plan.relocated {
        sqlx::query("UPDATE blobs SET pack_id = ?, pack_offset = ?, length = ? WHERE hash = ?")
            .bind(pack_ids[slot.pack])
            .bind(slot.offset as i64)
            .bind(slot.length as i64)
            .bind(hash.as_slice())
            .execute(&mut *conn)
            .await?;
    }
    let doomed = "SELECT id FROM packs WHERE created_at_unix_nano <= ?";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM blobs WHERE pack_id IN ({doomed}) AND last_seen_unix_nano <= ?"
    )))
    .bind(plan.cutoff_unix_nano)
    .bind(plan.dead_through_unix_nano)
    .execute(&mut *conn)
    .await?;
    let stranded: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM blobs WHERE pack_id IN ({doomed})"
    )))
    .bind(plan.cutoff_unix_nano)
    .fetch_one(&mut *conn)
    .await?;
    if stranded > 0 {
        return Err(sqlx::Error::Protocol(BLOB_BECAME_LIVE.into()));
    }
    sqlx::query("DELETE FROM packs WHERE created_at_unix_nano <= ?")
        .bind(plan.cutoff_unix_nano)
        .execute(&mut *conn)
        .await?;
    Ok(deleted)
}
