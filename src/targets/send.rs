//! Sending to a target within its limits: a request paced to the target's
//! rate, tried again while its failure is retryable and the target's
//! `max_retries` allow, with [`Backoff`] between tries (never sooner than
//! the server's `Retry-After`).
//!
//! Replay items, judge prompts and embeddings all go through [`Sender`].
//! What one attempt is (a provider request, an embeddings POST) and what a
//! failed attempt is recorded as stay the caller's. Who holds the
//! concurrency slot differs and is said with [`Slots`]: replay starts an
//! item only once a slot is free and keeps it through the retries, while
//! a comparison takes a slot per attempt.
//!
//! [`Sender::send_budgeted`] asks the [`Ledger`] before sending, for
//! callers that decide on each request as they send it. Replay admits its
//! items when it claims them, ahead of sending, so it settles its ledger
//! itself.

use std::fmt::Display;
use std::time::{Duration, Instant};

use super::budget::{BudgetExceeded, Ledger};
use super::limits::{Backoff, Limiter};
use super::spec::TargetSpec;
use crate::model::time::now_unix_nano;
use crate::providers::ProviderError;

/// What the retry rule needs to know about a failed attempt.
pub trait Retry: Display {
    /// Whether the same request may succeed when sent again.
    fn is_retryable(&self) -> bool;
    /// The wait the server asked for before another try.
    fn retry_after(&self) -> Option<Duration>;
}

impl Retry for ProviderError {
    fn is_retryable(&self) -> bool {
        ProviderError::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        ProviderError::retry_after(self)
    }
}

/// Who holds the target's concurrency slot while a request is tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slots {
    /// The caller took a slot before sending and keeps it through every
    /// attempt and every wait between them.
    Held,
    /// Each attempt takes a slot and frees it with its answer, so a request
    /// waiting out its backoff leaves the slot to others.
    EachAttempt,
}

/// One target's limits and retry rule, as one request sees them.
pub struct Sender<'a> {
    pub target: &'a TargetSpec,
    pub limiter: &'a Limiter,
    pub backoff: &'a Backoff,
    pub slots: Slots,
}

/// What sending one request came to.
pub struct Sent<T, E> {
    pub outcome: Result<T, E>,
    pub attempts: u32,
    /// When the last attempt was sent.
    pub started_unix_nano: u64,
    /// Of the last attempt.
    pub elapsed_ms: f64,
}

impl Sender<'_> {
    /// Tries `attempt` until it succeeds, fails for good or has used the
    /// target's retries; `failed` sees every failed attempt.
    pub async fn send<T, E, A, F>(&self, mut attempt: A, mut failed: impl FnMut(&E)) -> Sent<T, E>
    where
        A: FnMut() -> F,
        F: Future<Output = Result<T, E>>,
        E: Retry,
    {
        let mut attempts = 0;
        loop {
            let slot = match self.slots {
                Slots::Held => None,
                Slots::EachAttempt => self.limiter.slot().await,
            };
            self.limiter.pace().await;
            attempts += 1;
            let started_unix_nano = now_unix_nano();
            let started = Instant::now();
            let outcome = attempt().await;
            let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            drop(slot);
            if let Err(error) = &outcome {
                failed(error);
            }
            match outcome {
                Err(error) if error.is_retryable() && attempts <= self.target.max_retries => {
                    let delay = self.backoff.delay(attempts, error.retry_after());
                    tracing::debug!(target = %self.target.name, %error, attempts, delay_ms = delay.as_millis() as u64, "retrying");
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

    /// Sends as [`send`](Self::send) once `ledger` admitted the request
    /// under `key` at `estimate_usd`, then settles it at `cost` of the
    /// answer. A failed request is not billed.
    pub async fn send_budgeted<T, E, A, F>(
        &self,
        ledger: &Ledger,
        key: i64,
        estimate_usd: Option<f64>,
        attempt: A,
        cost: impl FnOnce(&T) -> Option<f64>,
    ) -> Result<Sent<T, E>, BudgetExceeded>
    where
        A: FnMut() -> F,
        F: Future<Output = Result<T, E>>,
        E: Retry,
    {
        ledger.admit(key, estimate_usd)?;
        let sent = self.send(attempt, |_| {}).await;
        let spent = match &sent.outcome {
            Ok(answer) => cost(answer),
            Err(_) => Some(0.0),
        };
        ledger.settle(key, spent);
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ProviderKind;
    use crate::targets::Budget;

    #[derive(Debug)]
    struct Failure {
        retryable: bool,
    }

    impl Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("failed")
        }
    }

    impl Retry for Failure {
        fn is_retryable(&self) -> bool {
            self.retryable
        }

        fn retry_after(&self) -> Option<Duration> {
            None
        }
    }

    const QUICK: Backoff = Backoff {
        base: Duration::from_millis(1),
        max: Duration::from_millis(1),
    };

    fn target(max_retries: u32) -> TargetSpec {
        let mut target = TargetSpec::new("t", ProviderKind::OpenAi, "http://h/v1", "m");
        target.max_retries = max_retries;
        target
    }

    async fn fail(retryable: bool) -> Result<(), Failure> {
        Err(Failure { retryable })
    }

    #[tokio::test]
    async fn retryable_failures_are_tried_until_the_retries_are_spent() {
        let (target, limiter) = (target(2), Limiter::new(1, None));
        let sender = Sender {
            target: &target,
            limiter: &limiter,
            backoff: &QUICK,
            slots: Slots::EachAttempt,
        };
        let mut failures = 0;
        let sent = sender.send(|| fail(true), |_| failures += 1).await;
        assert_eq!((sent.attempts, failures), (3, 3));
        assert!(sent.outcome.is_err());
        let sent = sender.send(|| fail(false), |_| {}).await;
        assert_eq!(sent.attempts, 1, "a final failure is not retried");
    }

    #[tokio::test]
    async fn a_held_slot_is_not_asked_for_again() {
        let (target, limiter) = (target(1), Limiter::new(1, None));
        let _held = limiter.slot().await;
        let sender = Sender {
            target: &target,
            limiter: &limiter,
            backoff: &QUICK,
            slots: Slots::Held,
        };
        let sent = sender.send(|| fail(true), |_| {}).await;
        assert_eq!(sent.attempts, 2);
    }

    #[tokio::test]
    async fn a_budgeted_failure_costs_nothing() {
        let (target, limiter) = (target(0), Limiter::new(1, None));
        let sender = Sender {
            target: &target,
            limiter: &limiter,
            backoff: &QUICK,
            slots: Slots::EachAttempt,
        };
        let budget = Budget {
            max_calls: Some(2),
            max_cost_usd: Some(1.0),
        };
        let ledger = Ledger::new(budget, 0, 0.0);
        let failed = sender
            .send_budgeted(&ledger, 1, Some(0.6), || fail(false), |_| Some(0.6))
            .await
            .expect("admitted");
        assert!(failed.outcome.is_err());
        let answered = sender
            .send_budgeted(
                &ledger,
                2,
                Some(0.6),
                || async { Ok::<(), Failure>(()) },
                |_| Some(0.6),
            )
            .await
            .expect("the failure spent nothing");
        assert!(answered.outcome.is_ok());
        let refused = sender
            .send_budgeted(&ledger, 3, None, || fail(false), |_| None)
            .await;
        assert!(matches!(refused, Err(BudgetExceeded::Calls { max: 2 })));
    }
}
