//! Budget guards: a run stops before it sends more items than `max_calls`
//! or spends more than `max_cost_usd`.
//!
//! Cost must be judged before a request is sent, when only the prompt is
//! known, so each item is estimated first: input tokens from the original
//! call's recorded count (else the request body's size at about four
//! bytes a token), output tokens from the `max_tokens` the request sends
//! (else the original answer's length, else [`UNKNOWN_OUTPUT_TOKENS`]),
//! priced at the target's price. An item in flight counts at its estimate;
//! once it ends it counts at its real cost. An item is admitted only when
//! everything spent and reserved plus its own estimate stays within the
//! budget, so the run stops *before* it overspends (as far as the estimate
//! is an upper bound: a `max_tokens` in the request makes it one for the
//! output).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::spec::Price;
use crate::model::{Call, Usage};

/// Output tokens assumed when neither the request nor the original call
/// says how long the answer may be.
pub const UNKNOWN_OUTPUT_TOKENS: i64 = 1024;
/// Bytes of request body per token, for prompts with no recorded count.
const BYTES_PER_TOKEN: usize = 4;

/// What one item is expected to cost before it is sent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// `None` when the target has no price.
    pub cost_usd: Option<f64>,
}

/// Estimates an item from its original call and the body about to be sent.
pub fn estimate(original: &Call, body: &Json, price: Option<&Price>) -> Estimate {
    let input_tokens = match original.usage.input_tokens {
        Some(tokens) if tokens > 0 => tokens,
        _ => {
            let bytes = serde_json::to_vec(body).map(|b| b.len()).unwrap_or(0);
            bytes.div_ceil(BYTES_PER_TOKEN) as i64
        }
    };
    let output_tokens = body_max_tokens(body)
        .or(original.usage.output_tokens.filter(|t| *t > 0))
        .unwrap_or(UNKNOWN_OUTPUT_TOKENS);
    Estimate {
        input_tokens,
        output_tokens,
        cost_usd: price.and_then(|price| {
            price.cost(&Usage {
                input_tokens: Some(input_tokens),
                output_tokens: Some(output_tokens),
                ..Usage::default()
            })
        }),
    }
}

/// The answer-length cap a request body sets, in any provider's spelling.
fn body_max_tokens(body: &Json) -> Option<i64> {
    for key in ["max_tokens", "max_completion_tokens", "max_output_tokens"] {
        if let Some(tokens) = body.get(key).and_then(Json::as_i64) {
            return Some(tokens);
        }
    }
    None
}

/// Limits that stop a run (or a comparison's own calls) before it spends
/// more than the user allowed; stored with a run as part of its spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Most items (replayed calls) sent; retries of one item count once.
    #[serde(default)]
    pub max_calls: Option<u64>,
    /// Most money spent, in US dollars, counting each item at its
    /// estimated cost until its real cost is known.
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
}

/// Why an item was not admitted.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BudgetExceeded {
    #[error("budget: max_calls {max} reached; the remaining items were not sent")]
    Calls { max: u64 },
    #[error(
        "budget: max_cost_usd {max} would be exceeded (spent or reserved {committed:.6}, next item estimated at {estimate:.6}); the remaining items were not sent"
    )]
    Cost {
        max: f64,
        committed: f64,
        estimate: f64,
    },
}

/// A run's spending: what finished items cost and what items in flight
/// are expected to cost.
pub struct Ledger {
    budget: Budget,
    inner: Mutex<Spent>,
}

#[derive(Default)]
struct Spent {
    calls: u64,
    cost_usd: f64,
    /// Item row id → estimated cost, for items admitted and not yet settled.
    reserved: HashMap<i64, f64>,
}

impl Ledger {
    /// A ledger that already counts `calls` finished items costing `cost_usd`
    /// (a resumed run).
    pub fn new(budget: Budget, calls: u64, cost_usd: f64) -> Ledger {
        Ledger {
            budget,
            inner: Mutex::new(Spent {
                calls,
                cost_usd,
                reserved: HashMap::new(),
            }),
        }
    }

    /// Admits an item and reserves its estimate, or says which limit it would break.
    pub fn admit(&self, item_id: i64, estimate_usd: Option<f64>) -> Result<(), BudgetExceeded> {
        let mut spent = self.lock();
        let calls = spent.calls + spent.reserved.len() as u64;
        if let Some(max) = self.budget.max_calls
            && calls >= max
        {
            return Err(BudgetExceeded::Calls { max });
        }
        let estimate = estimate_usd.unwrap_or(0.0);
        if let Some(max) = self.budget.max_cost_usd {
            let committed = spent.cost_usd + spent.reserved.values().sum::<f64>();
            if committed + estimate > max {
                return Err(BudgetExceeded::Cost {
                    max,
                    committed,
                    estimate,
                });
            }
        }
        spent.reserved.insert(item_id, estimate);
        Ok(())
    }

    /// Replaces an item's reservation by what it really cost (its estimate
    /// when the real cost is unknown).
    pub fn settle(&self, item_id: i64, cost_usd: Option<f64>) {
        let mut spent = self.lock();
        let reserved = spent.reserved.remove(&item_id).unwrap_or(0.0);
        spent.calls += 1;
        spent.cost_usd += cost_usd.unwrap_or(reserved);
    }

    /// Drops an item's reservation: it was never sent.
    pub fn release(&self, item_id: i64) {
        self.lock().reserved.remove(&item_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Spent> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallId, Source};
    use serde_json::json;

    fn price() -> Price {
        Price {
            input_per_1m: 1_000_000.0,
            output_per_1m: 2_000_000.0,
            cached_input_per_1m: None,
        }
    }

    #[test]
    fn the_estimate_uses_recorded_input_and_the_requested_maximum() {
        let mut original = Call::new(CallId(1), Source::Otlp, 0);
        original.usage.input_tokens = Some(10);
        original.usage.output_tokens = Some(3);
        let body = json!({"model": "m", "messages": [], "max_tokens": 50});
        let estimate = estimate(&original, &body, Some(&price()));
        assert_eq!(estimate.input_tokens, 10);
        assert_eq!(estimate.output_tokens, 50);
        assert_eq!(estimate.cost_usd, Some(10.0 + 100.0));
    }

    #[test]
    fn without_counts_the_body_size_and_the_original_answer_stand_in() {
        let mut original = Call::new(CallId(1), Source::Otlp, 0);
        original.usage.output_tokens = Some(7);
        let body = json!({"messages": [{"role": "user", "content": "x".repeat(400)}]});
        let estimate = estimate(&original, &body, None);
        assert!(estimate.input_tokens > 100 && estimate.input_tokens < 120);
        assert_eq!(estimate.output_tokens, 7);
        assert_eq!(estimate.cost_usd, None);
        let bare = Call::new(CallId(2), Source::Otlp, 0);
        assert_eq!(
            super::estimate(&bare, &json!({}), None).output_tokens,
            UNKNOWN_OUTPUT_TOKENS
        );
    }

    #[test]
    fn max_calls_counts_finished_and_reserved_items() {
        let ledger = Ledger::new(
            Budget {
                max_calls: Some(3),
                max_cost_usd: None,
            },
            1,
            0.0,
        );
        assert_eq!(ledger.admit(10, None), Ok(()));
        assert_eq!(ledger.admit(11, None), Ok(()));
        assert_eq!(
            ledger.admit(12, None),
            Err(BudgetExceeded::Calls { max: 3 })
        );
        ledger.release(11);
        assert_eq!(ledger.admit(12, None), Ok(()));
    }

    #[test]
    fn max_cost_refuses_the_item_that_would_overspend() {
        let ledger = Ledger::new(
            Budget {
                max_calls: None,
                max_cost_usd: Some(1.0),
            },
            0,
            0.25,
        );
        assert_eq!(ledger.admit(1, Some(0.5)), Ok(()));
        let refused = ledger.admit(2, Some(0.5));
        assert!(
            matches!(refused, Err(BudgetExceeded::Cost { .. })),
            "{refused:?}"
        );
        // The first item cost less than estimated: room for the second.
        ledger.settle(1, Some(0.1));
        assert_eq!(ledger.admit(2, Some(0.5)), Ok(()));
    }

    #[test]
    fn budget_rejects_unknown_fields() {
        let error =
            serde_json::from_str::<Budget>(r#"{"max_cost": 1}"#).expect_err("unknown field");
        assert!(error.to_string().contains("max_cost"), "{error}");
    }
}
