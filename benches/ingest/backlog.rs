//! The server's work still owed after an acknowledgement, from `GET
//! /healthz`: `queued_bytes` (the write queue) and every numeric field
//! whose name starts with `pending_` (`pending_links`, and in the staged
//! pipeline `pending_derive_spans`, `pending_derive_bytes`, …). When all
//! are 0, every acknowledged span is queryable as its calls: that moment
//! ends the end-to-end measurement.
//!
//! A field the server does not report counts as 0, so one bench runs
//! against servers before and after the staged pipeline; the fields seen
//! are reported, which says which kind of server was measured.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::BenchError;

/// Short enough to add little to the end-to-end time, long enough not to
/// load the server being measured.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// A backlog that lasts this long is a stuck server, not a slow one.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(600);

/// The backlog fields of one `/healthz` answer, by name.
pub type Backlog = BTreeMap<String, f64>;

/// When the backlog was first seen empty.
pub struct Drained {
    /// When the answer that showed it empty arrived: the backlog emptied at
    /// most one poll interval and one round trip before.
    pub at: Instant,
    /// The backlog at the first poll, right after the last acknowledgement.
    pub first: Backlog,
}

/// Polls `/healthz` until every backlog field is 0.
pub async fn wait_until_drained(
    client: &reqwest::Client,
    base_url: &str,
) -> Result<Drained, BenchError> {
    let started = Instant::now();
    let mut interval = tokio::time::interval(POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = None;
    loop {
        interval.tick().await;
        // A 503 says the server is busy, not that the run failed: ask again.
        if let Some(backlog) = read(client, base_url).await? {
            let empty = backlog.values().all(|value| *value == 0.0);
            let first = first.get_or_insert(backlog);
            if empty {
                return Ok(Drained {
                    at: Instant::now(),
                    first: first.clone(),
                });
            }
        }
        if started.elapsed() > DRAIN_TIMEOUT {
            return Err(BenchError::Backlog(format!(
                "it did not empty within {} s; it was {first:?} at the first poll",
                DRAIN_TIMEOUT.as_secs()
            )));
        }
    }
}

/// The backlog fields of `/healthz`; `null` counts as 0 (an age with
/// nothing pending). `None` when the server answers 503 (unavailable).
pub async fn read(client: &reqwest::Client, base_url: &str) -> Result<Option<Backlog>, BenchError> {
    let url = format!("{base_url}/healthz");
    let failed = |message: String| BenchError::Backlog(format!("GET {url}: {message}"));
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| failed(e.to_string()))?;
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(failed(format!("answered {status}: {text}")));
    }
    let health: Value =
        serde_json::from_str(&text).map_err(|e| failed(format!("not JSON: {e}")))?;
    let Some(fields) = health.as_object() else {
        return Err(failed("not a JSON object".into()));
    };
    let mut backlog = Backlog::new();
    for (name, value) in fields {
        if name != "queued_bytes" && !name.starts_with("pending_") {
            continue;
        }
        let number = match value {
            Value::Null => 0.0,
            other => other
                .as_f64()
                .ok_or_else(|| failed(format!("{name} is not a number: {other}")))?,
        };
        backlog.insert(name.clone(), number);
    }
    Ok(Some(backlog))
}
