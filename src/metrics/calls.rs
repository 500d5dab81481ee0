//! Recording LLM calls: how many were stored, their tokens, cost, latency
//! and time to first token, by source, provider and model.
//!
//! The writer calls [`calls_stored`] after a commit with the calls that
//! commit inserted, so a re-sent span is not counted twice and nothing is
//! counted that was rolled back. Calls the linker derives again (when
//! their content arrives in a later export) replace a call already counted
//! and are not counted again.
//!
//! The writer is the one task every write goes through, so the work here
//! is kept per label set rather than per call: calls are grouped first and
//! each group's series is looked up once.

use std::collections::HashMap;

use ::metrics::{counter, gauge, histogram};

use super::labels::{MODELS, PROVIDERS};
use super::names::*;
use crate::model::CallSummary;

/// The label set of a call's series.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CallLabels {
    source: &'static str,
    provider: String,
    model: String,
    status: &'static str,
}

impl CallLabels {
    fn of(call: &CallSummary) -> Self {
        let model = call
            .request_model
            .as_deref()
            .or(call.response_model.as_deref());
        Self {
            source: call.source.as_str(),
            provider: PROVIDERS.admit(call.provider.as_deref()),
            model: MODELS.admit(model),
            status: call.status.as_str(),
        }
    }
}

/// What the calls of one label set add up to.
#[derive(Debug, Default)]
struct Totals {
    calls: u64,
    input_tokens: u64,
    output_tokens: u64,
    cached_input_tokens: u64,
    reasoning_tokens: u64,
    cost_usd: f64,
    durations_seconds: Vec<f64>,
    ttfts_seconds: Vec<f64>,
}

impl Totals {
    fn add(&mut self, call: &CallSummary) {
        self.calls += 1;
        self.input_tokens += tokens(call.usage.input_tokens);
        self.output_tokens += tokens(call.usage.output_tokens);
        self.cached_input_tokens += tokens(call.usage.cached_input_tokens);
        self.reasoning_tokens += tokens(call.usage.reasoning_tokens);
        if let Some(cost) = call.cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
            self.cost_usd += cost;
        }
        if let Some(ms) = call.duration_ms.filter(|ms| ms.is_finite() && *ms >= 0.0) {
            self.durations_seconds.push(ms / 1000.0);
        }
        if let Some(ms) = call.ttft_ms.filter(|ms| ms.is_finite() && *ms >= 0.0) {
            self.ttfts_seconds.push(ms / 1000.0);
        }
    }
}

/// Token counts from telemetry can be missing or nonsense (negative).
fn tokens(count: Option<i64>) -> u64 {
    count.map_or(0, |n| n.max(0) as u64)
}

/// Records calls a commit inserted.
pub fn calls_stored<'a>(calls: impl IntoIterator<Item = &'a CallSummary>) {
    let mut groups: HashMap<CallLabels, Totals> = HashMap::new();
    for call in calls {
        groups.entry(CallLabels::of(call)).or_default().add(call);
    }
    for (labels, totals) in groups {
        record_group(labels, &totals);
    }
}

fn record_group(labels: CallLabels, totals: &Totals) {
    let CallLabels {
        source,
        provider,
        model,
        status,
    } = labels;
    counter!(LLM_CALLS,
        LABEL_SOURCE => source, LABEL_PROVIDER => provider.clone(),
        LABEL_MODEL => model.clone(), LABEL_STATUS => status)
    .increment(totals.calls);
    let token_kinds = [
        ("input", totals.input_tokens),
        ("output", totals.output_tokens),
        ("cached_input", totals.cached_input_tokens),
        ("reasoning", totals.reasoning_tokens),
    ];
    for (kind, count) in token_kinds {
        counter!(LLM_TOKENS,
            LABEL_SOURCE => source, LABEL_PROVIDER => provider.clone(),
            LABEL_MODEL => model.clone(), LABEL_TYPE => kind)
        .increment(count);
    }
    gauge!(LLM_COST_USD,
        LABEL_SOURCE => source, LABEL_PROVIDER => provider.clone(), LABEL_MODEL => model.clone())
    .increment(totals.cost_usd);
    let duration = histogram!(LLM_CALL_DURATION,
        LABEL_SOURCE => source, LABEL_PROVIDER => provider.clone(), LABEL_MODEL => model.clone());
    for seconds in &totals.durations_seconds {
        duration.record(*seconds);
    }
    if !totals.ttfts_seconds.is_empty() {
        let ttft = histogram!(LLM_TIME_TO_FIRST_TOKEN,
            LABEL_SOURCE => source, LABEL_PROVIDER => provider, LABEL_MODEL => model);
        for seconds in &totals.ttfts_seconds {
            ttft.record(*seconds);
        }
    }
}
