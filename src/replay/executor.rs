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
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tokio::sync::{Notify, OwnedSemaphorePermit, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::budget::{self, Estimate, Ledger};
use super::limits::{Backoff, Limiter};
use super::outcome::{self, ReplayOf};
use super::request::request_body;
use super::run::{Item, ItemState, Run, RunState};
use super::sink::{ItemResult, Sink};
use super::targets::TargetSpec;
use super::{ReplayError, now_unix_nano, summary, write_replay};
use crate::ingest::Ingest;
use crate::metrics::{self, ReplayOutcome};
use crate::model::project::Project;
use crate::model::{Call, CallId};
use crate::providers::{ProviderError, ProviderResponse, TargetParams, client};
use crate::store::replays::{ItemFinish, ReplayWrite};
use crate::store::{ReadError, Store, WriteError};

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

    /// Retries back off from `backoff` (tests shorten it).
    pub fn with_backoff(self, backoff: Backoff) -> Engine {
        let inner = &self.inner;
        Engine {
            inner: Arc::new(EngineInner {
                ingest: inner.ingest.clone(),
                owner: inner.owner.clone(),
                client: inner.client.clone(),
                sink: inner.sink.clone(),
                backoff,
            }),
        }
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

/// The server's background task: takes up runs and executes them.
pub struct Executor;

impl Executor {
    /// Runs until `stop` turns true; `wake` makes it look for new runs at once.
    pub fn spawn(engine: Engine, wake: Arc<Notify>, stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(scan_loop(engine, wake, stop))
    }
}

async fn scan_loop(engine: Engine, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let mut active: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        if *stop.borrow() {
            break;
        }
        active.retain(|_, task| !task.is_finished());
        let runs = engine
            .store()
            .reader
            .replay_runs_to_execute(engine.owner(), now_unix_nano())
            .await
            .and_then(Run::all_from_stored);
        match runs {
            Ok(runs) => {
                for run in runs {
                    if active.contains_key(&run.id) {
                        continue;
                    }
                    let run_id = run.id.clone();
                    match engine.claim(&run).await {
                        Ok(true) => {
                            let engine = engine.clone();
                            let stop = stop.clone();
                            let task = tokio::spawn(async move {
                                let id = run.id.clone();
                                if let Err(error) = engine.execute_claimed(run, stop).await {
                                    tracing::error!(run_id = %id, %error, "replay run failed");
                                }
                            });
                            active.insert(run_id, task);
                        }
                        Ok(false) => {}
                        Err(error) => tracing::warn!(%run_id, %error, "cannot take up replay run"),
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot look for replay runs"),
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(SCAN_EVERY) => {}
            _ = wait_true(&mut stop) => break,
        }
    }
    for (_, task) in active {
        let _ = task.await;
    }
}

/// What the tasks executing one run share.
struct RunContext {
    engine: Engine,
    run: Run,
    /// The run's project, where its results are stored.
    project: Project,
    ledger: Ledger,
    /// True when the items in flight must be abandoned.
    abort: watch::Sender<bool>,
    /// Set when a budget guard refused an item: no more dispatching.
    budget_stop: Mutex<Option<String>>,
    lost: AtomicBool,
    shutdown: AtomicBool,
    originals: Mutex<HashMap<CallId, Arc<Call>>>,
}

impl RunContext {
    fn is_aborted(&self) -> bool {
        *self.abort.borrow()
    }

    fn budget_reason(&self) -> Option<String> {
        self.budget_stop
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn stop_for_budget(&self, reason: String) {
        let mut stop = self.budget_stop.lock().unwrap_or_else(|e| e.into_inner());
        if stop.is_none() {
            tracing::info!(run_id = %self.run.id, %reason, "replay run stopped by its budget");
            *stop = Some(reason);
        }
    }

    fn should_stop_dispatching(&self) -> bool {
        self.is_aborted() || self.budget_reason().is_some()
    }

    async fn original(&self, id: CallId) -> Result<Arc<Call>, String> {
        if let Some(call) = self.cached(id) {
            return Ok(call);
        }
        let store = self.engine.store();
        let call = store
            .reader
            .call(self.run.project_id, id)
            .await
            .map_err(|error| format!("cannot read the original call {id}: {error}"))?
            .ok_or_else(|| format!("the original call {id} is no longer stored"))?;
        let call = Arc::new(call);
        let mut cache = self.originals.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= ORIGINALS_CACHED {
            cache.clear();
        }
        cache.insert(id, call.clone());
        Ok(call)
    }

    fn cached(&self, id: CallId) -> Option<Arc<Call>> {
        self.originals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }
}

/// Renews the lease until aborted; aborts the run when the lease is lost
/// (cancelled, taken over) or the process is told to stop.
async fn keep_lease(context: Arc<RunContext>, mut stop: watch::Receiver<bool>) {
    let run = &context.run;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RENEW_EVERY) => {}
            _ = wait_true(&mut stop) => {
                context.shutdown.store(true, Ordering::SeqCst);
                context.abort.send_replace(true);
                return;
            }
        }
        let renew = ReplayWrite::RenewLease {
            run_id: run.id.clone(),
            owner: context.engine.owner().to_owned(),
            lease_expires_unix_nano: now_unix_nano() + LEASE.as_nanos() as u64,
        };
        match write_replay(context.engine.store(), run.project_id, vec![renew]).await {
            Ok(applied) if applied.first().is_some_and(|a| a.rows == 1) => {}
            Ok(_) => {
                context.lost.store(true, Ordering::SeqCst);
                context.abort.send_replace(true);
                return;
            }
            Err(error) => tracing::warn!(run_id = %run.id, %error, "cannot renew the replay lease"),
        }
    }
}

async fn dispatch_all(context: &Arc<RunContext>) {
    let mut dispatchers = JoinSet::new();
    for target in &context.run.spec.targets {
        dispatchers.spawn(dispatch(context.clone(), Arc::new(target.clone())));
    }
    while dispatchers.join_next().await.is_some() {}
}

/// An item ready to send.
struct Prepared {
    item: Item,
    original: Arc<Call>,
    body: Json,
    estimate: Estimate,
}

/// Why an item cannot be sent: its error class and message.
struct Unsendable {
    class: &'static str,
    message: String,
}

/// What the claimer hands the sender: an item to send, or one that cannot
/// be sent, with the reason.
enum Claimed {
    Send(Prepared),
    Unsendable(Item, Unsendable),
}

/// Works through one target's pending items in two stages: a claimer that
/// prepares, admits and claims items ahead, and a sender that starts each
/// claimed item as soon as the target has a free slot. Claiming is a
/// commit; done only once a slot is free, its latency would be added to
/// every request.
async fn dispatch(context: Arc<RunContext>, target: Arc<TargetSpec>) {
    let spec = &context.run.spec;
    let params = target.params(spec.stream, &spec.overrides, &spec.allow_drop);
    let limiter = Arc::new(Limiter::new(
        target.max_concurrency,
        target.requests_per_second,
    ));
    let (claimed_tx, claimed_rx) = mpsc::channel(CLAIM_AHEAD);
    let claimer = AbortOnDrop(tokio::spawn(claim_ahead(
        context.clone(),
        target.clone(),
        params,
        claimed_tx,
    )));
    send_claimed(&context, &target, &limiter, claimed_rx).await;
    drop(claimer);
}

/// Reads the target's pending items and claims them as the sender makes
/// room; stops at the end of the items, on abort, or once the budget is
/// spent (what it already admitted fits the budget and is still sent).
async fn claim_ahead(
    context: Arc<RunContext>,
    target: Arc<TargetSpec>,
    params: TargetParams,
    out: mpsc::Sender<Claimed>,
) {
    let mut abort = context.abort.subscribe();
    let mut buffer: VecDeque<Item> = VecDeque::new();
    let mut after = 0;
    loop {
        if context.should_stop_dispatching() {
            return;
        }
        if buffer.is_empty() {
            let reader = &context.engine.store().reader;
            match reader
                .replay_pending_items(context.run.row_id, &target.name, after, PAGE)
                .await
            {
                Ok(items) if items.is_empty() => return,
                Ok(items) => {
                    after = items.last().map_or(after, |item| item.row_id);
                    buffer.extend(items);
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read pending replay items; retrying");
                    tokio::time::sleep(RENEW_EVERY).await;
                    continue;
                }
            }
        }
        // Wait for room for one, then claim as many as there is room for:
        // this task is the channel's only sender, so the room stays.
        let room = tokio::select! {
            permit = out.reserve() => match permit {
                Ok(permit) => {
                    drop(permit);
                    out.capacity()
                }
                Err(_) => return,
            },
            _ = wait_true(&mut abort) => return,
        };
        let take = room.min(MAX_CLAIM).min(buffer.len());
        let batch: Vec<Item> = buffer.drain(..take).collect();
        for claimed in claim_batch(&context, &target, &params, batch).await {
            if out.send(claimed).await.is_err() {
                return;
            }
        }
    }
}

/// Starts every claimed item once the target has a free slot, until the
/// claimer is done or the run is aborted; then waits for the items in flight.
async fn send_claimed(
    context: &Arc<RunContext>,
    target: &Arc<TargetSpec>,
    limiter: &Arc<Limiter>,
    mut claimed: mpsc::Receiver<Claimed>,
) {
    let mut abort = context.abort.subscribe();
    let mut tasks = JoinSet::new();
    loop {
        let next = tokio::select! {
            next = claimed.recv() => next,
            _ = wait_true(&mut abort) => None,
        };
        match next {
            None => break,
            Some(Claimed::Unsendable(item, why)) => {
                tasks.spawn(record_unsendable(context.clone(), item, why));
            }
            Some(Claimed::Send(prepared)) => {
                let slot = tokio::select! {
                    slot = limiter.slot() => slot,
                    _ = wait_true(&mut abort) => None,
                };
                let Some(slot) = slot else {
                    context.ledger.release(prepared.item.row_id);
                    break;
                };
                tasks.spawn(replay_item(
                    context.clone(),
                    target.clone(),
                    limiter.clone(),
                    slot,
                    prepared,
                ));
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Prepares, admits and claims a batch of items: what comes back was
/// claimed by this engine, ready to send or to record as unsendable.
async fn claim_batch(
    context: &Arc<RunContext>,
    target: &TargetSpec,
    params: &TargetParams,
    batch: Vec<Item>,
) -> Vec<Claimed> {
    let mut ready: Vec<Prepared> = Vec::new();
    let mut unsendable: Vec<(Item, Unsendable)> = Vec::new();
    for item in batch {
        match prepare(context, target, params, item).await {
            Ok(prepared) => {
                let admitted = context
                    .ledger
                    .admit(prepared.item.row_id, prepared.estimate.cost_usd);
                match admitted {
                    Ok(()) => ready.push(prepared),
                    Err(exceeded) => {
                        context.stop_for_budget(exceeded.to_string());
                        break;
                    }
                }
            }
            Err((item, why)) => unsendable.push((item, why)),
        }
    }
    let mut ids: Vec<i64> = ready.iter().map(|p| p.item.row_id).collect();
    ids.extend(unsendable.iter().map(|(item, _)| item.row_id));
    if ids.is_empty() {
        return Vec::new();
    }
    let claimed = match claim_items(context, ids).await {
        Ok(claimed) => claimed,
        Err(error) => {
            tracing::warn!(%error, "cannot claim replay items");
            HashSet::new()
        }
    };
    let mut out = Vec::with_capacity(claimed.len());
    for (item, why) in unsendable {
        if claimed.contains(&item.row_id) {
            out.push(Claimed::Unsendable(item, why));
        }
    }
    for prepared in ready {
        if claimed.contains(&prepared.item.row_id) {
            out.push(Claimed::Send(prepared));
        } else {
            context.ledger.release(prepared.item.row_id);
        }
    }
    out
}

async fn claim_items(context: &RunContext, ids: Vec<i64>) -> Result<HashSet<i64>, WriteError> {
    let claim = ReplayWrite::ClaimItems {
        run_id: context.run.id.clone(),
        owner: context.engine.owner().to_owned(),
        item_ids: ids,
    };
    let applied = write_replay(context.engine.store(), context.run.project_id, vec![claim]).await?;
    let mut claimed = HashSet::new();
    for outcome in applied {
        claimed.extend(outcome.ids);
    }
    Ok(claimed)
}

/// Loads the original call and writes the request; an item that cannot be
/// sent comes back with the reason.
async fn prepare(
    context: &RunContext,
    target: &TargetSpec,
    params: &TargetParams,
    item: Item,
) -> Result<Prepared, (Item, Unsendable)> {
    let original = match context.original(item.original_call_id).await {
        Ok(original) => original,
        Err(message) => {
            let why = Unsendable {
                class: outcome::ORIGINAL_UNAVAILABLE,
                message,
            };
            return Err((item, why));
        }
    };
    let body = match request_body(&original, target.kind, params) {
        Ok((body, _)) => body,
        Err(error) => {
            let why = Unsendable {
                class: outcome::UNTRANSLATABLE,
                message: error.to_string(),
            };
            return Err((item, why));
        }
    };
    let estimate = budget::estimate(&original, &body, target.price.as_ref());
    Ok(Prepared {
        item,
        original,
        body,
        estimate,
    })
}

async fn record_unsendable(context: Arc<RunContext>, item: Item, why: Unsendable) {
    let finish = ItemFinish {
        item_id: item.row_id,
        owner: context.engine.owner().to_owned(),
        state: Some(ItemState::Failed),
        error: Some(why.message),
        error_class: Some(why.class.to_owned()),
        ..ItemFinish::default()
    };
    if commit(&context, None, finish).await {
        metrics::replay_item_finished(&item.target, ReplayOutcome::Failed, None, None, None);
    }
}

/// Sends one item (with retries), frees its slot, and commits its result.
async fn replay_item(
    context: Arc<RunContext>,
    target: Arc<TargetSpec>,
    limiter: Arc<Limiter>,
    slot: OwnedSemaphorePermit,
    prepared: Prepared,
) {
    let mut abort = context.abort.subscribe();
    let sent = tokio::select! {
        sent = send_with_retries(&context, &target, &limiter, &prepared.body) => sent,
        _ = wait_true(&mut abort) => {
            context.ledger.release(prepared.item.row_id);
            return;
        }
    };
    drop(slot);
    let of = ReplayOf {
        run_id: &context.run.id,
        original: &prepared.original,
        target: &target,
        repetition: prepared.item.repetition,
        attempts: sent.attempts,
        started_unix_nano: sent.started_unix_nano,
    };
    let item_id = prepared.item.row_id;
    let mut finish = ItemFinish {
        item_id,
        owner: context.engine.owner().to_owned(),
        attempts: sent.attempts,
        estimated_cost_usd: prepared.estimate.cost_usd,
        tools_missing: prepared.original.tools_missing(),
        ..ItemFinish::default()
    };
    let call = match sent.outcome {
        Ok(response) => {
            let prices = &context.engine.inner.ingest.prices;
            let call = outcome::answered(of, &prepared.body, response, prices);
            finish.state = Some(ItemState::Done);
            finish.latency_ms = call.duration_ms;
            finish.ttft_ms = call.ttft_ms;
            finish.input_tokens = call.usage.input_tokens;
            finish.output_tokens = call.usage.output_tokens;
            finish.cost_usd = call.cost_usd;
            Some(call)
        }
        Err(error) => {
            finish.state = Some(ItemState::Failed);
            finish.error = Some(error.to_string());
            finish.error_class = Some(outcome::error_type(&error));
            outcome::was_sent(&error)
                .then(|| outcome::failed(of, &prepared.body, &error, sent.elapsed_ms))
        }
    };
    finish.result_call_id = call.as_ref().map(|call| call.id);
    // A failed request is not billed; an answer without usage counts at its estimate.
    let cost = match finish.state {
        Some(ItemState::Failed) => Some(0.0),
        _ => finish.cost_usd,
    };
    context.ledger.settle(item_id, cost);
    let outcome = match finish.state {
        Some(ItemState::Done) => ReplayOutcome::Done,
        _ => ReplayOutcome::Failed,
    };
    let latency = finish.latency_ms.and_then(from_ms);
    let ttft = finish.ttft_ms.and_then(from_ms);
    let cost_usd = finish.cost_usd;
    if commit(&context, call, finish).await {
        metrics::replay_item_finished(&target.name, outcome, latency, ttft, cost_usd);
    }
}

fn from_ms(ms: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(ms / 1000.0).ok()
}

/// Commits an item's result; false when it was not stored (the item was
/// cancelled or taken over meanwhile, or the write failed).
async fn commit(context: &RunContext, call: Option<Call>, finish: ItemFinish) -> bool {
    let result = ItemResult {
        run_id: context.run.id.clone(),
        project: context.project.clone(),
        call,
        finish,
    };
    match context.engine.inner.sink.commit(result).await {
        Ok(()) => true,
        Err(WriteError::Conflict(message)) => {
            tracing::debug!(%message, "replay result dropped");
            false
        }
        Err(error) => {
            tracing::error!(run_id = %context.run.id, %error, "cannot store a replay result");
            false
        }
    }
}

/// What sending one item came to.
struct Sent {
    outcome: Result<ProviderResponse, ProviderError>,
    attempts: u32,
    /// When the last attempt was sent.
    started_unix_nano: u64,
    /// Of the last attempt.
    elapsed_ms: f64,
}

async fn send_with_retries(
    context: &RunContext,
    target: &TargetSpec,
    limiter: &Limiter,
    body: &Json,
) -> Sent {
    let engine = &context.engine.inner;
    let mut attempts = 0;
    loop {
        limiter.pace().await;
        attempts += 1;
        let started_unix_nano = now_unix_nano();
        let started = Instant::now();
        let outcome = client::send(&engine.client, &target.endpoint, body).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if let Err(error) = &outcome {
            metrics::replay_attempt_failed(&target.name, metrics::attempt_error_reason(error));
        }
        match outcome {
            Err(error) if error.is_retryable() && attempts <= target.max_retries => {
                let delay = engine.backoff.delay(attempts, error.retry_after());
                tracing::debug!(target = %target.name, %error, attempts, delay_ms = delay.as_millis() as u64, "retrying");
                tokio::time::sleep(delay).await;
            }
            outcome => {
                return Sent {
                    outcome,
                    attempts,
                    started_unix_nano,
                    elapsed_ms,
                };
            }
        }
    }
}

/// Aborts its task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Completes once the flag is true (never if its sender is gone first).
async fn wait_true(flag: &mut watch::Receiver<bool>) {
    loop {
        if *flag.borrow_and_update() {
            return;
        }
        if flag.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
