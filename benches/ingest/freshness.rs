//! `--rate`: how long after its acknowledgement an export can be queried
//! as calls. Once the server derives calls behind the acknowledgement,
//! throughput alone hides the lag users see; this measures it under a
//! steady load.
//!
//! The first acknowledgement at least [`PICK_INTERVAL`] after the last
//! pick is taken (when its request has a probe trace, see
//! [`Request::probe_trace`](crate::batches::Request::probe_trace)), and
//! `GET /api/v1/calls?trace_id=…&limit=1` is asked at once and then every
//! [`POLL_INTERVAL`] until the trace has a call. Probing as soon as the
//! acknowledgement arrives keeps the wait for a pick out of the figure;
//! one export per interval keeps the probes' own load on the server small
//! and steady.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::{JoinHandle, JoinSet};

use crate::error::BenchError;
use crate::transport::Ack;
use crate::verify;

/// At most one export is picked for a probe in each interval this long.
const PICK_INTERVAL: Duration = Duration::from_millis(100);
/// How often a probe asks: the resolution of the measurement.
const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// A call not queryable this long after its acknowledgement is reported as
/// timed out rather than waited for.
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Freshness {
    /// Acknowledgement to queryable, for each probe that saw its call.
    pub latencies: Vec<Duration>,
    /// Probes whose call did not show up within [`PROBE_TIMEOUT`].
    pub timed_out: usize,
}

/// Starts picking and probing; send acknowledgements into the returned
/// sender and drop it when the run is over, then await the handle.
pub fn start(
    base_url: &str,
    probe_traces: Arc<Vec<Option<String>>>,
) -> (
    UnboundedSender<Ack>,
    JoinHandle<Result<Freshness, BenchError>>,
) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let base_url = base_url.to_owned();
    let handle = tokio::spawn(async move { pick(base_url, probe_traces, receiver).await });
    (sender, handle)
}

async fn pick(
    base_url: String,
    probe_traces: Arc<Vec<Option<String>>>,
    mut acks: UnboundedReceiver<Ack>,
) -> Result<Freshness, BenchError> {
    let client = reqwest::Client::new();
    let mut probes = JoinSet::new();
    let mut next_pick = Instant::now();
    while let Some(ack) = acks.recv().await {
        if ack.at < next_pick {
            continue;
        }
        let Some(Some(trace_id)) = probe_traces.get(ack.index) else {
            continue;
        };
        next_pick = ack.at + PICK_INTERVAL;
        let client = client.clone();
        let base_url = base_url.clone();
        let trace_id = trace_id.clone();
        probes.spawn(async move { probe(&client, &base_url, &trace_id, ack.at).await });
    }
    let mut freshness = Freshness {
        latencies: Vec::new(),
        timed_out: 0,
    };
    while let Some(joined) = probes.join_next().await {
        match joined.map_err(BenchError::Join)?? {
            Some(latency) => freshness.latencies.push(latency),
            None => freshness.timed_out += 1,
        }
    }
    Ok(freshness)
}

/// Time from `acked_at` until the trace's call is listed; `None` after
/// [`PROBE_TIMEOUT`].
async fn probe(
    client: &reqwest::Client,
    base_url: &str,
    trace_id: &str,
    acked_at: Instant,
) -> Result<Option<Duration>, BenchError> {
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let calls = verify::calls_in_trace(client, base_url, trace_id, 1)
            .await
            .map_err(|message| BenchError::Freshness {
                trace_id: trace_id.to_owned(),
                message,
            })?;
        // The answer's arrival, not the question's: the call was
        // queryable at most one round trip earlier.
        let now = Instant::now();
        if calls > 0 {
            return Ok(Some(now - acked_at));
        }
        if now - acked_at > PROBE_TIMEOUT {
            return Ok(None);
        }
    }
}
