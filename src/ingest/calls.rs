//! Calls at ingest: what the spans and log records of one request say about
//! LLM calls. Spans that are LLM calls become calls; two spans of the batch
//! that describe the same provider call are folded into one; GenAI log
//! events name the spans whose calls the linker must derive again, since
//! their spans may arrive in another request.

use std::collections::HashMap;

use super::genai::{self, CallFacts};
use crate::cost::PriceTable;
use crate::model::Call;
use crate::model::telemetry::{LogGroup, SpanGroup};
use crate::store::write::batch::SpanKey;

/// A call ready to store, with the other spans of the batch folded into it.
pub struct NewCall {
    pub call: Call,
    pub aliases: Vec<SpanKey>,
}

/// What a request's telemetry says about calls.
#[derive(Default)]
pub struct Normalized {
    pub calls: Vec<NewCall>,
    pub link_keys: Vec<SpanKey>,
}

/// What every call gets before it is stored, whichever path made it (OTLP,
/// the linker, raw records, replays): finish reasons in OpenTelemetry's
/// words, and a price.
pub fn complete(call: &mut Call, prices: &PriceTable) {
    call.normalize_finish_reasons();
    price(call, prices);
}

/// Prices a call from the table, unless its source already said what it cost.
fn price(call: &mut Call, prices: &PriceTable) {
    if call.cost_usd.is_none() {
        call.cost_usd = prices.cost(call);
    }
}

pub fn normalize(
    span_groups: &[SpanGroup],
    log_groups: &[LogGroup],
    prices: &PriceTable,
) -> Normalized {
    let mut found: Vec<(Call, CallFacts)> = Vec::new();
    for group in span_groups {
        for span in &group.spans {
            if let Some(call) = genai::call_from_span(&group.resource, &group.scope, span) {
                let facts = CallFacts::from_span(span, &call);
                found.push((call, facts));
            }
        }
    }
    let mut link_keys = Vec::new();
    for group in log_groups {
        for record in &group.records {
            let Some(event) = genai::genai_event(&group.resource, &group.scope, record) else {
                continue;
            };
            match event.trace_id.zip(event.span_id) {
                Some(key) => link_keys.push(key),
                // No span to wait for: the event is a call of its own, which
                // the linker folds into its span's call by response id.
                None => {
                    if let Some(call) =
                        genai::call_from_events(&group.resource, &group.scope, &[event])
                    {
                        let facts = CallFacts::from_call(&call);
                        found.push((call, facts));
                    }
                }
            }
        }
    }
    let mut calls = fold_same_calls(found);
    for new_call in &mut calls {
        complete(&mut new_call.call, prices);
    }
    Normalized { calls, link_keys }
}

/// Folds calls of the batch that describe the same provider call.
fn fold_same_calls(found: Vec<(Call, CallFacts)>) -> Vec<NewCall> {
    let mut sets = UnionFind::new(found.len());
    let mut by_response_id: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_span: HashMap<SpanKey, usize> = HashMap::new();
    for (i, (_, facts)) in found.iter().enumerate() {
        if let Some(id) = facts.response_id.as_deref() {
            by_response_id.entry(id).or_default().push(i);
        }
        if let Some(key) = facts.trace_id.zip(facts.span_id) {
            by_span.insert(key, i);
        }
    }
    for members in by_response_id.values() {
        for (n, &i) in members.iter().enumerate() {
            for &j in &members[..n] {
                if genai::describe_same_call(&found[i].1, &found[j].1) {
                    sets.union(i, j);
                }
            }
        }
    }
    for (i, (_, facts)) in found.iter().enumerate() {
        let parent = facts.trace_id.zip(facts.parent_span_id);
        if let Some(&j) = parent.and_then(|key| by_span.get(&key))
            && genai::describe_same_call(&found[i].1, &found[j].1)
        {
            sets.union(i, j);
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..found.len() {
        groups.entry(sets.find(i)).or_default().push(i);
    }
    let mut slots: Vec<Option<Call>> = found.into_iter().map(|(call, _)| Some(call)).collect();
    let mut roots: Vec<usize> = groups.keys().copied().collect();
    roots.sort_unstable();
    let mut out = Vec::with_capacity(roots.len());
    for root in roots {
        let mut merged: Option<Call> = None;
        let mut keys = Vec::new();
        for &i in &groups[&root] {
            let Some(call) = slots[i].take() else {
                continue;
            };
            keys.extend(call.trace_id.zip(call.span_id));
            merged = Some(match merged {
                None => call,
                Some(primary) => genai::merge_same_call(primary, call),
            });
        }
        if let Some(call) = merged {
            let own = call.trace_id.zip(call.span_id);
            let aliases = keys.into_iter().filter(|k| Some(*k) != own).collect();
            out.push(NewCall { call, aliases });
        }
    }
    out
}

/// Disjoint sets over indices, for grouping calls that are one call.
struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(len: usize) -> Self {
        Self {
            parent: (0..len).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent[a.max(b)] = a.min(b);
        }
    }
}
