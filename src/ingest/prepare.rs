//! Turns validated telemetry into a [`WriteBatch`]: encodes every record,
//! leaves out content that is already stored, and compresses the rest into
//! packs. All of this runs on ingest workers so the writer only binds rows.

use prost::Message as _;
use std::collections::HashMap;

use super::calls::Normalized;
use crate::model::CallSummary;
use crate::model::telemetry::{LogGroup, SpanGroup};
use crate::model::{Resource, Scope};
use crate::store::encoding::call_index::CallIndex;
use crate::store::encoding::call_record::StoredCallContent;
use crate::store::encoding::codec::{BlobHash, Encoder, blob_hash};
use crate::store::encoding::pack::{PackBuilder, Stream};
use crate::store::encoding::records::{
    LogColumns, SpanColumns, StoredLogBody, StoredResource, StoredScope, StoredSpanBody,
};
use crate::store::write::batch::{CallRow, DedupRow, LogRow, SpanKey, SpanRow, WriteBatch};

/// Records encoded but not yet packed: the first, database-free half of
/// preparing a batch.
pub struct Encoded {
    blobs: HashMap<BlobHash, Vec<u8>>,
    resources: Vec<DedupRow>,
    scopes: Vec<DedupRow>,
    spans: Vec<EncodedSpan>,
    logs: Vec<EncodedLog>,
    calls: Vec<EncodedCall>,
    link_keys: Vec<SpanKey>,
}

struct EncodedCall {
    columns: CallSummary,
    index: CallIndex,
    content: Vec<u8>,
    aliases: Vec<SpanKey>,
}

struct EncodedSpan {
    columns: SpanColumns,
    resource: usize,
    scope: usize,
    body: Vec<u8>,
}

struct EncodedLog {
    columns: LogColumns,
    hash: BlobHash,
    event_name: Option<String>,
    resource: usize,
    scope: usize,
    body: Vec<u8>,
}

impl Encoded {
    /// Every blob the records reference.
    pub fn blob_hashes(&self) -> impl Iterator<Item = BlobHash> + '_ {
        self.blobs.keys().copied()
    }
}

#[derive(Default)]
struct Interner {
    rows: Vec<DedupRow>,
    index: HashMap<BlobHash, usize>,
}

impl Interner {
    fn add(&mut self, row: DedupRow) -> usize {
        if let Some(i) = self.index.get(&row.hash) {
            return *i;
        }
        self.index.insert(row.hash, self.rows.len());
        self.rows.push(row);
        self.rows.len() - 1
    }
}

fn resource_row(resource: &Resource) -> DedupRow {
    let body = StoredResource::of(resource).encode_to_vec();
    DedupRow {
        hash: blob_hash(&body),
        label: resource.service_name().map(str::to_owned),
        version: None,
        body,
    }
}

fn scope_row(scope: &Scope) -> DedupRow {
    let body = StoredScope::of(scope).encode_to_vec();
    DedupRow {
        hash: blob_hash(&body),
        label: Some(scope.name.clone()),
        version: Some(scope.version.clone()),
        body,
    }
}

/// Encodes spans, log records and the calls normalized from them (CPU
/// work, no I/O).
pub fn encode(
    span_groups: &[SpanGroup],
    log_groups: &[LogGroup],
    normalized: Normalized,
) -> Encoded {
    let mut encoder = Encoder::new();
    let mut resources = Interner::default();
    let mut scopes = Interner::default();
    let mut spans = Vec::new();
    for group in span_groups {
        let resource = resources.add(resource_row(&group.resource));
        let scope = scopes.add(scope_row(&group.scope));
        for span in &group.spans {
            let body = StoredSpanBody::encode_from(span, &mut encoder).encode_to_vec();
            spans.push(EncodedSpan {
                columns: SpanColumns::of(span),
                resource,
                scope,
                body,
            });
        }
    }
    let mut logs = Vec::new();
    for group in log_groups {
        let resource_row = resource_row(&group.resource);
        let scope_row = scope_row(&group.scope);
        let identity = [resource_row.hash, scope_row.hash];
        let resource = resources.add(resource_row);
        let scope = scopes.add(scope_row);
        for record in &group.records {
            let body = StoredLogBody::encode_from(record, &mut encoder).encode_to_vec();
            let columns = LogColumns::of(record);
            let hash = log_identity(&identity, &columns, &body);
            let event_name = record.event_name().map(str::to_owned);
            logs.push(EncodedLog {
                columns,
                hash,
                event_name,
                resource,
                scope,
                body,
            });
        }
    }
    let mut calls = Vec::with_capacity(normalized.calls.len());
    for new_call in normalized.calls {
        let content = StoredCallContent::encode_from(&new_call.call, &mut encoder).encode_to_vec();
        calls.push(EncodedCall {
            columns: CallSummary::of(&new_call.call),
            index: CallIndex::of(&new_call.call),
            content,
            aliases: new_call.aliases,
        });
    }
    Encoded {
        blobs: encoder.blobs,
        resources: resources.rows,
        scopes: scopes.rows,
        spans,
        logs,
        calls,
        link_keys: normalized.link_keys,
    }
}

/// A log record's identity: everything it carries. A record re-sent by a
/// retrying exporter hashes the same and is stored once.
fn log_identity(resource_and_scope: &[BlobHash; 2], columns: &LogColumns, body: &[u8]) -> BlobHash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&resource_and_scope[0]);
    hasher.update(&resource_and_scope[1]);
    hasher.update(&columns.time_unix_nano.to_le_bytes());
    hasher.update(&columns.severity_number.to_le_bytes());
    hasher.update(
        columns
            .trace_id
            .as_ref()
            .map_or(&[][..], |id| id.as_bytes()),
    );
    hasher.update(columns.span_id.as_ref().map_or(&[][..], |id| id.as_bytes()));
    hasher.update(body);
    let mut hash = [0u8; 16];
    hash.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    hash
}

/// Packs the encoded records with the content the store lacks (CPU work, no I/O).
pub fn pack(
    encoded: Encoded,
    new: &[BlobHash],
    stale: Vec<BlobHash>,
    project_id: i64,
) -> std::io::Result<WriteBatch> {
    let mut builder = PackBuilder::new();
    let mut new_blobs = Vec::with_capacity(new.len());
    for hash in new {
        if let Some(content) = encoded.blobs.get(hash) {
            new_blobs.push((*hash, builder.add(Stream::Text, content)));
        }
    }
    let mut spans = Vec::with_capacity(encoded.spans.len());
    for span in encoded.spans {
        spans.push(SpanRow {
            body: builder.add(Stream::Records, &span.body),
            columns: span.columns,
            resource: span.resource,
            scope: span.scope,
        });
    }
    let mut logs = Vec::with_capacity(encoded.logs.len());
    for log in encoded.logs {
        logs.push(LogRow {
            body: builder.add(Stream::Records, &log.body),
            columns: log.columns,
            hash: log.hash,
            event_name: log.event_name,
            resource: log.resource,
            scope: log.scope,
        });
    }
    let mut calls = Vec::with_capacity(encoded.calls.len());
    for call in encoded.calls {
        calls.push(CallRow {
            content: builder.add(Stream::Records, &call.content),
            columns: call.columns,
            index: call.index,
            aliases: call.aliases,
        });
    }
    Ok(WriteBatch {
        project_id,
        packs: builder.finish()?,
        new_blobs,
        touched_blobs: stale,
        resources: encoded.resources,
        scopes: encoded.scopes,
        spans,
        logs,
        calls,
        link_keys: encoded.link_keys,
        ..WriteBatch::default()
    })
}
