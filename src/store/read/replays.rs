//! Replay runs and their items read back, for the replay API, the executor
//! and comparisons. Their writes are in `store/replays.rs`.

use std::collections::HashMap;

use sqlx::QueryBuilder;
use sqlx::sqlite::Sqlite;

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

impl From<RunRow> for StoredRun {
    fn from(run: RunRow) -> Self {
        StoredRun {
            row_id: run.id,
            id: run.run_id,
            project_id: run.project_id,
            name: run.name,
            created_at_unix_nano: run.created_at_unix_nano,
            finished_at_unix_nano: run.finished_at_unix_nano.map(|t| t as u64),
            state: run.state,
            stop_reason: run.stop_reason,
            spec: run.spec,
        }
    }
}

/// A `replay_items` row as sqlx decodes it.
#[derive(sqlx::FromRow)]
struct ItemRow {
    id: i64,
    original_call_id: CallId,
    target: String,
    #[sqlx(try_from = "i64")]
    repetition: u32,
    #[sqlx(try_from = "String")]
    state: ItemState,
    #[sqlx(try_from = "i64")]
    attempts: u32,
    last_error: Option<String>,
    error_class: Option<String>,
    result_call_id: Option<CallId>,
    latency_ms: Option<f64>,
    ttft_ms: Option<f64>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cost_usd: Option<f64>,
    estimated_cost_usd: Option<f64>,
    tools_missing: bool,
}

impl From<ItemRow> for Item {
    fn from(item: ItemRow) -> Self {
        Item {
            row_id: item.id,
            original_call_id: item.original_call_id,
            target: item.target,
            repetition: item.repetition,
            state: item.state,
            attempts: item.attempts,
            error: item.last_error,
            error_class: item.error_class,
            result_call_id: item.result_call_id,
            latency_ms: item.latency_ms,
            ttft_ms: item.ttft_ms,
            input_tokens: item.input_tokens,
            output_tokens: item.output_tokens,
            cost_usd: item.cost_usd,
            estimated_cost_usd: item.estimated_cost_usd,
            tools_missing: item.tools_missing,
        }
    }
}

/// Items of a run in one state for one target, counted.
#[derive(sqlx::FromRow)]
struct ItemCountRow {
    target: String,
    #[sqlx(try_from = "String")]
    state: ItemState,
    n: i64,
}

/// An original call of a run, with the row id of its first item.
#[derive(sqlx::FromRow)]
struct OriginalRow {
    original_call_id: CallId,
    first_id: i64,
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
        let rows: Vec<RunRow> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(StoredRun::from).collect())
    }

    pub async fn replay_run(
        &self,
        project_id: i64,
        run_id: &str,
    ) -> Result<Option<StoredRun>, ReadError> {
        let row: Option<RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{RUN_SELECT} WHERE project_id = ? AND run_id = ?"
        )))
        .bind(project_id)
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(StoredRun::from))
    }

    /// Running runs whose lease is free, expired or already `owner`'s.
    pub async fn replay_runs_to_execute(
        &self,
        owner: &str,
        now_unix_nano: u64,
    ) -> Result<Vec<StoredRun>, ReadError> {
        let rows: Vec<RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{RUN_SELECT} WHERE state = 'running' AND (lease_owner IS NULL OR lease_owner = ? \
             OR lease_expires_unix_nano IS NULL OR lease_expires_unix_nano < ?) ORDER BY id"
        )))
        .bind(owner)
        .bind(now_unix_nano as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(StoredRun::from).collect())
    }

    pub async fn replay_item_counts(&self, run_row_id: i64) -> Result<ItemCounts, ReadError> {
        let rows: Vec<ItemCountRow> = sqlx::query_as(
            "SELECT target, state, COUNT(*) AS n FROM replay_items WHERE run = ? \
             GROUP BY target, state",
        )
        .bind(run_row_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| ((row.target, row.state), row.n as u64))
            .collect())
    }

    /// Every finished item of a run (done or failed), for summaries and budgets.
    pub async fn replay_finished_items(&self, run_row_id: i64) -> Result<Vec<Item>, ReadError> {
        let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{ITEM_SELECT} WHERE run = ? AND state IN ('done', 'failed') ORDER BY id"
        )))
        .bind(run_row_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Item::from).collect())
    }

    /// Pending items of one target of a run, after row id `after`, oldest first.
    pub async fn replay_pending_items(
        &self,
        run_row_id: i64,
        target: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Item>, ReadError> {
        let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{ITEM_SELECT} WHERE run = ? AND state = 'pending' AND target = ? AND id > ? \
             ORDER BY id LIMIT ?"
        )))
        .bind(run_row_id)
        .bind(target)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Item::from).collect())
    }

    /// A page of results: the items of up to `limit` original calls, in
    /// the order the run selected them, after the item row id `after`.
    pub async fn replay_results(
        &self,
        run_row_id: i64,
        limit: usize,
        after: Option<i64>,
    ) -> Result<ResultPage, ReadError> {
        let originals: Vec<OriginalRow> = sqlx::query_as(
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
        for (i, original) in originals.iter().enumerate() {
            if i == limit {
                next_cursor = Some(originals[i - 1].first_id);
                break;
            }
            let call_id = original.original_call_id;
            let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{ITEM_SELECT} WHERE run = ? AND original_call_id = ? ORDER BY target, repetition"
            )))
            .bind(run_row_id)
            .bind(call_id.to_bytes().as_slice())
            .fetch_all(&self.pool)
            .await?;
            groups.push((call_id, rows.into_iter().map(Item::from).collect()));
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
            found.extend(
                query
                    .build_query_scalar::<CallId>()
                    .fetch_all(&self.pool)
                    .await?,
            );
        }
        Ok(found)
    }
}
