//! Sending the workload: `clients` concurrent exporters take the next
//! request in order, `POST` it to `/v1/traces`, and wait for the answer,
//! as OTLP exporters do. A 429 or 503 is waited out for its `Retry-After`
//! and sent again, so every request ends acknowledged; since the server
//! answers 200 only after the data is committed, the acknowledgement rate
//! is the commit rate.
//!
//! With an interval (`--rate`), request `i` is not sent before `i`
//! intervals after the start: a steady offered load instead of as much as
//! the server takes. Each acknowledgement can also be announced as it
//! happens, for the freshness probes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{StatusCode, header};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use crate::error::BenchError;

/// Connection errors are retried this often before the run fails.
const MAX_TRANSPORT_ATTEMPTS: u32 = 3;
/// When a refusal carries no usable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How to send.
pub struct SendOptions {
    pub clients: usize,
    /// The bodies are already gzip-compressed.
    pub gzip: bool,
    /// Time between the scheduled starts of consecutive requests; `None`
    /// sends each as soon as a client is free.
    pub interval: Option<Duration>,
    /// Told of every acknowledgement.
    pub acks: Option<UnboundedSender<Ack>>,
}

/// Request `index` was acknowledged at `at`.
#[derive(Debug, Clone, Copy)]
pub struct Ack {
    pub index: usize,
    pub at: Instant,
}

pub struct Outcome {
    /// When the first request was sent: the start of every rate.
    pub started: Instant,
    /// Latency of each accepted attempt, from sending to the full answer.
    pub latencies: Vec<Duration>,
    /// When each request was acknowledged, from the start of the run.
    pub ack_times: Vec<Duration>,
    pub wall: Duration,
    pub status_429: u64,
    pub status_503: u64,
    /// Bytes of the accepted request bodies as sent (after gzip when enabled).
    pub wire_bytes: u64,
}

/// What one client saw.
#[derive(Default)]
struct ClientTally {
    latencies: Vec<Duration>,
    ack_times: Vec<Duration>,
    status_429: u64,
    status_503: u64,
    wire_bytes: u64,
}

/// Posts every body to `{base_url}/v1/traces` from `options.clients` tasks.
pub async fn send_all(
    base_url: &str,
    bodies: Arc<Vec<Bytes>>,
    options: SendOptions,
) -> Result<Outcome, BenchError> {
    let clients = options.clients.max(1);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(600))
        .build()
        .map_err(BenchError::Client)?;
    let url = format!("{base_url}/v1/traces");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..clients {
        let exporter = Exporter {
            client: client.clone(),
            url: url.clone(),
            gzip: options.gzip,
            interval: options.interval,
            acks: options.acks.clone(),
            started,
        };
        let bodies = Arc::clone(&bodies);
        let next = Arc::clone(&next);
        tasks.spawn(async move { exporter.run(&bodies, &next).await });
    }
    // Only the clients' copies may keep the acknowledgement channel open.
    drop(options.acks);
    let mut outcome = Outcome {
        started,
        latencies: Vec::with_capacity(bodies.len()),
        ack_times: Vec::with_capacity(bodies.len()),
        wall: Duration::ZERO,
        status_429: 0,
        status_503: 0,
        wire_bytes: 0,
    };
    while let Some(joined) = tasks.join_next().await {
        let tally = joined.map_err(BenchError::Join)??;
        outcome.latencies.extend(tally.latencies);
        outcome.ack_times.extend(tally.ack_times);
        outcome.status_429 += tally.status_429;
        outcome.status_503 += tally.status_503;
        outcome.wire_bytes += tally.wire_bytes;
    }
    outcome.wall = started.elapsed();
    Ok(outcome)
}

/// One exporting client.
struct Exporter {
    client: reqwest::Client,
    url: String,
    gzip: bool,
    interval: Option<Duration>,
    acks: Option<UnboundedSender<Ack>>,
    started: Instant,
}

impl Exporter {
    /// Takes the next request until none is left.
    async fn run(self, bodies: &[Bytes], next: &AtomicUsize) -> Result<ClientTally, BenchError> {
        let mut tally = ClientTally::default();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(body) = bodies.get(index) else {
                return Ok(tally);
            };
            if let Some(interval) = self.interval {
                // A late request goes at once: the schedule is not reset,
                // so a server that falls behind gets the backlog.
                let due = self.started + interval.saturating_mul(index as u32);
                tokio::time::sleep_until(due.into()).await;
            }
            export(&self.client, &self.url, index, body, self.gzip, &mut tally).await?;
            let at = Instant::now();
            tally.ack_times.push(at - self.started);
            if let Some(acks) = &self.acks {
                // The listener may be gone after an error of its own.
                let _ = acks.send(Ack { index, at });
            }
        }
    }
}

/// Sends one request until it is accepted.
async fn export(
    client: &reqwest::Client,
    url: &str,
    index: usize,
    body: &Bytes,
    gzip: bool,
    tally: &mut ClientTally,
) -> Result<(), BenchError> {
    let mut transport_failures = 0;
    loop {
        let mut request = client
            .post(url)
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .body(body.clone());
        if gzip {
            request = request.header(header::CONTENT_ENCODING, "gzip");
        }
        let sent = Instant::now();
        let result = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let retry_after = retry_after(response.headers());
                response
                    .bytes()
                    .await
                    .map(|answer| (status, retry_after, answer))
            }
            Err(error) => Err(error),
        };
        let (status, retry_after, answer) = match result {
            Ok(parts) => parts,
            Err(source) => {
                transport_failures += 1;
                if transport_failures >= MAX_TRANSPORT_ATTEMPTS {
                    return Err(BenchError::Transport {
                        index,
                        attempts: transport_failures,
                        source,
                    });
                }
                tokio::time::sleep(DEFAULT_RETRY_AFTER).await;
                continue;
            }
        };
        let latency = sent.elapsed();
        match status {
            StatusCode::OK => {
                tally.wire_bytes += body.len() as u64;
                check_partial_success(index, &answer)?;
                tally.latencies.push(latency);
                return Ok(());
            }
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                if status == StatusCode::TOO_MANY_REQUESTS {
                    tally.status_429 += 1;
                } else {
                    tally.status_503 += 1;
                }
                tokio::time::sleep(retry_after.unwrap_or(DEFAULT_RETRY_AFTER)).await;
            }
            other => {
                return Err(BenchError::Refused {
                    index,
                    status: other.as_u16(),
                    body: String::from_utf8_lossy(&answer).chars().take(500).collect(),
                });
            }
        }
    }
}

/// `Retry-After` in seconds (the only form the server sends).
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    let seconds: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// A 200 can still reject part of the request; for a benchmark of valid
/// data that is a failure.
fn check_partial_success(index: usize, answer: &[u8]) -> Result<(), BenchError> {
    let Ok(response) = ExportTraceServiceResponse::decode(answer) else {
        return Err(BenchError::Refused {
            index,
            status: 200,
            body: "the answer is not an ExportTraceServiceResponse".into(),
        });
    };
    if let Some(partial) = response.partial_success
        && (partial.rejected_spans > 0 || !partial.error_message.is_empty())
    {
        return Err(BenchError::PartialSuccess {
            index,
            rejected: partial.rejected_spans,
            message: partial.error_message,
        });
    }
    Ok(())
}
