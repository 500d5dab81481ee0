//! The SQL of replay runs: the writes the writer applies (creating a run,
//! leases, claims, results, cancellation) and the reads behind the replay
//! API and the executor.
//!
//! Writes travel in a [`WriteBatch`](super::batch::WriteBatch) like any
//! other, so a replay result (the result call's rows and packs) and its
//! item's state change commit in one transaction. A result is applied only
//! while its item is still `running` under the same lease owner; otherwise
//! the batch fails with [`WriteError::Conflict`] and its result call is
//! rolled back with it, which is what makes results exactly-once: an item
//! that a crashed or cancelled executor left behind can be replayed again,
//! but never stored twice.

use std::collections::HashMap;

use sqlx::sqlite::{Sqlite, SqliteConnection, SqliteRow};
use sqlx::{QueryBuilder, Row};

use super::read::{ReadError, Reader};
use super::writer::{WriteError, chunks};
use crate::model::CallId;
use crate::model::replay::{Item, ItemState, RunState, StoredRun};

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
        for row in query.build().fetch_all(&mut *conn).await? {
            claimed.push(row.try_get::<i64, _>("id")?);
        }
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

// ---------------------------------------------------------------------------
// Reads

const RUN_SELECT: &str = "SELECT id, run_id, project_id, name, created_at_unix_nano, \
    finished_at_unix_nano, state, stop_reason, spec FROM replay_runs";

const ITEM_SELECT: &str = "SELECT id, original_call_id, target, repetition, state, attempts, \
    last_error, error_class, result_call_id, latency_ms, ttft_ms, input_tokens, output_tokens, \
    cost_usd, estimated_cost_usd, tools_missing FROM replay_items";

fn run_from_row(row: &SqliteRow) -> Result<StoredRun, ReadError> {
    let state: String = row.try_get("state")?;
    let spec: String = row.try_get("spec")?;
    Ok(StoredRun {
        row_id: row.try_get("id")?,
        id: row.try_get("run_id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        created_at_unix_nano: row.try_get::<i64, _>("created_at_unix_nano")? as u64,
        finished_at_unix_nano: row
            .try_get::<Option<i64>, _>("finished_at_unix_nano")?
            .map(|t| t as u64),
        state: RunState::parse(&state)
            .ok_or_else(|| ReadError::Corrupt(format!("replay run state {state:?}")))?,
        stop_reason: row.try_get("stop_reason")?,
        spec,
    })
}

fn call_id_column(bytes: Option<Vec<u8>>) -> Result<Option<CallId>, ReadError> {
    match bytes {
        None => Ok(None),
        Some(bytes) => CallId::from_bytes(&bytes)
            .map(Some)
            .ok_or_else(|| ReadError::Corrupt("call id is not 16 bytes".into())),
    }
}

fn item_from_row(row: &SqliteRow) -> Result<Item, ReadError> {
    let state: String = row.try_get("state")?;
    let original: Vec<u8> = row.try_get("original_call_id")?;
    Ok(Item {
        row_id: row.try_get("id")?,
        original_call_id: call_id_column(Some(original))?
            .ok_or_else(|| ReadError::Corrupt("item without call id".into()))?,
        target: row.try_get("target")?,
        repetition: row.try_get::<i64, _>("repetition")? as u32,
        state: ItemState::parse(&state)
            .ok_or_else(|| ReadError::Corrupt(format!("replay item state {state:?}")))?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        error: row.try_get("last_error")?,
        error_class: row.try_get("error_class")?,
        result_call_id: call_id_column(row.try_get("result_call_id")?)?,
        latency_ms: row.try_get("latency_ms")?,
        ttft_ms: row.try_get("ttft_ms")?,
        input_tokens: row.try_get("input_tokens")?,
        output_tokens: row.try_get("output_tokens")?,
        cost_usd: row.try_get("cost_usd")?,
        estimated_cost_usd: row.try_get("estimated_cost_usd")?,
        tools_missing: row.try_get("tools_missing")?,
    })
}

/// Item counts of a run, by target and state.
pub type ItemCounts = HashMap<(String, ItemState), u64>;

/// One page of a run's results: the items of a few original calls.
pub struct ResultPage {
    /// Original calls in the order they were first selected, each with its items.
    pub groups: Vec<(CallId, Vec<Item>)>,
    /// The item row id after which the next page starts.
    pub next_cursor: Option<i64>,
}

impl Reader {
    /// Runs, newest first, starting after the run with row id `before`.
    pub async fn replay_runs(
        &self,
        project_id: i64,
        limit: usize,
        before: Option<i64>,
    ) -> Result<Vec<StoredRun>, ReadError> {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(RUN_SELECT);
        query.push(" WHERE project_id = ").push_bind(project_id);
        if let Some(before) = before {
            query.push(" AND id < ").push_bind(before);
        }
        query
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(limit as i64);
        let rows = query.build().fetch_all(&self.pool).await?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in &rows {
            runs.push(run_from_row(row)?);
        }
        Ok(runs)
    }

    pub async fn replay_run(
        &self,
        project_id: i64,
        run_id: &str,
    ) -> Result<Option<StoredRun>, ReadError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{RUN_SELECT} WHERE project_id = ? AND run_id = ?"
        )))
        .bind(project_id)
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// Running runs whose lease is free, expired or already `owner`'s.
    pub async fn replay_runs_to_execute(
        &self,
        owner: &str,
        now_unix_nano: u64,
    ) -> Result<Vec<StoredRun>, ReadError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{RUN_SELECT} WHERE state = 'running' AND (lease_owner IS NULL OR lease_owner = ? \
             OR lease_expires_unix_nano IS NULL OR lease_expires_unix_nano < ?) ORDER BY id"
        )))
        .bind(owner)
        .bind(now_unix_nano as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in &rows {
            runs.push(run_from_row(row)?);
        }
        Ok(runs)
    }

    pub async fn replay_item_counts(&self, run_row_id: i64) -> Result<ItemCounts, ReadError> {
        let rows = sqlx::query(
            "SELECT target, state, COUNT(*) AS n FROM replay_items WHERE run = ? \
             GROUP BY target, state",
        )
        .bind(run_row_id)
        .fetch_all(&self.pool)
        .await?;
        let mut counts = ItemCounts::new();
        for row in rows {
            let state: String = row.try_get("state")?;
            let state = ItemState::parse(&state)
                .ok_or_else(|| ReadError::Corrupt(format!("replay item state {state:?}")))?;
            counts.insert(
                (row.try_get("target")?, state),
                row.try_get::<i64, _>("n")? as u64,
            );
        }
        Ok(counts)
    }

    /// Every finished item of a run (done or failed), for summaries and budgets.
    pub async fn replay_finished_items(&self, run_row_id: i64) -> Result<Vec<Item>, ReadError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ITEM_SELECT} WHERE run = ? AND state IN ('done', 'failed') ORDER BY id"
        )))
        .bind(run_row_id)
        .fetch_all(&self.pool)
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            items.push(item_from_row(row)?);
        }
        Ok(items)
    }

    /// Pending items of one target of a run, after row id `after`, oldest first.
    pub async fn replay_pending_items(
        &self,
        run_row_id: i64,
        target: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Item>, ReadError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ITEM_SELECT} WHERE run = ? AND state = 'pending' AND target = ? AND id > ? \
             ORDER BY id LIMIT ?"
        )))
        .bind(run_row_id)
        .bind(target)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            items.push(item_from_row(row)?);
        }
        Ok(items)
    }

    /// A page of results: the items of up to `limit` original calls, in
    /// the order the run selected them, after the item row id `after`.
    pub async fn replay_results(
        &self,
        run_row_id: i64,
        limit: usize,
        after: Option<i64>,
    ) -> Result<ResultPage, ReadError> {
        let originals = sqlx::query(
            "SELECT original_call_id, MIN(id) AS first_id FROM replay_items WHERE run = ? \
             GROUP BY original_call_id HAVING MIN(id) > ? ORDER BY first_id LIMIT ?",
        )
        .bind(run_row_id)
        .bind(after.unwrap_or(0))
        .bind(limit as i64 + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut groups = Vec::new();
        let mut next_cursor = None;
        for (i, row) in originals.iter().enumerate() {
            if i == limit {
                next_cursor = Some(originals[i - 1].try_get::<i64, _>("first_id")?);
                break;
            }
            let original: Vec<u8> = row.try_get("original_call_id")?;
            let call_id = call_id_column(Some(original.clone()))?
                .ok_or_else(|| ReadError::Corrupt("item without call id".into()))?;
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "{ITEM_SELECT} WHERE run = ? AND original_call_id = ? ORDER BY target, repetition"
            )))
            .bind(run_row_id)
            .bind(original)
            .fetch_all(&self.pool)
            .await?;
            let mut items = Vec::with_capacity(rows.len());
            for row in &rows {
                items.push(item_from_row(row)?);
            }
            groups.push((call_id, items));
        }
        Ok(ResultPage {
            groups,
            next_cursor,
        })
    }

    /// Which of `ids` are stored calls of the project.
    pub async fn existing_call_ids(
        &self,
        project_id: i64,
        ids: &[CallId],
    ) -> Result<Vec<CallId>, ReadError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut query: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT call_id FROM calls WHERE project_id = ");
            query.push_bind(project_id).push(" AND call_id IN (");
            let mut separated = query.separated(", ");
            for id in chunk {
                separated.push_bind(id.to_bytes().to_vec());
            }
            query.push(")");
            for row in query.build().fetch_all(&self.pool).await? {
                if let Some(id) = call_id_column(row.try_get("call_id")?)? {
                    found.push(id);
                }
            }
        }
        Ok(found)
    }
}
