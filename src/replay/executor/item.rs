//! One item: paced, sent with retries, its result committed with its
//! new state.

use super::*;

/// Sends one item (with retries), frees its slot, and commits its result.
pub(super) async fn replay_item(
    context: Arc<RunContext>,
    target: Arc<TargetSpec>,
    limiter: Arc<Limiter>,
    slot: OwnedSemaphorePermit,
    prepared: Prepared,
) {
    let mut abort = context.abort.subscribe();
    let sent = tokio::select! {
        sent = send(&context, &target, &limiter, &prepared.body) => sent,
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

pub(super) fn from_ms(ms: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(ms / 1000.0).ok()
}

/// Commits an item's result; false when it was not stored (the item was
/// cancelled or taken over meanwhile, or the write failed).
pub(super) async fn commit(context: &RunContext, call: Option<Call>, finish: ItemFinish) -> bool {
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

/// Sends an item's body within the target's limits, the slot already
/// held, counting each failed attempt in the replay metrics.
async fn send(
    context: &RunContext,
    target: &TargetSpec,
    limiter: &Limiter,
    body: &Json,
) -> Sent<ProviderResponse, ProviderError> {
    let engine = &context.engine.inner;
    let sender = Sender {
        target,
        limiter,
        backoff: &engine.backoff,
        slots: Slots::Held,
    };
    sender
        .send(
            || client::send(&engine.client, &target.endpoint, body),
            |error| {
                metrics::replay_attempt_failed(&target.name, error.kind());
            },
        )
        .await
}

/// Aborts its task when dropped.
pub(super) struct AbortOnDrop(pub(super) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Completes once the flag is true (never if its sender is gone first).
pub(super) async fn wait_true(flag: &mut watch::Receiver<bool>) {
    loop {
        if *flag.borrow_and_update() {
            return;
        }
        if flag.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
