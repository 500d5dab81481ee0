//! Recording replays. The replay executor calls:
//!
//! - [`replay_item_finished`] once per item whose final state it has
//!   committed (`done` or `failed`), with the replayed call's latency,
//!   time to first token (streamed calls) and cost when known. An item
//!   whose commit was refused (the run was cancelled meanwhile, or another
//!   process took it over) is not counted: whoever ends it counts it.
//! - [`replay_attempt_failed`] for every failed attempt to reach a target,
//!   whether it will be retried or not, with the reason from
//!   `ProviderError::kind` (a fixed word, never the error message).
//!
//! Runs not yet finished and items waiting or running are not counted as
//! they change: `GET /metrics` reads them from the store at scrape time
//! and calls [`replay_backlog`], so they are right whichever process
//! executes the runs (the server, or `reprise replay` beside it) and after
//! a restart. Items cancelled with their run, or by a budget guard, never
//! reach the executor and are not in [`super::names::REPLAY_ITEMS`]; the
//! API's run summary has them.
//!
//! Targets are configuration names, so few, but they are capped like
//! models in case a caller passes something unbounded (an ad hoc URL).
//! Never put a run id in a label: every run would be a new series forever.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
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

/// Targets given a pending count at an earlier scrape: one missing from a
/// later scrape has nothing pending any more and must read 0, not keep
/// its last value.
static PENDING_TARGETS: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Sets the replay gauges from the store, at scrape time: runs not yet
/// finished, and items waiting or running in them by target.
pub fn replay_backlog(runs_unfinished: i64, pending_by_target: &[(String, i64)]) {
    gauge!(REPLAY_RUNS_ACTIVE).set(runs_unfinished as f64);
    let mut pending = HashMap::new();
    for (target, count) in pending_by_target {
        // Several targets past the cap share `other`: add them up.
        *pending.entry(TARGETS.admit(Some(target))).or_insert(0) += *count;
    }
    let mut known = PENDING_TARGETS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let known = known.get_or_insert_with(HashSet::new);
    for target in known.iter() {
        if !pending.contains_key(target) {
            gauge!(REPLAY_ITEMS_PENDING, LABEL_TARGET => target.clone()).set(0.0);
        }
    }
    for (target, count) in pending {
        gauge!(REPLAY_ITEMS_PENDING, LABEL_TARGET => target.clone()).set(count as f64);
        known.insert(target);
    }
}
