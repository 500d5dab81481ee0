//! Export requests from the generated spans: consecutive runs of
//! `batch_spans` spans, grouped by resource and scope as a Collector's batch
//! processor would send them, encoded once up front so encoding costs
//! nothing during the timed run.
//!
//! Each request also names a trace to probe for freshness (`--rate`): one
//! whose first model call is in it, so that trace's calls can only be
//! queryable once this request's spans are.

use std::collections::HashSet;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;

use crate::spans::ScopeKind;
use crate::traffic::{GeneratedSpan, Workload};

/// One `POST /v1/traces` body.
pub struct Request {
    /// Protobuf `ExportTraceServiceRequest`, uncompressed.
    pub body: Vec<u8>,
    pub spans: usize,
    pub llm_calls: usize,
    /// Lower-case hex id of the last trace whose first model call is in
    /// this request; `None` when every call in it belongs to a trace seen
    /// before (its calls might be queryable already).
    pub probe_trace: Option<String>,
}

/// Requests for the spans that `include` selects, in workload order.
pub fn build_requests(
    workload: &Workload,
    include: impl Fn(&GeneratedSpan) -> bool,
    batch_spans: usize,
) -> Vec<Request> {
    let mut requests = Vec::new();
    let mut traces_with_calls = HashSet::new();
    let mut pending: Vec<&GeneratedSpan> = Vec::with_capacity(batch_spans);
    for generated in &workload.spans {
        if !include(generated) {
            continue;
        }
        pending.push(generated);
        if pending.len() >= batch_spans {
            requests.push(encode(workload, &pending, &mut traces_with_calls));
            pending.clear();
        }
    }
    if !pending.is_empty() {
        requests.push(encode(workload, &pending, &mut traces_with_calls));
    }
    requests
}

/// The probe trace of a request (see [`Request::probe_trace`]); records
/// the request's traces with calls in `seen`. The last one is taken, so
/// the probe waits for the request's spans to the end.
fn probe_trace(spans: &[&GeneratedSpan], seen: &mut HashSet<Vec<u8>>) -> Option<String> {
    let mut probe = None;
    for generated in spans {
        if generated.llm_call && seen.insert(generated.span.trace_id.clone()) {
            probe = Some(&generated.span.trace_id);
        }
    }
    probe.map(|trace_id| crate::traffic::hex(trace_id))
}

/// Spans of one resource, by scope, in first-seen order.
struct ResourceGroup {
    resource: usize,
    service: usize,
    scopes: Vec<(ScopeKind, Vec<Span>)>,
}

fn encode(
    workload: &Workload,
    spans: &[&GeneratedSpan],
    traces_with_calls: &mut HashSet<Vec<u8>>,
) -> Request {
    let mut groups: Vec<ResourceGroup> = Vec::new();
    let mut llm_calls = 0;
    for generated in spans {
        if generated.llm_call {
            llm_calls += 1;
        }
        let group_index = match groups.iter().position(|g| g.resource == generated.resource) {
            Some(index) => index,
            None => {
                groups.push(ResourceGroup {
                    resource: generated.resource,
                    service: generated.service,
                    scopes: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[group_index];
        let scope_index = match group
            .scopes
            .iter()
            .position(|(kind, _)| *kind == generated.scope)
        {
            Some(index) => index,
            None => {
                group.scopes.push((generated.scope, Vec::new()));
                group.scopes.len() - 1
            }
        };
        group.scopes[scope_index].1.push(generated.span.clone());
    }

    let mut resource_spans = Vec::with_capacity(groups.len());
    for group in groups {
        let mut scope_spans = Vec::with_capacity(group.scopes.len());
        for (kind, spans) in group.scopes {
            scope_spans.push(ScopeSpans {
                scope: Some(workload.scope(group.service, kind)),
                spans,
                schema_url: workload.schema_url().to_owned(),
            });
        }
        resource_spans.push(ResourceSpans {
            resource: Some(workload.resources[group.resource].clone()),
            scope_spans,
            schema_url: String::new(),
        });
    }
    let request = ExportTraceServiceRequest { resource_spans };
    Request {
        body: request.encode_to_vec(),
        spans: spans.len(),
        llm_calls,
        probe_trace: probe_trace(spans, traces_with_calls),
    }
}
