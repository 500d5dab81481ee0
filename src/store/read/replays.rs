//! Replay runs and their items read back, for the replay API, the executor
//! and comparisons. Their writes are in `store/replays.rs`.

use std::collections::HashMap;

use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{FromRow as _, QueryBuilder, Row};

use super::{ReadError, Reader};
use crate::model::CallId;
use crate::model::replay::{Item, ItemState, RunState, StoredRun};

const RUN_SELECT: &str = "SELECT id, run_id, project_id, name, created_at_unix_nano, \
    finished_at_unix_nano, state, stop_reason, spec FROM replay_runs";

const ITEM_SELECT: &str = "SELECT id, original_call_id, target, repetition, state, attempts, \
    last_error, error_class, result_call_id, latency_ms, ttft_ms, input_tokens, output_tokens, \
    cost_usd, estimated_cost_usd, tools_missing FROM replay_items";

/// A `replay_runs` row as sqlx decodes it.
#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    run_id: String,
    project_id: i64,
    name: Option<String>,
    #[sqlx(try_from = "i64")]
    created_at_unix_nano: u64,
    finished_at_unix_nano: Option<i64>,
    #[sqlx(try_from = "String")]
    state: RunState,
    stop_reason: Option<String>,
    spec: String,
}

fn run_from_row(row: &SqliteRow) -> Result<StoredRun, ReadError> {
    let run = RunRow::from_row(row)?;
    Ok(StoredRun {
        row_id: run.id,
        id: run.run_id,
        project_id: run.project_id,
        name: run.name,
        created_at_unix_nano: run.created_at_unix_nano,
        finished_at_unix_nano: run.finished_at_unix_nano.map(|t| t as u64),
        state: run.state,
        stop_reason: run.stop_reason,
        spec: run.spec,
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

/// A `replay_items` row as sqlx decodes it.
#[derive(sqlx::FromRow)]
struct ItemRow {
    id: i64,
    original_call_id: Vec<u8>,
    target: String,
    #[sqlx(try_from = "i64")]
    repetition: u32,
    #[sqlx(try_from = "String")]
    state: ItemState,
    #[sqlx(try_from = "i64")]
    attempts: u32,
    last_error: Option<String>,
    error_class: Option<String>,
    result_call_id: Option<Vec<u8>>,
    latency_ms: Option<f64>,
    ttft_ms: Option<f64>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cost_usd: Option<f64>,
    estimated_cost_usd: Option<f64>,
    tools_missing: bool,
}

fn item_from_row(row: &SqliteRow) -> Result<Item, ReadError> {
    let item = ItemRow::from_row(row)?;
    Ok(Item {
        row_id: item.id,
        original_call_id: call_id_column(Some(item.original_call_id))?
            .ok_or_else(|| ReadError::Corrupt("item without call id".into()))?,
        target: item.target,
        repetition: item.repetition,
        state: item.state,
        attempts: item.attempts,
        error: item.last_error,
        error_class: item.error_class,
        result_call_id: call_id_column(item.result_call_id)?,
        latency_ms: item.latency_ms,
        ttft_ms: item.ttft_ms,
        input_tokens: item.input_tokens,
        output_tokens: item.output_tokens,
        cost_usd: item.cost_usd,
        estimated_cost_usd: item.estimated_cost_usd,
        tools_missing: item.tools_missing,
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
        rows.iter().map(run_from_row).collect()
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
        rows.iter().map(run_from_row).collect()
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
        rows.iter().map(item_from_row).collect()
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
        rows.iter().map(item_from_row).collect()
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
