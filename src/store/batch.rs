//! What the ingest workers hand to the writer: rows ready to insert, with
//! their bulky parts already encoded and compressed into packs. Nothing in
//! a batch needs CPU work beyond binding SQL parameters.

use super::codec::BlobHash;
use super::pack::{EncodedPack, PackSlot};
use super::records::{LogColumns, SpanColumns};

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
}

impl WriteBatch {
    /// Bytes this batch holds in memory, for the queue's byte budget.
    pub fn memory_bytes(&self) -> usize {
        let packs: usize = self.packs.iter().map(|p| p.data.len()).sum();
        let rows = (self.spans.len() + self.logs.len() + self.new_blobs.len()) * 160;
        packs + rows + 1024
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
        blobs_ok && spans_ok && logs_ok
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.logs.is_empty()
    }
}
