//! What the ingest workers hand to the writer: rows ready to insert, with
//! their bulky parts already encoded and compressed into packs. Nothing in
//! a batch needs CPU work beyond binding SQL parameters.

use crate::model::CallSummary;
use crate::model::{CallId, SpanId, TraceId};
use crate::store::encoding::call_index::CallIndex;
use crate::store::encoding::codec::BlobHash;
use crate::store::encoding::pack::{EncodedPack, PackSlot};
use crate::store::encoding::records::{LogColumns, SpanColumns};
use crate::store::write::appends::NewAppend;
use crate::store::write::replays::ReplayWrite;

/// A span, identified within a project: what calls are linked by.
pub type SpanKey = (TraceId, SpanId);

/// A resource or scope, deduplicated by the hash of its encoding.
#[derive(Clone, Debug)]
pub struct DedupRow {
    pub hash: BlobHash,
    /// `service.name` for resources, `name` for scopes.
    pub label: Option<String>,
    /// `version` for scopes.
    pub version: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct SpanRow {
    pub columns: SpanColumns,
    /// Index into [`WriteBatch::resources`].
    pub resource: usize,
    /// Index into [`WriteBatch::scopes`].
    pub scope: usize,
    pub body: PackSlot,
}

#[derive(Clone, Debug)]
pub struct LogRow {
    pub columns: LogColumns,
    /// Hash of the whole record with its resource and scope, so a re-sent
    /// record is stored once.
    pub hash: BlobHash,
    pub event_name: Option<String>,
    pub resource: usize,
    pub scope: usize,
    pub body: PackSlot,
}

/// A new call, as normalized by an ingest worker.
#[derive(Clone, Debug)]
pub struct CallRow {
    pub columns: CallSummary,
    pub index: CallIndex,
    pub content: PackSlot,
    /// Other spans of the batch that described the same provider call and
    /// were folded into this one.
    pub aliases: Vec<SpanKey>,
}

/// A call derived again by the linker: replaces the stored call with the
/// same id (or adds it), and folds other calls into it.
#[derive(Clone, Debug)]
pub struct LinkedCall {
    pub columns: CallSummary,
    pub index: CallIndex,
    pub content: PackSlot,
    /// Calls folded into this one: deleted, their spans made aliases.
    pub replaces: Vec<CallId>,
    /// Spans that now point at this call.
    pub aliases: Vec<SpanKey>,
}

/// A pending link the linker has dealt with, at the version it saw.
#[derive(Clone, Copy, Debug)]
pub struct LinkDone {
    pub key: SpanKey,
    pub version: i64,
}

/// Everything one ingest request adds to the store.
#[derive(Debug, Default)]
pub struct WriteBatch {
    pub project_id: i64,
    pub packs: Vec<EncodedPack>,
    /// Blobs whose content is in this batch's packs.
    pub new_blobs: Vec<(BlobHash, PackSlot)>,
    /// Blobs this batch references that are already stored: touched so the
    /// pruner keeps them, and checked so a reference never dangles.
    pub touched_blobs: Vec<BlobHash>,
    pub resources: Vec<DedupRow>,
    pub scopes: Vec<DedupRow>,
    pub spans: Vec<SpanRow>,
    pub logs: Vec<LogRow>,
    pub calls: Vec<CallRow>,
    /// Spans whose call must be derived again (their GenAI log events arrived).
    pub link_keys: Vec<SpanKey>,
    /// From the linker: calls derived again.
    pub linked_calls: Vec<LinkedCall>,
    /// From the linker: pending links it has dealt with.
    pub links_done: Vec<LinkDone>,
    /// Replay runs and items: applied in the same transaction as the
    /// batch's calls, so a replay result and its item commit together.
    pub replay: Vec<ReplayWrite>,
    /// New costs of stored calls (prices changed and were recomputed).
    pub cost_updates: Vec<(CallId, Option<f64>)>,
    /// A round of retention pruning.
    pub prune: Option<super::prune::PrunePlan>,
    /// Comparison scorings and their scored items.
    pub comparison: Vec<crate::store::write::comparisons::ComparisonWrite>,
    /// Exports to acknowledge, appended as received.
    pub appends: Vec<NewAppend>,
    /// The appends (`ingest_log.seq`) this batch was derived from: deleted
    /// in its transaction, so each is derived exactly once.
    pub derived_from: Vec<i64>,
    /// Appends that can never be derived, with why: moved to
    /// `ingest_failed`.
    pub quarantined: Vec<(i64, String)>,
}

impl WriteBatch {
    /// Bytes this batch holds in memory, for the queue's byte budget.
    pub fn memory_bytes(&self) -> usize {
        let packs: usize = self.packs.iter().map(|p| p.data.len()).sum();
        let rows = (self.spans.len()
            + self.logs.len()
            + self.calls.len()
            + self.new_blobs.len()
            + crate::store::write::replays::row_count(&self.replay))
            * 160;
        let appends: usize = self.appends.iter().map(|a| a.body.data.len()).sum();
        packs
            + appends
            + rows
            + crate::store::write::comparisons::memory_bytes(&self.comparison)
            + 1024
    }

    /// Whether every index in the batch points at something in it. The
    /// writer refuses a batch that fails this rather than panic mid-commit.
    pub fn references_are_valid(&self) -> bool {
        let packs = self.packs.len();
        let blobs_ok = self.new_blobs.iter().all(|(_, slot)| slot.pack < packs);
        let spans_ok = self.spans.iter().all(|span| {
            span.body.pack < packs
                && span.resource < self.resources.len()
                && span.scope < self.scopes.len()
        });
        let logs_ok = self.logs.iter().all(|log| {
            log.body.pack < packs
                && log.resource < self.resources.len()
                && log.scope < self.scopes.len()
        });
        let calls_ok = self.calls.iter().all(|call| call.content.pack < packs)
            && self
                .linked_calls
                .iter()
                .all(|call| call.content.pack < packs);
        blobs_ok && spans_ok && logs_ok && calls_ok
    }

    /// Rows written, for sizing write groups.
    pub fn row_count(&self) -> usize {
        self.spans.len()
            + self.logs.len()
            + self.calls.len()
            + self.new_blobs.len()
            + self.linked_calls.len()
            + crate::store::write::replays::row_count(&self.replay)
            + self.cost_updates.len()
            + crate::store::write::comparisons::row_count(&self.comparison)
            + self.appends.len()
    }
}
