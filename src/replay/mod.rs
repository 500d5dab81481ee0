//! Replay: recorded calls sent again to other models, with the new answers
//! kept beside the originals.
//!
//! A run ([`run`]) is a selection of recorded calls ([`select`]), the
//! targets to send them to ([`TargetSpec`]), a number of repetitions and a
//! budget ([`Budget`]); what it takes to talk to a target lives in
//! [`crate::targets`]. [`create_run`] resolves the selection once and
//! stores the run with one item per call × target × repetition, so its
//! progress lives in the database: a run survives a restart and resumes
//! where it stopped.
//!
//! The [`executor`] does the work. It holds a lease on each run it
//! executes, so one process at a time runs a run (the server in the
//! background, or `reprise replay` on the same file beside it). Per target
//! it claims pending items, translates each original call into the
//! target's wire format ([`request_body`](crate::targets::request::request_body):
//! the recorded request itself when it is already in that format, else the
//! canonical call translated), sends it within the target's concurrency and
//! rate limits with retries ([`crate::targets::limits`]), and turns the answer into a canonical call with
//! `source = replay` ([`outcome`]). The [`sink`] commits each result call
//! together with its item's new state in one transaction, through the same
//! write queue as ingest, backing off when that queue is busy so ingest
//! always has room. [`summary`] reads progress and per-target figures back.

pub mod cli;
pub mod executor;
pub mod outcome;
pub mod run;
pub mod select;
pub mod sink;
pub mod summary;

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::model::CallId;
pub(crate) use crate::model::time::now_unix_nano;
use crate::store::write::replays::{NewRun, ReplayApplied, ReplayWrite};
use crate::store::{ReadError, Store, WriteError, WriteSummary};
use crate::targets::{Budget, TargetError, TargetSpec};
use run::{Run, RunSpec, Selection};

pub use executor::{Engine, Executor};
pub use run::{ItemState, RunState};

/// Most repetitions of one call per target.
pub const MAX_REPEAT: u32 = 100;
/// Most items one run may hold.
pub const MAX_ITEMS: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Selection(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("cannot store the replay: {0}")]
    Write(#[from] WriteError),
    #[error("replay run {0} not found")]
    RunNotFound(String),
}

/// What a user asks for when starting a run.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub name: Option<String>,
    pub selection: Selection,
    pub targets: Vec<TargetSpec>,
    pub repeat: u32,
    pub overrides: Map<String, Json>,
    pub budget: Budget,
    pub stream: bool,
    /// Parameters every target may lose (see [`RunSpec::allow_drop`]).
    pub allow_drop: BTreeSet<String>,
}

/// A run just stored, with what its user should know before it runs.
#[derive(Clone, Debug)]
pub struct CreatedRun {
    pub run: Run,
    pub warnings: Vec<RunWarning>,
}

/// Something about the selected calls that makes the run say less than
/// its user may expect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RunWarning {
    /// `tools_missing`.
    pub kind: &'static str,
    /// Calls it applies to, among those checked.
    pub calls: u64,
    /// Calls checked: the first [`CHECKED_FOR_WARNINGS`] selected.
    pub checked: u64,
    pub selected: u64,
    pub message: String,
}

/// Selected calls read for warnings at creation. A larger selection is
/// judged by its first ones; its items still say which went without tools.
pub const CHECKED_FOR_WARNINGS: usize = 200;

/// Checks a request, selects its calls and stores the run with its items.
/// `lease_owner` is the executor that will run it, which holds the lease
/// from the start.
pub async fn create_run(
    store: &Store,
    project_id: i64,
    request: RunRequest,
    lease_owner: Option<&str>,
) -> Result<CreatedRun, ReplayError> {
    validate(&request)?;
    let calls = select::select(&store.reader, project_id, &request.selection).await?;
    if calls.len() > select::MAX_SELECTED_CALLS {
        return Err(ReplayError::Selection(format!(
            "{} calls selected, at most {} per run; narrow the filters or use sample",
            calls.len(),
            select::MAX_SELECTED_CALLS
        )));
    }
    let item_count = calls.len() * request.targets.len() * request.repeat as usize;
    if item_count > MAX_ITEMS {
        return Err(ReplayError::Selection(format!(
            "{item_count} items (calls × targets × repeat), at most {MAX_ITEMS} per run"
        )));
    }
    let warnings = warnings(store, project_id, &calls).await?;
    let mut items = Vec::with_capacity(item_count);
    for call in &calls {
        for repetition in 0..request.repeat {
            for target in &request.targets {
                items.push((*call, target.name.clone(), repetition));
            }
        }
    }
    let now = now_unix_nano();
    let run_id = run::new_run_id();
    let spec = RunSpec {
        targets: request.targets,
        repeat: request.repeat,
        overrides: request.overrides,
        budget: request.budget,
        stream: request.stream,
        selection: request.selection,
        allow_drop: request.allow_drop,
    };
    let spec = serde_json::to_string(&spec).map_err(|error| {
        ReplayError::Invalid(format!("the run cannot be stored as JSON: {error}"))
    })?;
    let new_run = NewRun {
        run_id: run_id.clone(),
        name: request.name,
        created_at_unix_nano: now,
        spec,
        lease_owner: lease_owner.map(str::to_owned),
        lease_expires_unix_nano: now + executor::LEASE.as_nanos() as u64,
        items,
    };
    write_replay(
        store,
        project_id,
        vec![ReplayWrite::CreateRun(Box::new(new_run))],
    )
    .await?;
    let run = run::read_run(&store.reader, project_id, &run_id)
        .await?
        .ok_or(ReplayError::RunNotFound(run_id))?;
    Ok(CreatedRun { run, warnings })
}

/// Reads the first selected calls and warns about those replayed without
/// the tools their answer used.
async fn warnings(
    store: &Store,
    project_id: i64,
    calls: &[CallId],
) -> Result<Vec<RunWarning>, ReplayError> {
    let checked = &calls[..calls.len().min(CHECKED_FOR_WARNINGS)];
    let mut missing = 0u64;
    for id in checked {
        if let Some(call) = store.reader.call(project_id, *id).await?
            && call.tools_missing()
        {
            missing += 1;
        }
    }
    if missing == 0 {
        return Ok(Vec::new());
    }
    let of = if checked.len() == calls.len() {
        format!("{missing} of the {} selected calls", calls.len())
    } else {
        format!(
            "{missing} of the first {} of {} selected calls",
            checked.len(),
            calls.len()
        )
    };
    Ok(vec![RunWarning {
        kind: "tools_missing",
        calls: missing,
        checked: checked.len() as u64,
        selected: calls.len() as u64,
        message: format!(
            "{of} will be sent without tools: {}",
            summary::TOOLS_MISSING_ADVICE
        ),
    }])
}

fn validate(request: &RunRequest) -> Result<(), ReplayError> {
    if request.targets.is_empty() {
        return Err(ReplayError::Invalid(
            "name at least one target (--target NAME, or --target-url and --target-model)".into(),
        ));
    }
    let mut names = BTreeSet::new();
    for target in &request.targets {
        if !names.insert(target.name.as_str()) {
            return Err(ReplayError::Invalid(format!(
                "target `{}` is named twice",
                target.name
            )));
        }
    }
    if request.repeat == 0 || request.repeat > MAX_REPEAT {
        return Err(ReplayError::Invalid(format!(
            "repeat must be between 1 and {MAX_REPEAT}"
        )));
    }
    if let Some(max) = request.budget.max_cost_usd {
        if !(max.is_finite() && max >= 0.0) {
            return Err(ReplayError::Invalid(
                "max_cost_usd must be a number of dollars, 0 or more".into(),
            ));
        }
        let unpriced: Vec<&str> = request
            .targets
            .iter()
            .filter(|t| t.price.is_none())
            .map(|t| t.name.as_str())
            .collect();
        if !unpriced.is_empty() {
            return Err(ReplayError::Invalid(format!(
                "a cost budget needs a price for every target; set [targets.NAME.price] for {}",
                unpriced.join(", ")
            )));
        }
    }
    Ok(())
}

/// Cancels a running run. `Ok(false)` when it had already finished.
pub async fn cancel_run(store: &Store, project_id: i64, run_id: &str) -> Result<bool, ReplayError> {
    let applied = write_replay(
        store,
        project_id,
        vec![ReplayWrite::CancelRun {
            project_id,
            run_id: run_id.to_owned(),
            now_unix_nano: now_unix_nano(),
        }],
    )
    .await?;
    Ok(applied.first().is_some_and(|a| a.rows == 1))
}

/// Writes replay rows through the write queue and waits for the commit,
/// waiting while the queue is busy so ingest keeps its room.
pub(crate) async fn write_replay(
    store: &Store,
    project_id: i64,
    writes: Vec<ReplayWrite>,
) -> Result<Vec<ReplayApplied>, WriteError> {
    let mut delay = Duration::from_millis(5);
    let mut attempt = 1;
    loop {
        store.queue.wait_for_half_room().await;
        let batch = crate::store::write::batch::WriteBatch {
            project_id,
            replay: writes.clone(),
            ..Default::default()
        };
        match submit(store, batch).await {
            Ok(summary) => return Ok(summary.replay),
            Err(error) if error.is_retryable() && attempt < WRITE_ATTEMPTS => {
                tracing::debug!(%error, attempt, "replay write refused; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Tries of one replay write before its error is reported (a full queue
/// waits between tries, so this spans several seconds).
pub(crate) const WRITE_ATTEMPTS: u32 = 30;

async fn submit(
    store: &Store,
    batch: crate::store::write::batch::WriteBatch,
) -> Result<WriteSummary, WriteError> {
    let done = store.queue.submit(batch)?;
    done.await.map_err(|_| WriteError::ShuttingDown)?
}
