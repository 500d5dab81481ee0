//! The one export path that both OTLP transports call: validate, append
//! the export as received, and answer once the append has committed; the
//! deriver ([`super::derive`]) turns it into spans, log records and calls
//! behind the answer. Policy (limits, back-pressure, partial success)
//! lives here, not in the receivers. Calls that do not come from OTLP (raw
//! records, replay results) are stored at once, not staged.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::budget::{BodyBudget, DEFAULT_INFLIGHT_BYTES};
use super::derive::BacklogBounds;
use super::error::IngestError;
use super::limits::Limits;
use super::otlp::convert::{self, Converted};
use super::{calls, prepare};
use crate::cost::PriceTable;
use crate::model::project::{DEFAULT_PROJECT_ID, DEFAULT_PROJECT_NAME, Project};
use crate::model::telemetry::{LogGroup, SpanGroup};
use crate::model::time::now_unix_nano_i64 as now_unix_nano;
use crate::model::{Call, TraceId};
use crate::redact::{Policy, Redactor};
use crate::store::encoding::pack::{self, EncodedPack};
use crate::store::write::appends::{ExportKind, NewAppend};
use crate::store::write::batch::WriteBatch;
use crate::store::write::blobs::{Claim, Classified};
use crate::store::{Store, WriteSummary};

/// The outcome of an accepted export: how many items were stored and how
/// many were rejected (reported as OTLP `partial_success`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOutcome {
    pub accepted: usize,
    pub rejected: usize,
    pub error_message: String,
}

impl ExportOutcome {
    /// The OTLP `partial_success` field: set when items were rejected (or
    /// there is a warning), absent on full success.
    pub fn partial_success<P>(&self, make: impl FnOnce(i64, String) -> P) -> Option<P> {
        if self.rejected == 0 && self.error_message.is_empty() {
            return None;
        }
        Some(make(self.rejected as i64, self.error_message.clone()))
    }
}

/// What storing calls did: how many were given, and how many of them were
/// not stored before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoredCalls {
    pub accepted: usize,
    pub inserted: usize,
}

/// The ingest service shared by the receivers.
#[derive(Clone)]
pub struct Ingest {
    pub store: Store,
    pub limits: Limits,
    pub prices: Arc<PriceTable>,
    /// The project data is stored under; set per request by [`Ingest::for_project`].
    pub project_id: i64,
    /// Every project's redaction policy.
    pub redactor: Arc<Redactor>,
    /// The policy of `project_id`'s project, applied before encoding.
    pub redaction: Arc<Policy>,
    /// Requests being decoded and prepared at once. More would not go
    /// faster (the work is CPU-bound) but would hold more bodies in memory.
    pub decode_slots: Arc<Semaphore>,
    /// Memory of request bodies being read, decompressed and decoded.
    pub body_budget: BodyBudget,
    /// How far derivation may fall behind before exports are refused.
    pub backlog_bounds: BacklogBounds,
}

impl Ingest {
    pub fn new(store: Store, limits: Limits, prices: Arc<PriceTable>) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let redactor = Arc::new(Redactor::built_in());
        Self {
            store,
            limits,
            prices,
            project_id: DEFAULT_PROJECT_ID,
            redaction: redactor.policy_for(DEFAULT_PROJECT_NAME),
            redactor,
            decode_slots: Arc::new(Semaphore::new(cores.max(2))),
            body_budget: BodyBudget::new(DEFAULT_INFLIGHT_BYTES),
            backlog_bounds: BacklogBounds::default(),
        }
    }

    /// The same service with another bound on the derivation backlog.
    pub fn with_backlog_bounds(mut self, bounds: BacklogBounds) -> Self {
        self.backlog_bounds = bounds;
        self
    }

    /// The same service with a budget of `bytes` for request bodies in flight.
    pub fn with_inflight_budget(mut self, bytes: usize) -> Self {
        self.body_budget = BodyBudget::new(bytes);
        self
    }

    /// The same service with another set of redaction policies.
    pub fn with_redactor(mut self, redactor: Arc<Redactor>) -> Self {
        self.redaction = redactor.policy_for(DEFAULT_PROJECT_NAME);
        self.redactor = redactor;
        self
    }

    /// The service as one project uses it: its data stored under its id,
    /// redacted with its policy. Cheap: every field is shared.
    pub fn for_project(&self, project: &Project) -> Ingest {
        let mut ingest = self.clone();
        ingest.project_id = project.id;
        ingest.redaction = self.redactor.policy_for(&project.name);
        ingest
    }

    /// Waits for a turn to decode a request. Taken before a body is read,
    /// so waiting requests hold no memory beyond the socket's buffers.
    pub async fn decode_slot(&self) -> Result<OwnedSemaphorePermit, IngestError> {
        self.decode_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| IngestError::Unavailable("the server is shutting down".into()))
    }

    /// Accepts a trace export: validates it, appends it as received, and
    /// answers once the append has committed. Its calls are derived behind
    /// the answer ([`super::derive`]).
    pub async fn export_traces(
        &self,
        request: ExportTraceServiceRequest,
    ) -> Result<ExportOutcome, IngestError> {
        self.refuse_if_overloaded()?;
        let limits = self.limits.clone();
        let (outcome, append) = blocking(move || {
            let append = append_of(ExportKind::Traces, &request);
            let converted = convert::convert_traces(request, &limits);
            let outcome = summary(&converted, Converted::<SpanGroup>::item_count);
            let spans = converted.groups.iter().flat_map(|g| &g.spans);
            let traces = trace_id_list(spans.map(|span| Some(span.trace_id)));
            (outcome, append.map(|(kind, body)| (kind, body, traces)))
        })
        .await?;
        self.append(outcome, append).await
    }

    /// Accepts a log export, as [`Ingest::export_traces`] does.
    pub async fn export_logs(
        &self,
        request: ExportLogsServiceRequest,
    ) -> Result<ExportOutcome, IngestError> {
        self.refuse_if_overloaded()?;
        let limits = self.limits.clone();
        let (outcome, append) = blocking(move || {
            let append = append_of(ExportKind::Logs, &request);
            let converted = convert::convert_logs(request, &limits);
            let outcome = summary(&converted, Converted::<LogGroup>::item_count);
            let records = converted.groups.iter().flat_map(|g| &g.records);
            let traces = trace_id_list(records.map(|record| record.trace_id));
            (outcome, append.map(|(kind, body)| (kind, body, traces)))
        })
        .await?;
        self.append(outcome, append).await
    }

    /// Appends an accepted export and waits for the commit.
    async fn append(
        &self,
        outcome: ExportOutcome,
        append: std::io::Result<(ExportKind, EncodedPack, Vec<u8>)>,
    ) -> Result<ExportOutcome, IngestError> {
        if outcome.accepted == 0 {
            if outcome.rejected > 0 {
                return Err(IngestError::AllRejected(outcome.error_message));
            }
            return Ok(outcome);
        }
        let (kind, body, trace_ids) = append.map_err(|e| IngestError::Internal(e.to_string()))?;
        let batch = WriteBatch {
            project_id: self.project_id,
            appends: vec![NewAppend {
                kind,
                received_unix_nano: now_unix_nano(),
                items: outcome.accepted as u64,
                trace_ids,
                body,
            }],
            ..WriteBatch::default()
        };
        self.store.queue.write(batch).await?;
        Ok(outcome)
    }

    /// Stores calls that did not come from OTLP (raw records, replay
    /// results). Calls are unique on their id, so storing the same call
    /// twice keeps the first; the result says how many were new.
    pub async fn store_calls(&self, calls: Vec<Call>) -> Result<StoredCalls, IngestError> {
        self.refuse_if_overloaded()?;
        let accepted = calls.len();
        let encoded = encode_calls(calls, self.prices.clone(), self.redaction.clone()).await?;
        let outcome = ExportOutcome {
            accepted,
            ..ExportOutcome::default()
        };
        let summary = self.write_encoded(&outcome, encoded).await?;
        Ok(StoredCalls {
            accepted,
            inserted: summary.calls_inserted as usize,
        })
    }

    /// Encodes and packs calls into a batch without queueing it, for a
    /// caller that adds its own rows to the same transaction (a replay
    /// result commits with its item's state change). The caller holds the
    /// claim until the batch's write is settled.
    pub async fn prepare_calls(
        &self,
        calls: Vec<Call>,
    ) -> Result<(WriteBatch, Claim), IngestError> {
        let encoded = encode_calls(calls, self.prices.clone(), self.redaction.clone()).await?;
        self.pack(encoded).await
    }

    fn refuse_if_overloaded(&self) -> Result<(), IngestError> {
        // Cheap early check, before any decoding work; the queue itself
        // refuses again if it fills while this request is prepared.
        let queue = &self.store.queue;
        if queue.queued_bytes() >= queue.capacity_bytes() {
            return Err(IngestError::Overloaded);
        }
        self.backlog_bounds
            .check(&self.store.backlog.level())
            .map_err(|detail| IngestError::DerivationBehind { detail })
    }

    async fn write_encoded(
        &self,
        outcome: &ExportOutcome,
        encoded: prepare::Encoded,
    ) -> Result<WriteSummary, IngestError> {
        if outcome.accepted == 0 {
            if outcome.rejected > 0 {
                return Err(IngestError::AllRejected(outcome.error_message.clone()));
            }
            return Ok(WriteSummary::default());
        }
        let (batch, claim) = self.pack(encoded).await?;
        let written = self.store.queue.write(batch).await;
        // Settled: committed content is in the known blobs by now, and
        // content of a failed batch is free for another to carry.
        drop(claim);
        Ok(written?)
    }
}

impl Ingest {
    /// Leaves out content that is already stored and compresses the rest.
    /// The claim on the new content must be held until the write is settled.
    pub(super) async fn pack(
        &self,
        encoded: prepare::Encoded,
    ) -> Result<(WriteBatch, Claim), IngestError> {
        let Classified { new, stale, claim } = self
            .store
            .known_blobs
            .classify(encoded.blob_hashes(), now_unix_nano())
            .await
            .map_err(|e| IngestError::Unavailable(e.to_string()))?;
        let project_id = self.project_id;
        let batch = blocking(move || prepare::pack(encoded, &new, stale, project_id))
            .await?
            .map_err(|e| IngestError::Internal(e.to_string()))?;
        Ok((batch, claim))
    }
}

/// Encodes calls that did not come from OTLP, off the async workers:
/// redacts them (a replayed answer can leak as much as a recorded one) and
/// prices those whose source did not say what they cost.
async fn encode_calls(
    calls: Vec<Call>,
    prices: Arc<PriceTable>,
    redaction: Arc<Policy>,
) -> Result<prepare::Encoded, IngestError> {
    blocking(move || {
        let normalized = calls::Normalized {
            calls: calls
                .into_iter()
                .map(|mut call| {
                    redaction.redact_call(&mut call);
                    calls::complete(&mut call, &prices);
                    calls::NewCall {
                        call,
                        aliases: Vec::new(),
                    }
                })
                .collect(),
            link_keys: Vec::new(),
        };
        prepare::encode(&[], &[], normalized)
    })
    .await
}

/// An export's protobuf, compressed for the append log. Encoded from the
/// decoded request, so OTLP/JSON and gRPC exports are stored alike, with
/// values past the nesting limit already cut off as the decoders cut them.
fn append_of(
    kind: ExportKind,
    request: &impl prost::Message,
) -> std::io::Result<(ExportKind, EncodedPack)> {
    let body = pack::compress_append(&request.encode_to_vec())?;
    Ok((kind, body))
}

/// The distinct trace ids among `ids`, 16 bytes each, for the append's
/// `trace_ids`.
fn trace_id_list(ids: impl Iterator<Item = Option<TraceId>>) -> Vec<u8> {
    let mut ids: Vec<Vec<u8>> = ids.flatten().map(|id| id.as_bytes().to_vec()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.concat()
}

fn summary<G>(converted: &Converted<G>, count: fn(&Converted<G>) -> usize) -> ExportOutcome {
    ExportOutcome {
        accepted: count(converted),
        rejected: converted.rejected,
        error_message: converted.error_message(),
    }
}

/// Runs CPU-bound work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, IngestError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| IngestError::Internal(e.to_string()))
}
