//! How fast a target is asked: at most `max_concurrency` requests at once,
//! at most `requests_per_second` request starts in any one-second window,
//! and retries that back off exponentially with jitter and never come
//! sooner than the server's `Retry-After`.
//!
//! The rate is kept by a sliding window of the last request starts rather
//! than by even spacing alone: even spacing lets `rate + 1` starts fall in
//! one closed second, the window cannot. Retries go through the same window,
//! so a burst of 429s cannot push a target over its rate.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt as _;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Concurrency and request-rate limits of one target.
pub struct Limiter {
    slots: Arc<Semaphore>,
    max_concurrency: usize,
    rate: Option<Mutex<RateWindow>>,
}

struct RateWindow {
    per_window: usize,
    window: Duration,
    starts: VecDeque<Instant>,
}

impl Limiter {
    pub fn new(max_concurrency: usize, requests_per_second: Option<f64>) -> Limiter {
        let max_concurrency = max_concurrency.max(1);
        let rate = requests_per_second
            .filter(|rps| rps.is_finite() && *rps > 0.0)
            .map(|rps| Mutex::new(RateWindow::new(rps)));
        Limiter {
            slots: Arc::new(Semaphore::new(max_concurrency)),
            max_concurrency,
            rate,
        }
    }

    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency
    }

    /// Waits for a free slot; the request counts as in flight until the
    /// permit is dropped.
    pub async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().acquire_owned().await.ok()
    }

    /// A free slot if there is one now.
    pub fn try_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Waits until one more request may start without breaking the rate.
    pub async fn pace(&self) {
        let Some(rate) = &self.rate else {
            return;
        };
        // Holding the lock while sleeping queues the callers in order.
        let mut window = rate.lock().await;
        let wait_until = window.next_start(Instant::now());
        tokio::time::sleep_until(wait_until).await;
        window.record(wait_until.max(Instant::now()));
    }
}

impl RateWindow {
    /// A fractional rate such as 0.5/s becomes 1 start per 2 s.
    fn new(requests_per_second: f64) -> RateWindow {
        let (per_window, window) = if requests_per_second >= 1.0 {
            (requests_per_second.floor() as usize, Duration::from_secs(1))
        } else {
            (1, Duration::from_secs_f64(1.0 / requests_per_second))
        };
        RateWindow {
            per_window: per_window.max(1),
            window,
            starts: VecDeque::new(),
        }
    }

    /// The earliest instant at which another start keeps every window
    /// within the limit.
    fn next_start(&mut self, now: Instant) -> Instant {
        while let Some(oldest) = self.starts.front() {
            if *oldest + self.window <= now {
                self.starts.pop_front();
            } else {
                break;
            }
        }
        if self.starts.len() < self.per_window {
            return now;
        }
        let index = self.starts.len() - self.per_window;
        self.starts[index] + self.window
    }

    fn record(&mut self, start: Instant) {
        self.starts.push_back(start);
        while self.starts.len() > self.per_window {
            self.starts.pop_front();
        }
    }
}

/// Exponential backoff with jitter between retries.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(250),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (1 for the first retry):
    /// `base * 2^(retry-1)`, capped, scaled by a random factor in
    /// `[0.5, 1.0]` so that clients that failed together do not retry
    /// together, and never less than the server's `Retry-After`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let ceiling = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let factor: f64 = rand::rng().random_range(0.5..=1.0);
        let jittered = ceiling.mul_f64(factor);
        match retry_after {
            Some(asked) => jittered.max(asked),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            let first = backoff.delay(1, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = backoff.delay(3, None);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = backoff.delay(30, None);
            assert!(late <= Duration::from_millis(1000));
            let asked = backoff.delay(1, Some(Duration::from_secs(2)));
            assert!(asked >= Duration::from_secs(2));
        }
    }

    #[test]
    fn the_window_never_holds_more_than_the_rate() {
        let mut window = RateWindow::new(3.0);
        let start = Instant::now();
        let mut starts = Vec::new();
        let mut now = start;
        for _ in 0..10 {
            let at = window.next_start(now);
            window.record(at);
            starts.push(at);
            now = at;
        }
        for (i, at) in starts.iter().enumerate() {
            let in_window = starts[i..]
                .iter()
                .filter(|later| **later < *at + Duration::from_secs(1))
                .count();
            assert!(
                in_window <= 3,
                "{in_window} starts within a second of start {i}"
            );
        }
        // The first three go at once, the fourth a second after the first.
        assert_eq!(starts[2], start);
        assert_eq!(starts[3], start + Duration::from_secs(1));
    }

    #[test]
    fn a_fractional_rate_spaces_single_starts() {
        let mut window = RateWindow::new(0.5);
        let now = Instant::now();
        let first = window.next_start(now);
        window.record(first);
        assert_eq!(window.next_start(now), first + Duration::from_secs(2));
    }

    #[tokio::test]
    async fn slots_bound_concurrency() {
        let limiter = Limiter::new(2, None);
        let a = limiter.slot().await;
        let b = limiter.try_slot();
        assert!(a.is_some() && b.is_some());
        assert!(limiter.try_slot().is_none());
        drop(a);
        assert!(limiter.try_slot().is_some());
    }
}
