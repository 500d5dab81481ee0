//! What the server remembers: its current config, every request it was
//! sent (with secrets redacted), counters for the stats, and the per-model
//! counts that decide when scripted failures fire and which attempt a judge
//! prompt is on.
//!
//! All of it sits behind one mutex: requests to a fake provider are few
//! and short, and one lock keeps the stats consistent with the records.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tokio::sync::watch;

use super::config::{FailureRule, FakeConfig};

/// What replaces the value of a secret header in the records.
pub const REDACTED: &str = "[REDACTED]";

/// Headers whose values are credentials: recorded as [`REDACTED`], so tests
/// can check a key was sent and that it never shows up in the records.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
];

/// One request as the fake provider received it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Arrival order, from 1; not reset by `reset` so ids stay unique.
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Lower-case names; repeated headers joined by ", "; secrets redacted.
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON; `None` when empty or not JSON.
    pub body: Option<Json>,
    pub body_bytes: usize,
    /// The body's `model` field, when it has one.
    pub model: Option<String>,
    /// The body's `stream` field.
    pub stream: bool,
    /// Wall-clock arrival time (when the whole body had been read).
    pub received_unix_nano: u64,
    /// The same arrival, in nanoseconds since the server started, from a
    /// monotonic clock: use this to check request rates.
    pub received_monotonic_ns: u64,
}

impl RecordedRequest {
    /// A header's recorded value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Counters over the requests since start or the last reset. Requests to
/// the `/_fake/` inspection endpoints are not counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FakeStats {
    pub total_requests: u64,
    pub requests_by_path: BTreeMap<String, u64>,
    pub requests_by_model: BTreeMap<String, u64>,
    /// Scripted failures served, by kind (`rate_limit`, `hang`, …).
    pub failures_by_kind: BTreeMap<String, u64>,
    /// Requests being handled now (a stream counts until its last byte).
    pub in_flight: u64,
    /// The most requests that were in flight at once.
    pub max_in_flight: u64,
    /// Records dropped to stay within `max_recorded_requests`.
    pub recorded_requests_dropped: u64,
}

/// Everything behind the lock.
#[derive(Default)]
struct Book {
    next_seq: u64,
    requests: VecDeque<RecordedRequest>,
    stats: FakeStats,
    /// Matching requests seen per (model, failure rule index).
    failure_matches: HashMap<(String, usize), u64>,
    /// Answered attempts per (model, prompt fingerprint).
    judge_attempts: HashMap<(String, u64), u32>,
}

/// State shared by every connection and handler.
pub(crate) struct Shared {
    config: RwLock<Arc<FakeConfig>>,
    book: Mutex<Book>,
    started_at: Instant,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(config: FakeConfig) -> Arc<Self> {
        let (shutdown, _) = watch::channel(false);
        Arc::new(Self {
            config: RwLock::new(Arc::new(config)),
            book: Mutex::new(Book {
                next_seq: 1,
                ..Book::default()
            }),
            started_at: Instant::now(),
            shutdown,
        })
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // A panic while holding the lock leaves plain counters behind,
        // which are still fine to read and update.
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn config(&self) -> Arc<FakeConfig> {
        let guard = self.config.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&guard)
    }

    /// Replaces the config. Failure and judge counters start over, since
    /// they count per rule of the old config.
    pub(crate) fn set_config(&self, config: FakeConfig) {
        let mut guard = self.config.write().unwrap_or_else(PoisonError::into_inner);
        *guard = Arc::new(config);
        drop(guard);
        let mut book = self.book();
        book.failure_matches.clear();
        book.judge_attempts.clear();
    }

    /// Forgets recorded requests, stats and counters; keeps the config and
    /// the requests in flight.
    pub(crate) fn reset(&self) {
        let mut book = self.book();
        let in_flight = book.stats.in_flight;
        book.requests.clear();
        book.failure_matches.clear();
        book.judge_attempts.clear();
        book.stats = FakeStats {
            in_flight,
            max_in_flight: in_flight,
            ..FakeStats::default()
        };
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.book().requests.iter().cloned().collect()
    }

    pub(crate) fn stats(&self) -> FakeStats {
        self.book().stats.clone()
    }

    /// Records an arriving request and counts it in flight until the
    /// returned guard is dropped. Returns the request's sequence number.
    pub(crate) fn arrive(
        self: &Arc<Self>,
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (u64, InFlight) {
        let parsed: Option<Json> = serde_json::from_slice(body).ok();
        let model = parsed
            .as_ref()
            .and_then(|json| json.get("model"))
            .and_then(Json::as_str)
            .map(str::to_string);
        let stream = parsed
            .as_ref()
            .and_then(|json| json.get("stream"))
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let received_unix_nano = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos() as u64)
            .unwrap_or(0);
        let received_monotonic_ns = self.started_at.elapsed().as_nanos() as u64;
        let max_records = self.config().max_recorded_requests;

        let mut book = self.book();
        let seq = book.next_seq;
        book.next_seq += 1;
        let record = RecordedRequest {
            seq,
            method: method.to_string(),
            path: path.to_string(),
            query: query.map(str::to_string),
            headers: redacted_headers(headers),
            body: parsed,
            body_bytes: body.len(),
            model: model.clone(),
            stream,
            received_unix_nano,
            received_monotonic_ns,
        };
        book.requests.push_back(record);
        while book.requests.len() > max_records {
            book.requests.pop_front();
            book.stats.recorded_requests_dropped += 1;
        }
        let stats = &mut book.stats;
        stats.total_requests += 1;
        *stats.requests_by_path.entry(path.to_string()).or_default() += 1;
        if let Some(model) = model {
            *stats.requests_by_model.entry(model).or_default() += 1;
        }
        stats.in_flight += 1;
        stats.max_in_flight = stats.max_in_flight.max(stats.in_flight);
        (seq, InFlight(Arc::clone(self)))
    }

    /// The first of `rules` that fires for this request, counting the
    /// request against every rule it matches.
    pub(crate) fn pick_failure(
        &self,
        model: &str,
        rules: &[FailureRule],
        text: &str,
    ) -> Option<FailureRule> {
        let mut book = self.book();
        let mut fired: Option<FailureRule> = None;
        for (index, rule) in rules.iter().enumerate() {
            if let Some(needle) = &rule.contains
                && !text.contains(needle.as_str())
            {
                continue;
            }
            let count = book
                .failure_matches
                .entry((model.to_string(), index))
                .or_default();
            *count += 1;
            if fired.is_none() && fires(rule, *count) {
                fired = Some(rule.clone());
            }
        }
        if let Some(rule) = &fired {
            *book
                .stats
                .failures_by_kind
                .entry(rule.kind.as_str().to_string())
                .or_default() += 1;
        }
        fired
    }

    /// Counts one more answered attempt at a judge prompt and returns its
    /// number, from 1.
    pub(crate) fn next_judge_attempt(&self, model: &str, fingerprint: u64) -> u32 {
        let mut book = self.book();
        let attempts = book
            .judge_attempts
            .entry((model.to_string(), fingerprint))
            .or_default();
        *attempts += 1;
        *attempts
    }

    pub(crate) fn shutdown_receiver(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Resolves once the server is shutting down.
    pub(crate) async fn shutting_down(&self) {
        let mut receiver = self.shutdown.subscribe();
        // An error means the sender is gone, which is a shutdown too.
        let _ = receiver.wait_for(|stopping| *stopping).await;
    }
}

/// Whether a rule fires on its `count`-th matching request.
fn fires(rule: &FailureRule, count: u64) -> bool {
    match (rule.first, rule.every) {
        (None, None) => true,
        (first, every) => {
            let in_first = first.is_some_and(|first| count <= first);
            let on_period = every.is_some_and(|every| count.is_multiple_of(every.get()));
            in_first || on_period
        }
    }
}

fn redacted_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut recorded: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let name = name.as_str();
        let text = if SECRET_HEADERS.contains(&name) {
            REDACTED.to_string()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        match recorded.get_mut(name) {
            Some(existing) => {
                existing.push_str(", ");
                existing.push_str(&text);
            }
            None => {
                recorded.insert(name.to_string(), text);
            }
        }
    }
    recorded
}

/// A request in flight; dropping it counts the request as done.
pub(crate) struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut book = self.0.book();
        book.stats.in_flight = book.stats.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::FailureKind;
    use std::num::NonZeroU64;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn secret_headers_are_redacted_but_present() {
        let recorded = redacted_headers(&headers(&[
            ("authorization", "Bearer sk-secret"),
            ("x-api-key", "sk-ant-secret"),
            ("accept", "a"),
            ("accept", "b"),
        ]));
        assert_eq!(recorded["authorization"], REDACTED);
        assert_eq!(recorded["x-api-key"], REDACTED);
        assert_eq!(recorded["accept"], "a, b");
    }

    #[test]
    fn first_and_every_fire_on_the_right_counts() {
        let first_two = FailureRule::first(FailureKind::RateLimit, 2);
        let fired: Vec<bool> = (1..=4).map(|count| fires(&first_two, count)).collect();
        assert_eq!(fired, vec![true, true, false, false]);
        let every_third = FailureRule::every(FailureKind::ServerError, NonZeroU64::new(3).unwrap());
        let fired: Vec<bool> = (1..=6).map(|count| fires(&every_third, count)).collect();
        assert_eq!(fired, vec![false, false, true, false, false, true]);
        assert!(fires(&FailureRule::always(FailureKind::Hang), 99));
    }

    #[test]
    fn failures_count_per_model_and_only_matching_text() {
        let shared = Shared::new(FakeConfig::default());
        let mut rule = FailureRule::first(FailureKind::RateLimit, 1);
        rule.contains = Some("bad".to_string());
        let rules = vec![rule];
        assert!(shared.pick_failure("m", &rules, "good item").is_none());
        assert!(shared.pick_failure("m", &rules, "bad item").is_some());
        assert!(shared.pick_failure("m", &rules, "bad item").is_none());
        assert!(shared.pick_failure("other", &rules, "bad item").is_some());
        assert_eq!(shared.stats().failures_by_kind["rate_limit"], 2);
    }

    #[test]
    fn records_are_bounded_oldest_first() {
        let config = FakeConfig {
            max_recorded_requests: 2,
            ..FakeConfig::default()
        };
        let shared = Shared::new(config);
        for _ in 0..3 {
            let (_, guard) = shared.arrive("POST", "/v1/x", None, &HeaderMap::new(), b"{}");
            drop(guard);
        }
        let seqs: Vec<u64> = shared
            .requests()
            .iter()
            .map(|request| request.seq)
            .collect();
        assert_eq!(seqs, vec![2, 3]);
        let stats = shared.stats();
        assert_eq!(stats.recorded_requests_dropped, 1);
        assert_eq!(stats.total_requests, 3);
        assert_eq!(stats.in_flight, 0);
    }
}
