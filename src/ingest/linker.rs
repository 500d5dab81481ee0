//! The linker: derives a call again when more of it arrives in another
//! request.
//!
//! An LLM call can be spread over several exports: its span in a trace
//! export, its content in log events of a separate log export (either may
//! come first), and a second span of the same provider call from another
//! instrumentation. The writer records the spans concerned in
//! `pending_links` in the same transaction as the data; this task works
//! through them after the commit, re-derives each span's call from
//! everything stored for it (span + all its GenAI events, folding in other
//! calls with the same response id), and writes the result back through
//! the write queue. Because it re-derives from scratch, the outcome does not
//! depend on the order in which the pieces arrived.
//!
//! A link is cleared only at the version the linker saw, so data arriving
//! while a span is being linked queues it again. Pending links survive a
//! restart: they are rows, not memory.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use tokio::sync::watch;

use super::genai::{self, CallFacts, GenAiEvent};
use crate::cost::PriceTable;
use crate::model::CallSummary;
use crate::model::time::now_unix_nano_i64 as now_unix_nano;
use crate::model::{Call, CallId, Resource, Scope};
use crate::store::encoding::call_index::CallIndex;
use crate::store::encoding::call_record::StoredCallContent;
use crate::store::encoding::codec::Encoder;
use crate::store::encoding::pack::{PackBuilder, Stream};
use crate::store::write::batch::{LinkDone, LinkedCall, SpanKey, WriteBatch};
use crate::store::write::blobs::Classified;
use crate::store::{ReadError, Store, WriteError};

/// Spans linked per round.
const ROUND_SIZE: usize = 256;
/// Waiting for more pieces of the same calls before linking saves work.
const SETTLE: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("cannot pack linked calls: {0}")]
    Pack(#[from] std::io::Error),
}

/// Runs the linker until `stop` turns true.
pub fn spawn(
    store: Store,
    prices: Arc<PriceTable>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            match link_round(&store, &prices).await {
                Ok(0) => {
                    tokio::select! {
                        _ = store.links_queued.notified() => tokio::time::sleep(SETTLE).await,
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                        _ = stop.changed() => return,
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "linking calls failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        }
    })
}

/// Links one round of pending spans; returns how many were dealt with.
pub async fn link_round(store: &Store, prices: &PriceTable) -> Result<usize, LinkError> {
    let pending = store.reader.pending_links(ROUND_SIZE).await?;
    let mut by_project: HashMap<i64, Vec<(SpanKey, i64)>> = HashMap::new();
    for (project_id, trace_id, span_id, version) in pending {
        by_project
            .entry(project_id)
            .or_default()
            .push(((trace_id, span_id), version));
    }
    let mut handled = 0;
    for (project_id, keys) in by_project {
        handled += link_project(store, prices, project_id, keys).await?;
    }
    Ok(handled)
}

async fn link_project(
    store: &Store,
    prices: &PriceTable,
    project_id: i64,
    keys: Vec<(SpanKey, i64)>,
) -> Result<usize, LinkError> {
    let mut context = Context::default();
    let mut touched: HashSet<CallId> = HashSet::new();
    let mut linked = Vec::new();
    let mut done = Vec::new();
    for (key, version) in keys {
        let mut derived = derive(store, &mut context, project_id, key).await?;
        if let Some(derived) = &mut derived {
            super::calls::complete(&mut derived.call, prices);
        }
        if let Some(derived) = &derived {
            // Two spans of one round may fold the same calls; the second
            // waits for the next round, which sees the first one's result.
            if derived.involved().any(|id| touched.contains(&id)) {
                continue;
            }
            touched.extend(derived.involved());
        }
        linked.extend(derived);
        done.push(LinkDone { key, version });
    }
    let count = done.len();
    if count > 0 {
        write(store, project_id, linked, done).await?;
    }
    Ok(count)
}

/// A call derived again, and the stored calls it replaces.
struct Derived {
    call: Call,
    replaces: Vec<CallId>,
    aliases: Vec<SpanKey>,
}

impl Derived {
    fn involved(&self) -> impl Iterator<Item = CallId> + '_ {
        std::iter::once(self.call.id).chain(self.replaces.iter().copied())
    }
}

/// Resources and scopes read during one round.
#[derive(Default)]
struct Context {
    resources: HashMap<i64, Resource>,
    scopes: HashMap<i64, Scope>,
}

impl Context {
    async fn resource(&mut self, store: &Store, id: i64) -> Result<Resource, ReadError> {
        if let Some(resource) = self.resources.get(&id) {
            return Ok(resource.clone());
        }
        let resource = store.reader.resource(id).await?;
        self.resources.insert(id, resource.clone());
        Ok(resource)
    }

    async fn scope(&mut self, store: &Store, id: i64) -> Result<Scope, ReadError> {
        if let Some(scope) = self.scopes.get(&id) {
            return Ok(scope.clone());
        }
        let scope = store.reader.scope(id).await?;
        self.scopes.insert(id, scope.clone());
        Ok(scope)
    }
}

/// The call one span's stored data says: the span (if it is an LLM call)
/// with all its GenAI events, or the events alone. Also the facts to match
/// it with other calls.
async fn derive_span(
    store: &Store,
    context: &mut Context,
    project_id: i64,
    (trace_id, span_id): SpanKey,
) -> Result<Option<(Call, CallFacts)>, LinkError> {
    let reader = &store.reader;
    let mut events: Vec<GenAiEvent> = Vec::new();
    let mut event_context = None;
    for stored in reader.span_events(project_id, trace_id, span_id).await? {
        let resource = context.resource(store, stored.resource_id).await?;
        let scope = context.scope(store, stored.scope_id).await?;
        if let Some(event) = genai::genai_event(&resource, &scope, &stored.record) {
            events.push(event);
            event_context.get_or_insert((resource, scope));
        }
    }
    if let Some(stored) = reader.span(project_id, trace_id, span_id).await? {
        let resource = context.resource(store, stored.resource_id).await?;
        let scope = context.scope(store, stored.scope_id).await?;
        if let Some(mut call) = genai::call_from_span(&resource, &scope, &stored.span) {
            genai::apply_events(&mut call, &events);
            let facts = CallFacts::from_span(&stored.span, &call);
            return Ok(Some((call, facts)));
        }
    }
    let Some((resource, scope)) = event_context else {
        return Ok(None);
    };
    Ok(
        genai::call_from_events(&resource, &scope, &events).map(|call| {
            let facts = CallFacts::from_call(&call);
            (call, facts)
        }),
    )
}

/// Re-derives the call of one span and of every span already folded with
/// it, and folds in stored calls with the same response id that describe
/// the same provider call.
async fn derive(
    store: &Store,
    context: &mut Context,
    project_id: i64,
    key: SpanKey,
) -> Result<Option<Derived>, LinkError> {
    let reader = &store.reader;
    let Some((call, facts)) = derive_span(store, context, project_id, key).await? else {
        return Ok(None);
    };
    // The stored calls this one may replace: the span's current call, and
    // calls with its response id that are the same provider call.
    let mut stored: Vec<Call> = Vec::new();
    if let Some(current) = reader.call_for_span(project_id, key.0, key.1).await? {
        stored.push(current);
    }
    if let Some(response_id) = &call.response_id {
        for other in reader
            .calls_with_response_id(project_id, response_id)
            .await?
        {
            let same = genai::describe_same_call(&facts, &CallFacts::from_call(&other));
            if same && !stored.iter().any(|s| s.id == other.id) {
                stored.push(other);
            }
        }
    }
    // Every span behind those calls is derived again; a call with no span
    // (an event without span ids) can only be taken as stored.
    let mut keys: Vec<SpanKey> = vec![key];
    let mut spanless: Vec<Call> = Vec::new();
    for other in &stored {
        match other.trace_id.zip(other.span_id) {
            Some(other_key) => keys.push(other_key),
            None => spanless.push(other.clone()),
        }
        keys.extend(reader.call_aliases(project_id, other.id).await?);
    }
    keys.sort();
    keys.dedup();
    let mut merged = call;
    for other_key in keys.iter().copied().filter(|k| *k != key) {
        if let Some((other, _)) = derive_span(store, context, project_id, other_key).await? {
            merged = genai::merge_same_call(merged, other);
        }
    }
    for other in spanless {
        merged = genai::merge_same_call(merged, other);
    }
    let own_key = merged.trace_id.zip(merged.span_id);
    let aliases = keys.into_iter().filter(|k| Some(*k) != own_key).collect();
    let replaces = stored
        .iter()
        .map(|c| c.id)
        .filter(|id| *id != merged.id)
        .collect();
    Ok(Some(Derived {
        call: merged,
        replaces,
        aliases,
    }))
}

async fn write(
    store: &Store,
    project_id: i64,
    derived: Vec<Derived>,
    done: Vec<LinkDone>,
) -> Result<(), LinkError> {
    let mut encoder = Encoder::new();
    let mut contents = Vec::with_capacity(derived.len());
    for item in &derived {
        contents.push(StoredCallContent::encode_from(&item.call, &mut encoder).encode_to_vec());
    }
    let now = now_unix_nano();
    let Classified { new, stale, claim } = store
        .known_blobs
        .classify(encoder.blobs.keys().copied(), now)
        .await
        .map_err(ReadError::from)?;
    let mut builder = PackBuilder::new();
    let mut new_blobs = Vec::new();
    for hash in &new {
        if let Some(content) = encoder.blobs.get(hash) {
            new_blobs.push((*hash, builder.add(Stream::Text, content)));
        }
    }
    let mut linked_calls = Vec::with_capacity(derived.len());
    for (item, content) in derived.into_iter().zip(contents) {
        linked_calls.push(LinkedCall {
            content: builder.add(Stream::Records, &content),
            columns: CallSummary::of(&item.call),
            index: CallIndex::of(&item.call),
            replaces: item.replaces,
            aliases: item.aliases,
        });
    }
    let batch = WriteBatch {
        project_id,
        packs: builder.finish()?,
        new_blobs,
        touched_blobs: stale,
        linked_calls,
        links_done: done,
        ..WriteBatch::default()
    };
    // When the queue is full this fails and the round runs again later:
    // the linker never competes with ingest for the queue.
    let written = store.queue.write(batch).await;
    drop(claim);
    written?;
    Ok(())
}
