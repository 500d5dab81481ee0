//! Recording replays, for the replay engine to call. Nothing calls these
//! yet; the engine should:
//!
//! - call [`replay_item_finished`] once per item when it reaches a final
//!   state (`done`, `failed` or `cancelled`), with the replayed call's
//!   latency, time to first token (streamed calls) and cost when known;
//! - call [`replay_attempt_failed`] for every failed attempt to reach a
//!   target, whether it will be retried or not, with a short fixed reason
//!   (`rate_limited`, `server_error`, `timeout`, `connection`,
//!   `malformed_response`, `translate`, `budget`);
//! - keep the gauges current with [`replay_runs_active`] and
//!   [`replay_items_pending`] whenever a run starts, ends or claims items
//!   (or on a timer).
//!
//! Targets are configuration names, so few, but they are capped like
//! models in case a caller passes something unbounded (an ad hoc URL).
//! Never put a run id in a label: every run would be a new series forever.

use std::time::Duration;

use ::metrics::{counter, gauge, histogram};

use super::labels::TARGETS;
use super::names::*;

/// The final state of a replay item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayOutcome {
    Done,
    Failed,
    Cancelled,
}

impl ReplayOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayOutcome::Done => "done",
            ReplayOutcome::Failed => "failed",
            ReplayOutcome::Cancelled => "cancelled",
        }
    }
}

/// Records a replay item reaching its final state.
pub fn replay_item_finished(
    target: &str,
    outcome: ReplayOutcome,
    latency: Option<Duration>,
    ttft: Option<Duration>,
    cost_usd: Option<f64>,
) {
    let target = TARGETS.admit(Some(target));
    counter!(REPLAY_ITEMS, LABEL_TARGET => target.clone(), LABEL_OUTCOME => outcome.as_str())
        .increment(1);
    if let Some(latency) = latency {
        histogram!(REPLAY_LATENCY, LABEL_TARGET => target.clone()).record(latency.as_secs_f64());
    }
    if let Some(ttft) = ttft {
        histogram!(REPLAY_TIME_TO_FIRST_TOKEN, LABEL_TARGET => target.clone())
            .record(ttft.as_secs_f64());
    }
    if let Some(cost) = cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
        gauge!(REPLAY_COST_USD, LABEL_TARGET => target).increment(cost);
    }
}

/// Records a failed attempt to call a target. `reason` is a fixed word,
/// never an error message (messages are unbounded).
pub fn replay_attempt_failed(target: &str, reason: &'static str) {
    let target = TARGETS.admit(Some(target));
    counter!(REPLAY_ATTEMPT_ERRORS, LABEL_TARGET => target, LABEL_REASON => reason).increment(1);
}

/// Sets how many replay runs are executing.
pub fn replay_runs_active(count: usize) {
    gauge!(REPLAY_RUNS_ACTIVE).set(count as f64);
}

/// Sets how many items of `target` are waiting or running, over all runs.
pub fn replay_items_pending(target: &str, count: usize) {
    let target = TARGETS.admit(Some(target));
    gauge!(REPLAY_ITEMS_PENDING, LABEL_TARGET => target).set(count as f64);
}
