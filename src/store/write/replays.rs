//! The writes of replay runs that the writer applies: creating a run,
//! leases, claims, results, cancellation. Their reads are in
//! `read/replays.rs`.
//!
//! Writes travel in a [`WriteBatch`](crate::store::write::batch::WriteBatch) like any
//! other, so a replay result (the result call's rows and packs) and its
//! item's state change commit in one transaction. A result is applied only
//! while its item is still `running` under the same lease owner; otherwise
//! the batch fails with [`WriteError::Conflict`] and its result call is
//! rolled back with it, which is what makes results exactly-once: an item
//! that a crashed or cancelled executor left behind can be replayed again,
//! but never stored twice.

use sqlx::QueryBuilder;
use sqlx::sqlite::{Sqlite, SqliteConnection};

use super::error::WriteError;
use super::statements::chunks;
use crate::model::CallId;
use crate::model::replay::{ItemState, RunState};

/// A new run and its items.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub run_id: String,
    pub name: Option<String>,
    pub created_at_unix_nano: u64,
    /// The run's spec as JSON; replay writes and parses it.
    pub spec: String,
    /// The executor that created the run holds its lease from the start,
    /// so no other process picks it up before it does.
    pub lease_owner: Option<String>,
    pub lease_expires_unix_nano: u64,
    /// (original call, target, repetition)
    pub items: Vec<(CallId, String, u32)>,
}

/// How one item ended, written with its result call.
#[derive(Clone, Debug, Default)]
pub struct ItemFinish {
    pub item_id: i64,
    pub owner: String,
    /// `Done` or `Failed`.
    pub state: Option<ItemState>,
    /// Provider requests made for it, retries included.
    pub attempts: u32,
    pub error: Option<String>,
    /// What kind of failure `error` is (see `replay_items.error_class`).
    pub error_class: Option<String>,
    pub result_call_id: Option<CallId>,
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub estimated_cost_usd: Option<f64>,
    /// The original answered with a tool call but recorded no tool
    /// definitions, so it went out without tools ([`Call::tools_missing`]).
    ///
    /// [`Call::tools_missing`]: crate::model::Call::tools_missing
    pub tools_missing: bool,
}

/// One replay write. Each is applied in its batch's savepoint; see
/// [`ReplayApplied`] for what each reports.
#[derive(Clone, Debug)]
pub enum ReplayWrite {
    CreateRun(Box<NewRun>),
    /// Takes the run's lease if it is free, expired or already ours, and
    /// puts back to `pending` the items a previous owner left `running`.
    /// Reports 1 row when the lease is ours.
    ClaimRun {
        run_id: String,
        owner: String,
        now_unix_nano: u64,
        lease_expires_unix_nano: u64,
    },
    /// Extends our lease; reports 1 row while the run is still running and ours.
    RenewLease {
        run_id: String,
        owner: String,
        lease_expires_unix_nano: u64,
    },
    /// Gives the lease up and puts our unfinished items back to `pending`.
    ReleaseRun {
        run_id: String,
        owner: String,
    },
    /// Marks pending items `running` under our lease; reports the ids claimed.
    ClaimItems {
        run_id: String,
        owner: String,
        item_ids: Vec<i64>,
    },
    /// Ends an item; the batch fails with a conflict unless the item is
    /// still running under this owner.
    FinishItem(Box<ItemFinish>),
    /// Ends a run that is still running and ours: `Done`, or `Stopped` by
    /// a budget guard, in which case its pending items are cancelled with
    /// `reason` (running ones finish). Releases the lease.
    FinishRun {
        run_id: String,
        owner: String,
        state: RunState,
        reason: Option<String>,
        now_unix_nano: u64,
    },
    /// Cancels a running run, whoever executes it: its pending and running
    /// items become `cancelled` (results still in flight are then refused).
    /// Reports 1 row when the run was running.
    CancelRun {
        project_id: i64,
        run_id: String,
        now_unix_nano: u64,
    },
}

/// What one replay write did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayApplied {
    pub rows: u64,
    /// For `ClaimItems`: the items claimed.
    pub ids: Vec<i64>,
}

/// Applies a batch's replay writes, in order.
pub async fn apply(
    conn: &mut SqliteConnection,
    project_id: i64,
    writes: &[ReplayWrite],
    now_unix_nano: i64,
) -> Result<Vec<ReplayApplied>, WriteError> {
    let mut applied = Vec::with_capacity(writes.len());
    for write in writes {
        let outcome = match write {
            ReplayWrite::CreateRun(run) => create_run(conn, project_id, run, now_unix_nano).await?,
            ReplayWrite::ClaimRun {
                run_id,
                owner,
                now_unix_nano: now,
                lease_expires_unix_nano,
            } => claim_run(conn, run_id, owner, *now, *lease_expires_unix_nano).await?,
            ReplayWrite::RenewLease {
                run_id,
                owner,
                lease_expires_unix_nano,
            } => {
                let rows = sqlx::query(
                    "UPDATE replay_runs SET lease_expires_unix_nano = ? \
                     WHERE run_id = ? AND lease_owner = ? AND state = 'running'",
                )
                .bind(*lease_expires_unix_nano as i64)
                .bind(run_id)
                .bind(owner)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                ReplayApplied {
                    rows,
                    ids: Vec::new(),
                }
            }
            ReplayWrite::ReleaseRun { run_id, owner } => {
                release_run(conn, run_id, owner, now_unix_nano).await?
            }
            ReplayWrite::ClaimItems {
                run_id,
                owner,
                item_ids,
            } => claim_items(conn, run_id, owner, item_ids, now_unix_nano).await?,
            ReplayWrite::FinishItem(finish) => finish_item(conn, finish, now_unix_nano).await?,
            ReplayWrite::FinishRun {
                run_id,
                owner,
                state,
                reason,
                now_unix_nano: now,
            } => finish_run(conn, run_id, owner, *state, reason.as_deref(), *now).await?,
            ReplayWrite::CancelRun {
                project_id,
                run_id,
                now_unix_nano: now,
            } => cancel_run(conn, *project_id, run_id, *now).await?,
        };
        applied.push(outcome);
    }
    Ok(applied)
}

/// Rows a batch of replay writes adds, for sizing write groups.
pub fn row_count(writes: &[ReplayWrite]) -> usize {
    let mut rows = 0;
    for write in writes {
        rows += match write {
            ReplayWrite::CreateRun(run) => run.items.len() + 1,
            ReplayWrite::ClaimItems { item_ids, .. } => item_ids.len(),
            _ => 1,
        };
    }
    rows
}

async fn create_run(
    conn: &mut SqliteConnection,
    project_id: i64,
    run: &NewRun,
    now: i64,
) -> Result<ReplayApplied, WriteError> {
    let spec = &run.spec;
    let row_id = sqlx::query(
        "INSERT INTO replay_runs (run_id, project_id, name, created_at_unix_nano, state, spec, \
         lease_owner, lease_expires_unix_nano) VALUES (?, ?, ?, ?, 'running', ?, ?, ?)",
    )
    .bind(&run.run_id)
    .bind(project_id)
    .bind(run.name.as_deref())
    .bind(run.created_at_unix_nano as i64)
    .bind(spec)
    .bind(run.lease_owner.as_deref())
    .bind(run.lease_expires_unix_nano as i64)
    .execute(&mut *conn)
    .await?
    .last_insert_rowid();
    for range in chunks(run.items.len()) {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO replay_items (run, original_call_id, target, repetition, state, \
             updated_at_unix_nano) ",
        );
        query.push_values(
            &run.items[range],
            |mut row, (call_id, target, repetition)| {
                row.push_bind(row_id)
                    .push_bind(call_id.to_bytes().to_vec())
                    .push_bind(target.clone())
                    .push_bind(*repetition as i64)
                    .push_bind("pending")
                    .push_bind(now);
            },
        );
        query.build().execute(&mut *conn).await?;
    }
    Ok(ReplayApplied {
        rows: 1,
        ids: vec![row_id],
    })
}

async fn claim_run(
    conn: &mut SqliteConnection,
    run_id: &str,
    owner: &str,
    now: u64,
    lease_expires: u64,
) -> Result<ReplayApplied, WriteError> {
    let rows = sqlx::query(
        "UPDATE replay_runs SET lease_owner = ?1, lease_expires_unix_nano = ?2 \
         WHERE run_id = ?3 AND state = 'running' AND (lease_owner IS NULL OR lease_owner = ?1 \
         OR lease_expires_unix_nano IS NULL OR lease_expires_unix_nano < ?4)",
    )
    .bind(owner)
    .bind(lease_expires as i64)
    .bind(run_id)
    .bind(now as i64)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if rows == 1 {
        // Whatever was running belonged to an executor that is gone (or to
        // us before a restart): it runs again.
        sqlx::query(
            "UPDATE replay_items SET state = 'pending', lease_owner = NULL, updated_at_unix_nano = ? \
             WHERE run = (SELECT id FROM replay_runs WHERE run_id = ?) AND state = 'running'",
        )
        .bind(now as i64)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(ReplayApplied {
        rows,
        ids: Vec::new(),
    })
}

async fn release_run(
    conn: &mut SqliteConnection,
    run_id: &str,
    owner: &str,
    now: i64,
) -> Result<ReplayApplied, WriteError> {
    sqlx::query(
        "UPDATE replay_items SET state = 'pending', lease_owner = NULL, updated_at_unix_nano = ? \
         WHERE run = (SELECT id FROM replay_runs WHERE run_id = ?) AND state = 'running' \
         AND lease_owner = ?",
    )
    .bind(now)
    .bind(run_id)
    .bind(owner)
    .execute(&mut *conn)
    .await?;
    let rows = sqlx::query(
        "UPDATE replay_runs SET lease_owner = NULL, lease_expires_unix_nano = NULL \
         WHERE run_id = ? AND lease_owner = ?",
    )
    .bind(run_id)
    .bind(owner)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(ReplayApplied {
        rows,
        ids: Vec::new(),
    })
}

async fn claim_items(
    conn: &mut SqliteConnection,
    run_id: &str,
    owner: &str,
    item_ids: &[i64],
    now: i64,
) -> Result<ReplayApplied, WriteError> {
    let mut claimed = Vec::with_capacity(item_ids.len());
    for range in chunks(item_ids.len()) {
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new("UPDATE replay_items SET state = 'running', lease_owner = ");
        query
            .push_bind(owner.to_owned())
            .push(", updated_at_unix_nano = ")
            .push_bind(now)
            .push(" WHERE state = 'pending' AND run = (SELECT id FROM replay_runs WHERE run_id = ")
            .push_bind(run_id.to_owned())
            .push(" AND lease_owner = ")
            .push_bind(owner.to_owned())
            .push(" AND state = 'running') AND id IN (");
        let mut separated = query.separated(", ");
        for id in &item_ids[range] {
            separated.push_bind(*id);
        }
        query.push(") RETURNING id");
        claimed.extend(
            query
                .build_query_scalar::<i64>()
                .fetch_all(&mut *conn)
                .await?,
        );
    }
    Ok(ReplayApplied {
        rows: claimed.len() as u64,
        ids: claimed,
    })
}

async fn finish_item(
    conn: &mut SqliteConnection,
    finish: &ItemFinish,
    now: i64,
) -> Result<ReplayApplied, WriteError> {
    let state = match finish.state {
        Some(state @ (ItemState::Done | ItemState::Failed)) => state,
        _ => {
            return Err(WriteError::Invalid(
                "an item can only finish done or failed",
            ));
        }
    };
    let rows = sqlx::query(
        "UPDATE replay_items SET state = ?, attempts = attempts + ?, last_error = ?, \
         error_class = ?, result_call_id = ?, latency_ms = ?, ttft_ms = ?, input_tokens = ?, output_tokens = ?, \
         cost_usd = ?, estimated_cost_usd = ?, tools_missing = ?, lease_owner = NULL, updated_at_unix_nano = ? \
         WHERE id = ? AND state = 'running' AND lease_owner = ?",
    )
    .bind(state.as_str())
    .bind(finish.attempts as i64)
    .bind(finish.error.as_deref())
    .bind(finish.error_class.as_deref())
    .bind(finish.result_call_id.map(|id| id.to_bytes().to_vec()))
    .bind(finish.latency_ms)
    .bind(finish.ttft_ms)
    .bind(finish.input_tokens)
    .bind(finish.output_tokens)
    .bind(finish.cost_usd)
    .bind(finish.estimated_cost_usd)
    .bind(finish.tools_missing)
    .bind(now)
    .bind(finish.item_id)
    .bind(&finish.owner)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if rows != 1 {
        return Err(WriteError::Conflict(format!(
            "replay item {} is no longer running here (the run was cancelled or another executor took it over); its result is discarded",
            finish.item_id
        )));
    }
    Ok(ReplayApplied {
        rows,
        ids: Vec::new(),
    })
}

async fn finish_run(
    conn: &mut SqliteConnection,
    run_id: &str,
    owner: &str,
    state: RunState,
    reason: Option<&str>,
    now: u64,
) -> Result<ReplayApplied, WriteError> {
    let rows = sqlx::query(
        "UPDATE replay_runs SET state = ?, stop_reason = ?, finished_at_unix_nano = ?, \
         lease_owner = NULL, lease_expires_unix_nano = NULL \
         WHERE run_id = ? AND lease_owner = ? AND state = 'running'",
    )
    .bind(state.as_str())
    .bind(reason)
    .bind(now as i64)
    .bind(run_id)
    .bind(owner)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if rows == 1 && state == RunState::Stopped {
        sqlx::query(
            "UPDATE replay_items SET state = 'cancelled', last_error = ?, updated_at_unix_nano = ? \
             WHERE run = (SELECT id FROM replay_runs WHERE run_id = ?) AND state = 'pending'",
        )
        .bind(reason)
        .bind(now as i64)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(ReplayApplied {
        rows,
        ids: Vec::new(),
    })
}

async fn cancel_run(
    conn: &mut SqliteConnection,
    project_id: i64,
    run_id: &str,
    now: u64,
) -> Result<ReplayApplied, WriteError> {
    let rows = sqlx::query(
        "UPDATE replay_runs SET state = 'cancelled', stop_reason = 'cancelled', \
         finished_at_unix_nano = ?, lease_owner = NULL, lease_expires_unix_nano = NULL \
         WHERE project_id = ? AND run_id = ? AND state = 'running'",
    )
    .bind(now as i64)
    .bind(project_id)
    .bind(run_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if rows == 1 {
        sqlx::query(
            "UPDATE replay_items SET state = 'cancelled', last_error = 'cancelled', \
             lease_owner = NULL, updated_at_unix_nano = ? \
             WHERE run = (SELECT id FROM replay_runs WHERE run_id = ?) \
             AND state IN ('pending', 'running')",
        )
        .bind(now as i64)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(ReplayApplied {
        rows,
        ids: Vec::new(),
    })
}
