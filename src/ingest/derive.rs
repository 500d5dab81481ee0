//! The deriver: turns acknowledged exports into spans, log records and
//! calls, behind the acknowledgement.
//!
//! An export is acknowledged once it is appended to `ingest_log` as
//! received ([`super::pipeline`]). This task takes the oldest pending
//! exports in batches, does everything else — redaction, normalization
//! into calls, content addressing, compression — and hands the result to
//! the writer together with the exports it came from, which the writer
//! deletes in the same transaction. So a crash at any point leaves each
//! export either pending (derived again after the restart, from the start)
//! or derived and gone, never both: every span, call, full-text entry and
//! rollup counts once.
//!
//! Redaction runs here, so a secret in an export lives in `ingest_log` only
//! until its batch is derived, and never reaches a derived table.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::error::IngestError;
use super::otlp::{convert, protobuf};
use super::pipeline::Ingest;
use super::{calls, prepare};
use crate::metrics;
use crate::model::TraceId;
use crate::model::project::Project;
use crate::model::telemetry::{LogGroup, SpanGroup};
use crate::store::ReadError;
use crate::store::backlog::BacklogLevel;
use crate::store::read::appends::PendingAppend;
use crate::store::write::appends::ExportKind;
use crate::store::write::batch::WriteBatch;

/// How far derivation may fall behind before new exports are refused (429
/// / RESOURCE_EXHAUSTED with Retry-After), so the backlog never grows
/// without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogBounds {
    /// Compressed bytes of pending exports.
    pub max_stored_bytes: u64,
    /// Age of the oldest pending export.
    pub max_age: Duration,
}

impl Default for BacklogBounds {
    fn default() -> Self {
        BacklogBounds {
            max_stored_bytes: 256 << 20,
            max_age: Duration::from_secs(120),
        }
    }
}

impl BacklogBounds {
    /// `Err` with what is over its bound, when something is.
    pub fn check(&self, level: &BacklogLevel) -> Result<(), String> {
        if level.stored_bytes >= self.max_stored_bytes {
            return Err(format!(
                "{} bytes pending, bound {}",
                level.stored_bytes, self.max_stored_bytes
            ));
        }
        if level.exports > 0 && level.oldest_age >= self.max_age {
            return Err(format!(
                "oldest pending for {} s, bound {} s",
                level.oldest_age.as_secs(),
                self.max_age.as_secs()
            ));
        }
        Ok(())
    }
}

/// How the deriver sizes its batches.
#[derive(Debug, Clone, Copy)]
pub struct DeriveSettings {
    /// Most spans and log records per batch: larger batches share the
    /// writer's per-transaction and per-statement costs among more rows.
    pub max_items: u64,
    /// Most decompressed export bytes per batch, which bounds the memory
    /// a batch takes while it is derived: its decoded records, calls,
    /// encodings and packs come to several times its protobuf. Under the
    /// ingest bench, with two batches in flight, the server's peak RSS was
    /// 224 MB at 4 MB per batch and 154 MB at 2 MB.
    pub max_raw_bytes: u64,
    /// A pause before each batch. Zero in production; tests set it to
    /// hold a backlog (`--derive-pause`).
    pub pause: Duration,
}

impl Default for DeriveSettings {
    fn default() -> Self {
        DeriveSettings {
            max_items: 4096,
            max_raw_bytes: 2 << 20,
            pause: Duration::ZERO,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    #[error("cannot read pending exports: {0}")]
    Read(#[from] ReadError),
    #[error("pending export {seq} does not decode: {error}")]
    Decode { seq: i64, error: prost::DecodeError },
    #[error(transparent)]
    Store(#[from] IngestError),
}

impl DeriveError {
    /// Whether deriving the same exports again cannot help: a corrupt
    /// export, or content that fails normalization (a bug), as opposed to a
    /// store that cannot read or write right now.
    fn is_permanent(&self) -> bool {
        match self {
            DeriveError::Read(ReadError::Database(_)) => false,
            DeriveError::Read(_) | DeriveError::Decode { .. } => true,
            DeriveError::Store(error) => matches!(error, IngestError::Internal(_)),
        }
    }
}

/// The longest a stopping server spends deriving what is pending; the rest
/// is derived after the next start.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Batches derived at once: one's CPU work overlaps the other's commit,
/// and on two cores both are busy.
const IN_FLIGHT: usize = 2;

/// Runs the deriver until `stop` turns true, then derives what is pending
/// (for at most [`DRAIN_LIMIT`]) and returns. The server stops it once its
/// listeners have stopped, so a clean stop leaves nothing acknowledged
/// underived, and no unredacted export in the file.
pub fn spawn(
    ingest: Ingest,
    settings: DeriveSettings,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        Deriver {
            ingest,
            settings,
            in_flight: JoinSet::new(),
            handed_out: 0,
            failures: 0,
        }
        .run(stop)
        .await
    })
}

struct Deriver {
    ingest: Ingest,
    settings: DeriveSettings,
    /// Batches being derived, each with its seqs.
    in_flight: JoinSet<(Vec<i64>, Result<usize, DeriveError>)>,
    /// The newest seq handed to a batch: the next batch starts after it.
    handed_out: i64,
    failures: u32,
}

impl Deriver {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                while self.in_flight.join_next().await.is_some() {}
                drain(&self.ingest, &self.settings).await;
                return;
            }
            if self.in_flight.len() < IN_FLIGHT && self.start_next() {
                continue;
            }
            let backlog = self.ingest.store.backlog.clone();
            let handed_out = self.handed_out;
            tokio::select! {
                Some(joined) = self.in_flight.join_next() => self.settle(joined, &mut stop).await,
                _ = backlog.wait_for_work(handed_out), if self.in_flight.len() < IN_FLIGHT => {
                    self.pause(&mut stop).await;
                }
                _ = stop.changed() => {}
            }
        }
    }

    /// Hands the next pending exports to a batch; false when none waits.
    fn start_next(&mut self) -> bool {
        let Some(seqs) = self.ingest.store.backlog.next_batch(
            self.handed_out,
            self.settings.max_items,
            self.settings.max_raw_bytes,
        ) else {
            return false;
        };
        self.handed_out = *seqs.last().unwrap_or(&self.handed_out);
        let ingest = self.ingest.clone();
        self.in_flight.spawn(async move {
            let result = derive(&ingest, &seqs).await;
            (seqs, result)
        });
        true
    }

    /// Deals with a finished batch. After a failure the batches in flight
    /// finish, and the next ones start again from the oldest pending export.
    async fn settle(
        &mut self,
        joined: Result<(Vec<i64>, Result<usize, DeriveError>), tokio::task::JoinError>,
        stop: &mut watch::Receiver<bool>,
    ) {
        let (seqs, result) = match joined {
            Ok(done) => done,
            Err(error) => (
                Vec::new(),
                Err(IngestError::Internal(error.to_string()).into()),
            ),
        };
        let Err(error) = result else {
            self.failures = 0;
            return;
        };
        metrics::derive_failed();
        while self.in_flight.join_next().await.is_some() {}
        self.handed_out = 0;
        if error.is_permanent() && !seqs.is_empty() {
            isolate(&self.ingest, &seqs, error).await;
            return;
        }
        self.failures += 1;
        tracing::warn!(%error, failures = self.failures, "deriving acknowledged exports failed; retrying");
        let backoff = Duration::from_millis(100 << self.failures.min(6));
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => {}
        }
    }

    /// The pause tests set before each batch.
    async fn pause(&self, stop: &mut watch::Receiver<bool>) {
        if !self.settings.pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(self.settings.pause) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Derives what is pending, until nothing is, a batch fails, or the limit.
async fn drain(ingest: &Ingest, settings: &DeriveSettings) {
    let started = std::time::Instant::now();
    while !ingest.store.backlog.is_empty() && started.elapsed() < DRAIN_LIMIT {
        if let Err(error) = derive_next(ingest, settings).await {
            tracing::warn!(%error, "deriving before stopping failed; the rest is derived after the next start");
            return;
        }
    }
    let level = ingest.store.backlog.level();
    if level.exports > 0 {
        tracing::info!(
            exports = level.exports,
            "stopping with exports not yet derived; they are derived after the next start"
        );
    }
}

/// Derives the oldest pending exports; returns how many were derived.
async fn derive_next(ingest: &Ingest, settings: &DeriveSettings) -> Result<usize, DeriveError> {
    let Some(next) = ingest
        .store
        .backlog
        .next_batch(0, settings.max_items, settings.max_raw_bytes)
    else {
        return Ok(0);
    };
    derive(ingest, &next).await
}

/// After a batch failed for good: derives its exports one at a time, and
/// moves each that fails for good on its own to `ingest_failed`, so one bad
/// export does not hold up those behind it. A failure that may pass leaves
/// the rest for the next round.
async fn isolate(ingest: &Ingest, seqs: &[i64], batch_error: DeriveError) {
    if let [seq] = seqs {
        quarantine(ingest, *seq, &batch_error).await;
        return;
    }
    for seq in seqs {
        match derive(ingest, std::slice::from_ref(seq)).await {
            Ok(_) => {}
            Err(error) if error.is_permanent() => quarantine(ingest, *seq, &error).await,
            Err(error) => {
                tracing::warn!(%error, "deriving exports one at a time failed; retrying");
                return;
            }
        }
    }
}

async fn quarantine(ingest: &Ingest, seq: i64, error: &DeriveError) {
    tracing::error!(
        seq,
        %error,
        "an acknowledged export cannot be derived; it is kept in ingest_failed"
    );
    let batch = WriteBatch {
        quarantined: vec![(seq, error.to_string())],
        ..WriteBatch::default()
    };
    match ingest.store.queue.write_when_room(batch).await {
        Ok(_) => metrics::derive_quarantined(),
        Err(error) => tracing::warn!(seq, %error, "cannot set the export aside; retrying"),
    }
}

/// Derives the exports with these seqs; returns how many were derived.
async fn derive(ingest: &Ingest, seqs: &[i64]) -> Result<usize, DeriveError> {
    let store = &ingest.store;
    let appends = store.reader.appends(seqs).await?;
    if appends.len() < seqs.len() {
        // Only the writer deletes appends, and it tells the backlog first;
        // a seq the table lacks would otherwise stay pending forever.
        let found: std::collections::HashSet<i64> = appends.iter().map(|a| a.seq).collect();
        let missing: Vec<i64> = seqs
            .iter()
            .copied()
            .filter(|s| !found.contains(s))
            .collect();
        tracing::error!(?missing, "pending exports missing from ingest_log");
        store.backlog.derived(&missing);
    }
    let mut by_project: BTreeMap<i64, Vec<PendingAppend>> = BTreeMap::new();
    for append in appends {
        by_project
            .entry(append.project_id)
            .or_default()
            .push(append);
    }
    let mut derived = 0;
    for (project_id, appends) in by_project {
        derived += derive_project(ingest, project_id, appends).await?;
    }
    Ok(derived)
}

/// Derives one project's share of a batch and writes it with the deletion
/// of the exports it came from.
async fn derive_project(
    ingest: &Ingest,
    project_id: i64,
    appends: Vec<PendingAppend>,
) -> Result<usize, DeriveError> {
    let project = ingest
        .store
        .reader
        .project(project_id)
        .await?
        .unwrap_or(Project {
            id: project_id,
            name: String::new(),
        });
    let ingest = ingest.for_project(&project);
    let seqs: Vec<i64> = appends.iter().map(|a| a.seq).collect();
    let limits = ingest.limits.clone();
    let prices = ingest.prices.clone();
    let redaction = ingest.redaction.clone();
    let encoded = tokio::task::spawn_blocking(move || {
        let (mut spans, mut logs) = decode(appends, &limits)?;
        // Before normalization, so calls are made of redacted text.
        redaction.redact_span_groups(&mut spans);
        redaction.redact_log_groups(&mut logs);
        let normalized = calls::normalize(&spans, &logs, &prices);
        Ok::<_, DeriveError>(prepare::encode(&spans, &logs, normalized))
    })
    .await
    .map_err(|e| IngestError::Internal(e.to_string()))??;
    let (mut batch, claim) = ingest.pack(encoded).await?;
    batch.derived_from = seqs;
    let count = batch.derived_from.len();
    let written = ingest.store.queue.write_when_room(batch).await;
    // Settled: see `Ingest::pack`.
    drop(claim);
    written.map_err(IngestError::from)?;
    Ok(count)
}

/// The exports' spans and log records, validated again as at their
/// acceptance (the same limits reject the same items).
fn decode(
    appends: Vec<PendingAppend>,
    limits: &super::limits::Limits,
) -> Result<(Vec<SpanGroup>, Vec<LogGroup>), DeriveError> {
    let mut spans = Vec::new();
    let mut logs = Vec::new();
    for append in appends {
        let seq = append.seq;
        let body = Bytes::from(append.protobuf);
        let failed = |error| DeriveError::Decode { seq, error };
        match append.kind {
            ExportKind::Traces => {
                let request = protobuf::decode_traces(body, limits.max_depth).map_err(failed)?;
                spans.extend(convert::convert_traces(request, limits).groups);
            }
            ExportKind::Logs => {
                let request = protobuf::decode_logs(body, limits.max_depth).map_err(failed)?;
                logs.extend(convert::convert_logs(request, limits).groups);
            }
        }
    }
    Ok((spans, logs))
}

/// What pending exports hold of one trace, redacted as its derivation will
/// redact it, so a trace shows its spans as soon as they are acknowledged.
#[derive(Debug, Default)]
pub struct PendingTrace {
    pub spans: Vec<SpanGroup>,
    pub logs: Vec<LogGroup>,
}

/// The spans and log records of `trace_id` that are acknowledged but not
/// yet derived.
pub async fn pending_trace(
    ingest: &Ingest,
    project: &Project,
    trace_id: TraceId,
) -> Result<PendingTrace, DeriveError> {
    if ingest.store.backlog.is_empty() {
        return Ok(PendingTrace::default());
    }
    let appends = ingest
        .store
        .reader
        .pending_exports_of_trace(project.id, trace_id.as_bytes())
        .await?;
    if appends.is_empty() {
        return Ok(PendingTrace::default());
    }
    let ingest = ingest.for_project(project);
    let limits = ingest.limits.clone();
    let redaction = ingest.redaction.clone();
    tokio::task::spawn_blocking(move || {
        let (mut spans, mut logs) = decode(appends, &limits)?;
        for group in &mut spans {
            group.spans.retain(|span| span.trace_id == trace_id);
        }
        for group in &mut logs {
            group
                .records
                .retain(|record| record.trace_id == Some(trace_id));
        }
        spans.retain(|group| !group.spans.is_empty());
        logs.retain(|group| !group.records.is_empty());
        redaction.redact_span_groups(&mut spans);
        redaction.redact_log_groups(&mut logs);
        Ok(PendingTrace { spans, logs })
    })
    .await
    .map_err(|e| IngestError::Internal(e.to_string()))?
}
