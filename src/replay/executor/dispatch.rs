//! Executing one run: the lease keeper, and per target a claimer that
//! prepares and claims pending items a batch ahead and a sender that hands
//! each to an item task when the target has a free slot.

use super::*;

/// What the tasks executing one run share.
pub(super) struct RunContext {
    pub(super) engine: Engine,
    pub(super) run: Run,
    /// The run's project, where its results are stored.
    pub(super) project: Project,
    pub(super) ledger: Ledger,
    /// True when the items in flight must be abandoned.
    pub(super) abort: watch::Sender<bool>,
    /// Set when a budget guard refused an item: no more dispatching.
    pub(super) budget_stop: Mutex<Option<String>>,
    pub(super) lost: AtomicBool,
    pub(super) shutdown: AtomicBool,
    pub(super) originals: Mutex<HashMap<CallId, Arc<Call>>>,
}

impl RunContext {
    pub(super) fn is_aborted(&self) -> bool {
        *self.abort.borrow()
    }

    pub(super) fn budget_reason(&self) -> Option<String> {
        self.budget_stop
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn stop_for_budget(&self, reason: String) {
        let mut stop = self.budget_stop.lock().unwrap_or_else(|e| e.into_inner());
        if stop.is_none() {
            tracing::info!(run_id = %self.run.id, %reason, "replay run stopped by its budget");
            *stop = Some(reason);
        }
    }

    pub(super) fn should_stop_dispatching(&self) -> bool {
        self.is_aborted() || self.budget_reason().is_some()
    }

    pub(super) async fn original(&self, id: CallId) -> Result<Arc<Call>, String> {
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

    pub(super) fn cached(&self, id: CallId) -> Option<Arc<Call>> {
        self.originals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }
}

/// Renews the lease until aborted; aborts the run when the lease is lost
/// (cancelled, taken over) or the process is told to stop.
pub(super) async fn keep_lease(context: Arc<RunContext>, mut stop: watch::Receiver<bool>) {
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

pub(super) async fn dispatch_all(context: &Arc<RunContext>) {
    let mut dispatchers = JoinSet::new();
    for target in &context.run.spec.targets {
        dispatchers.spawn(dispatch(context.clone(), Arc::new(target.clone())));
    }
    while dispatchers.join_next().await.is_some() {}
}

/// An item ready to send.
pub(super) struct Prepared {
    pub(super) item: Item,
    pub(super) original: Arc<Call>,
    pub(super) body: Json,
    pub(super) estimate: Estimate,
}

/// Why an item cannot be sent: its error class and message.
pub(super) struct Unsendable {
    pub(super) class: &'static str,
    pub(super) message: String,
}

/// What the claimer hands the sender: an item to send, or one that cannot
/// be sent, with the reason.
pub(super) enum Claimed {
    Send(Prepared),
    Unsendable(Item, Unsendable),
}

/// Works through one target's pending items in two stages: a claimer that
/// prepares, admits and claims items ahead, and a sender that starts each
/// claimed item as soon as the target has a free slot. Claiming is a
/// commit; done only once a slot is free, its latency would be added to
/// every request.
pub(super) async fn dispatch(context: Arc<RunContext>, target: Arc<TargetSpec>) {
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
pub(super) async fn claim_ahead(
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
pub(super) async fn send_claimed(
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
pub(super) async fn claim_batch(
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

pub(super) async fn claim_items(
    context: &RunContext,
    ids: Vec<i64>,
) -> Result<HashSet<i64>, WriteError> {
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
pub(super) async fn prepare(
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

pub(super) async fn record_unsendable(context: Arc<RunContext>, item: Item, why: Unsendable) {
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
