//! Executes runs.
//!
//! An [`Engine`] is one process's replay machinery: its lease owner id,
//! an HTTP client and the result [`Sink`]. The server's [`Executor`] task
//! looks for running runs whose lease is free or expired (a run created
//! through the API, or left behind by a process that died), takes the
//! lease and executes them in the background; `reprise replay` executes
//! its own run in-process with [`Engine::execute`].
//!
//! Executing a run: a lease keeper renews the lease every second (and
//! notices when the run was cancelled or taken over); per target, a
//! claimer reads the pending items, loads and translates each original
//! call, checks the budget and claims the items a batch at a time, a little
//! ahead of need, and a sender hands each claimed item to an item task as
//! soon as the target's concurrency limit has a free slot.
//! An item task paces itself to the target's rate, sends, retries what is
//! retryable with backoff (honouring `Retry-After`), frees its slot as soon
//! as the answer is in, and hands the result to the sink, which commits it
//! with the item's new state.
//!
//! On shutdown the items in flight are abandoned and put back to `pending`
//! with the lease released, so the next start resumes them at once; after
//! a crash they stay `running` under a lease that expires within [`LEASE`],
//! and whoever takes the run over next puts them back to `pending`. Either
//! way an item whose answer arrived but was not committed is sent again,
//! and one that was committed is never sent again: results are stored
//! exactly once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value as Json;
use tokio::sync::{Notify, OwnedSemaphorePermit, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::outcome::{self, ReplayOf};
use super::run::{Item, ItemState, Run, RunState};
use super::sink::{ItemResult, Sink};
use super::{ReplayError, now_unix_nano, summary, write_replay};
use crate::ingest::Ingest;
use crate::metrics::{self, ReplayOutcome};
use crate::model::project::Project;
use crate::model::{Call, CallId};
use crate::providers::{ProviderError, ProviderResponse, TargetParams, client};
use crate::store::write::replays::{ItemFinish, ReplayWrite};
use crate::store::{ReadError, Store, WriteError};
use crate::targets::budget::{self, Estimate, Ledger};
use crate::targets::limits::{Backoff, Limiter};
use crate::targets::request::request_body;
use crate::targets::send::{Sender, Sent, Slots};
use crate::targets::spec::TargetSpec;

// The four stages the module doc names: the engine and its lease (here),
// the server's scan for runs to execute, one run's claimers and senders,
// and one item's send and commit. They share this module's imports.
mod dispatch;
mod item;
mod scan;

use dispatch::*;
use item::*;
pub use scan::Executor;

/// How long a lease lasts without renewal: how long a run left behind by a
/// crashed process waits before another takes it over.
pub const LEASE: Duration = Duration::from_secs(6);
/// How often a lease is renewed (and cancellation noticed).
const RENEW_EVERY: Duration = Duration::from_secs(1);
/// How often the server's executor looks for runs to take up.
const SCAN_EVERY: Duration = Duration::from_secs(1);
/// Pending items read per query.
const PAGE: usize = 256;
/// Most items claimed in one write.
const MAX_CLAIM: usize = 64;
/// Most items claimed but not yet sent, per target: enough to cover a
/// claim's commit at full speed, few enough that a crash leaves little
/// claimed and unsent (whoever takes the run over puts it back to pending).
const CLAIM_AHEAD: usize = MAX_CLAIM;
/// Original calls kept in memory per run (repetitions and targets reuse them).
const ORIGINALS_CACHED: usize = 4096;
/// Connect timeout of the HTTP client.
const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// Rounds of dispatching per execution, in case items turn pending again.
const MAX_ROUNDS: usize = 3;

/// How an execution of a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The run finished in this state.
    Finished(RunState),
    /// Told to stop (shutdown): the lease was given back, the run resumes later.
    Released,
    /// The run was cancelled or another process took it over.
    Lost,
}

/// One process's replay machinery.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    ingest: Ingest,
    owner: String,
    client: reqwest::Client,
    sink: Sink,
    backoff: Backoff,
}

impl Engine {
    /// An engine writing through `ingest`'s store. The returned task is the
    /// result sink's; it ends once every clone of the engine is dropped.
    pub fn new(ingest: Ingest) -> Result<(Engine, JoinHandle<()>), ProviderError> {
        let client = client::build_client(CONNECT_TIMEOUT_MS)?;
        let (sink, sink_task) = Sink::spawn(ingest.clone());
        let owner = format!("{}-{}", std::process::id(), ulid::Ulid::new());
        let engine = Engine {
            inner: Arc::new(EngineInner {
                ingest,
                owner,
                client,
                sink,
                backoff: Backoff::default(),
            }),
        };
        Ok((engine, sink_task))
    }

    /// The lease owner id of this process.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    pub fn store(&self) -> &Store {
        &self.inner.ingest.store
    }

    pub fn project_id(&self) -> i64 {
        self.inner.ingest.project_id
    }

    /// Executes one run until it finishes or `stop` turns true. While
    /// another process holds the run's lease, waits for it to finish or
    /// give the run up.
    pub async fn execute(
        &self,
        run_id: &str,
        mut stop: watch::Receiver<bool>,
    ) -> Result<RunEnd, ReplayError> {
        loop {
            let run = super::run::read_run(&self.store().reader, self.project_id(), run_id)
                .await?
                .ok_or_else(|| ReplayError::RunNotFound(run_id.to_owned()))?;
            if run.state.is_finished() {
                return Ok(RunEnd::Finished(run.state));
            }
            if self.claim(&run).await? {
                match self.execute_claimed(run, stop.clone()).await? {
                    RunEnd::Lost => {}
                    end => return Ok(end),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(RENEW_EVERY) => {}
                _ = wait_true(&mut stop) => return Ok(RunEnd::Released),
            }
        }
    }

    /// Takes the run's lease; false when another process holds it.
    async fn claim(&self, run: &Run) -> Result<bool, ReplayError> {
        let now = now_unix_nano();
        let applied = write_replay(
            self.store(),
            run.project_id,
            vec![ReplayWrite::ClaimRun {
                run_id: run.id.clone(),
                owner: self.owner().to_owned(),
                now_unix_nano: now,
                lease_expires_unix_nano: now + LEASE.as_nanos() as u64,
            }],
        )
        .await?;
        Ok(applied.first().is_some_and(|a| a.rows == 1))
    }

    /// Executes a run whose lease this engine holds.
    async fn execute_claimed(
        &self,
        run: Run,
        stop: watch::Receiver<bool>,
    ) -> Result<RunEnd, ReplayError> {
        tracing::info!(run_id = %run.id, "executing replay run");
        let finished = self
            .store()
            .reader
            .replay_finished_items(run.row_id)
            .await?;
        let spent_usd: f64 = finished.iter().filter_map(|i| i.cost_usd).sum();
        let ledger = Ledger::new(run.spec.budget.clone(), finished.len() as u64, spent_usd);
        let (abort, _) = watch::channel(false);
        let project = self
            .store()
            .reader
            .project(run.project_id)
            .await?
            .ok_or_else(|| {
                ReplayError::Invalid(format!(
                    "replay run {} belongs to project {}, which does not exist",
                    run.id, run.project_id
                ))
            })?;
        let context = Arc::new(RunContext {
            engine: self.clone(),
            run,
            project,
            ledger,
            abort,
            budget_stop: Mutex::new(None),
            lost: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            originals: Mutex::new(HashMap::new()),
        });
        // Dropped on every way out, error returns included, so a lease is
        // never renewed for a run nobody executes.
        let keeper = AbortOnDrop(tokio::spawn(keep_lease(context.clone(), stop)));
        let mut rounds = 0;
        loop {
            rounds += 1;
            dispatch_all(&context).await;
            if context.is_aborted() || context.budget_reason().is_some() || rounds >= MAX_ROUNDS {
                break;
            }
            let counts = self
                .store()
                .reader
                .replay_item_counts(context.run.row_id)
                .await?;
            let pending = counts
                .iter()
                .any(|((_, state), n)| *state == ItemState::Pending && *n > 0);
            if !pending {
                break;
            }
        }
        drop(keeper);
        let run = &context.run;
        if context.shutdown.load(Ordering::SeqCst) {
            let release = ReplayWrite::ReleaseRun {
                run_id: run.id.clone(),
                owner: self.owner().to_owned(),
            };
            write_replay(self.store(), run.project_id, vec![release]).await?;
            tracing::info!(run_id = %run.id, "replay run released for later");
            return Ok(RunEnd::Released);
        }
        if context.lost.load(Ordering::SeqCst) {
            tracing::info!(run_id = %run.id, "replay run cancelled or taken over");
            return Ok(RunEnd::Lost);
        }
        let (state, reason) = match context.budget_reason() {
            Some(reason) => (RunState::Stopped, Some(reason)),
            None => (self.end_state(run).await?, None),
        };
        let finish = ReplayWrite::FinishRun {
            run_id: run.id.clone(),
            owner: self.owner().to_owned(),
            state,
            reason,
            now_unix_nano: now_unix_nano(),
        };
        let applied = write_replay(self.store(), run.project_id, vec![finish]).await?;
        if applied.first().is_some_and(|a| a.rows == 1) {
            tracing::info!(run_id = %run.id, state = state.as_str(), "replay run finished");
            Ok(RunEnd::Finished(state))
        } else {
            Ok(RunEnd::Lost)
        }
    }
}

impl Engine {
    /// How a run that went through all its items ends: `failed` when every
    /// one of them failed (nothing was answered, and a green "done" would
    /// hide it), else `done`.
    async fn end_state(&self, run: &Run) -> Result<RunState, ReadError> {
        let progress = summary::progress(&self.store().reader, run).await?;
        if progress.total > 0 && progress.failed == progress.total {
            Ok(RunState::Failed)
        } else {
            Ok(RunState::Done)
        }
    }
}
