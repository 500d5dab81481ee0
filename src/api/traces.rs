//! `GET /api/v1/traces/{trace_id}`: every stored span and log record of a
//! trace, each with its resource and scope, exactly as received; the span
//! tree (`roots`, and each span's `children`); and the trace's LLM calls,
//! each span pointing at the call it is the source of.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::error::responses::{BadRequest, Forbidden, Internal, NotFound, Unauthorized};
use super::{ApiState, AppState};
use crate::ingest::derive::{self, PendingTrace};
use crate::model::CallSummary;
use crate::model::filter::CallFilter;
use crate::model::project::Project;
use crate::model::{Event, Link, LogRecord, Resource, Scope, Span, TraceId, nanos};
use crate::store::read::{CallSort, SortKey};

/// A trace: its span tree, its LLM calls and its log records.
#[derive(Debug, Serialize, ToSchema)]
pub struct Trace {
    pub trace_id: String,
    /// Span ids whose parent is not in the trace.
    pub roots: Vec<String>,
    pub spans: Vec<SpanNode>,
    pub calls: Vec<CallSummary>,
    pub logs: Vec<LogEntry>,
}

/// A stored span, lossless (attributes in OTLP JSON form,
/// `{"key": {"stringValue": …}}`), with its resource and scope and its
/// place in the tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpanNode {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// OTLP `SpanKind`: 0 unspecified, 1 internal, 2 server, 3 client,
    /// 4 producer, 5 consumer.
    pub kind: i32,
    /// Unix nanoseconds as a decimal string.
    #[serde(with = "nanos::string")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub start_time_unix_nano: u64,
    /// Unix nanoseconds as a decimal string.
    #[serde(with = "nanos::string")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub end_time_unix_nano: u64,
    /// The start in milliseconds since the epoch (the fraction holds the
    /// sub-millisecond part), for arithmetic in JavaScript.
    pub start_time_ms: f64,
    /// The end in milliseconds since the epoch, as `start_time_ms`.
    pub end_time_ms: f64,
    pub status: SpanStatusView,
    pub trace_state: String,
    pub flags: u32,
    /// OTLP JSON form: `{"key": {"stringValue": …}}`.
    #[schema(value_type = Object)]
    pub attributes: Value,
    pub dropped_attributes_count: u32,
    pub events: Vec<SpanEvent>,
    pub dropped_events_count: u32,
    pub links: Vec<SpanLink>,
    pub dropped_links_count: u32,
    pub resource: OtlpResource,
    pub scope: OtlpScope,
    /// The LLM call this span is the source of.
    #[schema(required = true)]
    pub call_id: Option<String>,
    /// Span ids of the children, in start order.
    pub children: Vec<String>,
}

/// OTLP span status: `code` is 0 unset, 1 ok, 2 error.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpanStatusView {
    pub code: i32,
    pub message: String,
}

/// A span event.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpanEvent {
    /// Unix nanoseconds as a decimal string.
    #[serde(with = "nanos::string")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub time_unix_nano: u64,
    pub name: String,
    /// OTLP JSON form.
    #[schema(value_type = Object)]
    pub attributes: Value,
    pub dropped_attributes_count: u32,
}

/// A link to another span.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpanLink {
    pub trace_id: String,
    pub span_id: String,
    pub trace_state: String,
    pub flags: u32,
    /// OTLP JSON form.
    #[schema(value_type = Object)]
    pub attributes: Value,
    pub dropped_attributes_count: u32,
}

/// A stored log record, lossless (body and attributes in OTLP JSON form),
/// with its resource and scope.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogEntry {
    /// Unix nanoseconds as a decimal string.
    #[serde(with = "nanos::string")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub time_unix_nano: u64,
    /// Unix nanoseconds as a decimal string.
    #[serde(with = "nanos::string")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub observed_time_unix_nano: u64,
    /// `time_unix_nano` in milliseconds since the epoch (the fraction holds
    /// the sub-millisecond part), for arithmetic in JavaScript.
    pub time_ms: f64,
    #[schema(required = true)]
    pub trace_id: Option<String>,
    #[schema(required = true)]
    pub span_id: Option<String>,
    /// The record's event name (empty when it has none).
    pub event_name: String,
    pub severity_number: i32,
    pub severity_text: String,
    /// An OTLP `AnyValue` in JSON form, or null.
    #[schema(required = true)]
    pub body: Option<Value>,
    /// OTLP JSON form.
    #[schema(value_type = Object)]
    pub attributes: Value,
    pub dropped_attributes_count: u32,
    pub flags: u32,
    pub resource: OtlpResource,
    pub scope: OtlpScope,
}

/// The entity that produced telemetry (`service.name` and friends).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OtlpResource {
    /// OTLP JSON form.
    #[schema(value_type = Object)]
    pub attributes: Value,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

/// The instrumentation scope (library) that produced telemetry.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OtlpScope {
    pub name: String,
    pub version: String,
    /// OTLP JSON form.
    #[schema(value_type = Object)]
    pub attributes: Value,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_trace))
}

#[utoipa::path(
    get,
    path = "/api/v1/traces/{trace_id}",
    operation_id = "getTrace",
    tag = "traces",
    summary = "A trace as a span tree, with its LLM calls and log records.",
    params(
        ("trace_id" = String, Path, description = "Trace id (32 hex digits)."),
    ),
    responses(
        (status = 200, description = "The trace.", body = Trace),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Internal,
    ),
)]
#[tracing::instrument(skip(state), fields(trace_id = %trace_id))]
async fn get_trace(
    State(state): State<ApiState>,
    project: Project,
    Path(trace_id): Path<String>,
) -> Result<Json<Trace>, ApiError> {
    let trace_id = TraceId::from_hex(&trace_id).map_err(|e| ApiError::invalid("trace_id", e))?;
    let reader = &state.store.reader;
    // Pending first: what is derived meanwhile is then in the tables.
    let pending = derive::pending_trace(&state.ingest, &project, trace_id)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let stored_spans = reader.trace_spans(project.id, trace_id).await?;
    let stored_logs = reader.trace_logs(project.id, trace_id).await?;
    let mut context = Context::default();
    let mut spans = Vec::with_capacity(stored_spans.len());
    for item in stored_spans {
        let (resource, scope) = context.get(&state, item.resource_id, item.scope_id).await?;
        spans.push(SpanNode::new(&item.span, resource, scope));
    }
    let mut logs = Vec::with_capacity(stored_logs.len());
    for item in stored_logs {
        let (resource, scope) = context.get(&state, item.resource_id, item.scope_id).await?;
        logs.push(LogEntry::new(&item.record, resource, scope));
    }
    add_pending(&mut spans, &mut logs, pending);
    if spans.is_empty() && logs.is_empty() {
        return Err(ApiError::NotFound(format!("trace {trace_id}")));
    }
    let filter = CallFilter {
        trace_id: Some(trace_id),
        ..CallFilter::default()
    };
    let sort = CallSort {
        key: SortKey::Time,
        ascending: true,
    };
    let calls = reader
        .list_calls(project.id, &filter, sort, 1000, None)
        .await?
        .calls;
    let roots = link_tree(&mut spans, &calls);
    Ok(Json(Trace {
        trace_id: trace_id.to_hex(),
        roots,
        spans,
        calls,
        logs,
    }))
}

/// Adds the acknowledged spans and log records not derived yet, each once:
/// a span re-sent after its first copy was derived is shown as stored.
fn add_pending(spans: &mut Vec<SpanNode>, logs: &mut Vec<LogEntry>, pending: PendingTrace) {
    let mut seen: HashSet<String> = spans.iter().map(|s| s.span_id.clone()).collect();
    for group in &pending.spans {
        let resource = OtlpResource::new(&group.resource);
        let scope = OtlpScope::new(&group.scope);
        for span in &group.spans {
            if seen.insert(span.span_id.to_hex()) {
                spans.push(SpanNode::new(span, resource.clone(), scope.clone()));
            }
        }
    }
    spans.sort_by_key(|span| span.start_time_unix_nano);
    // Log records have no id: one re-sent is the same JSON.
    let key = |log: &LogEntry| serde_json::to_string(log).unwrap_or_default();
    let mut seen: HashSet<String> = logs.iter().map(key).collect();
    for group in &pending.logs {
        let resource = OtlpResource::new(&group.resource);
        let scope = OtlpScope::new(&group.scope);
        for record in &group.records {
            let log = LogEntry::new(record, resource.clone(), scope.clone());
            if seen.insert(key(&log)) {
                logs.push(log);
            }
        }
    }
    logs.sort_by_key(|log| log.time_unix_nano);
}

/// Gives each span its `children` (span ids, in start order) and the id of
/// the LLM call it is the source of (`call_id`, else null); returns the
/// ids of the spans whose parent is not in the trace.
fn link_tree(spans: &mut [SpanNode], calls: &[CallSummary]) -> Vec<String> {
    let ids: HashMap<String, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.clone(), i))
        .collect();
    let mut children: Vec<Vec<String>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for span in spans.iter() {
        let id = span.span_id.clone();
        match span.parent_span_id.as_ref().and_then(|p| ids.get(p)) {
            Some(&parent) => children[parent].push(id),
            None => roots.push(id),
        }
    }
    for (span, kids) in spans.iter_mut().zip(children) {
        let call = calls
            .iter()
            .find(|c| c.span_id.is_some_and(|id| id.to_hex() == span.span_id));
        span.call_id = call.map(|c| c.call_id.to_string());
        span.children = kids;
    }
    roots
}

/// Resources and scopes already read for this response.
#[derive(Default)]
pub(super) struct Context {
    resources: HashMap<i64, OtlpResource>,
    scopes: HashMap<i64, OtlpScope>,
}

impl Context {
    /// The resource and scope of an item, read once per response.
    pub(super) async fn get(
        &mut self,
        state: &ApiState,
        resource_id: i64,
        scope_id: i64,
    ) -> Result<(OtlpResource, OtlpScope), ApiError> {
        if let Entry::Vacant(entry) = self.resources.entry(resource_id) {
            let resource = state.store.reader.resource(resource_id).await?;
            entry.insert(OtlpResource::new(&resource));
        }
        if let Entry::Vacant(entry) = self.scopes.entry(scope_id) {
            let scope = state.store.reader.scope(scope_id).await?;
            entry.insert(OtlpScope::new(&scope));
        }
        Ok((
            self.resources[&resource_id].clone(),
            self.scopes[&scope_id].clone(),
        ))
    }
}

impl SpanNode {
    /// A span with its resource and scope; `call_id` and `children` are
    /// set once the whole trace is read.
    pub fn new(span: &Span, resource: OtlpResource, scope: OtlpScope) -> Self {
        SpanNode {
            trace_id: span.trace_id.to_hex(),
            span_id: span.span_id.to_hex(),
            parent_span_id: span.parent_span_id.map(|id| id.to_hex()),
            name: span.name.clone(),
            kind: span.kind,
            start_time_unix_nano: span.start_time_unix_nano,
            end_time_unix_nano: span.end_time_unix_nano,
            start_time_ms: nanos::millis(span.start_time_unix_nano),
            end_time_ms: nanos::millis(span.end_time_unix_nano),
            status: SpanStatusView {
                code: span.status.code,
                message: span.status.message.clone(),
            },
            trace_state: span.trace_state.clone(),
            flags: span.flags,
            attributes: span.attributes.to_otlp_json_object(),
            dropped_attributes_count: span.dropped_attributes_count,
            events: span.events.iter().map(SpanEvent::new).collect(),
            dropped_events_count: span.dropped_events_count,
            links: span.links.iter().map(SpanLink::new).collect(),
            dropped_links_count: span.dropped_links_count,
            resource,
            scope,
            call_id: None,
            children: Vec::new(),
        }
    }
}

impl SpanEvent {
    fn new(event: &Event) -> Self {
        SpanEvent {
            time_unix_nano: event.time_unix_nano,
            name: event.name.clone(),
            attributes: event.attributes.to_otlp_json_object(),
            dropped_attributes_count: event.dropped_attributes_count,
        }
    }
}

impl SpanLink {
    fn new(link: &Link) -> Self {
        SpanLink {
            trace_id: link.trace_id.to_hex(),
            span_id: link.span_id.to_hex(),
            trace_state: link.trace_state.clone(),
            flags: link.flags,
            attributes: link.attributes.to_otlp_json_object(),
            dropped_attributes_count: link.dropped_attributes_count,
        }
    }
}

impl LogEntry {
    pub fn new(record: &LogRecord, resource: OtlpResource, scope: OtlpScope) -> Self {
        LogEntry {
            time_unix_nano: record.time_unix_nano,
            observed_time_unix_nano: record.observed_time_unix_nano,
            time_ms: nanos::millis(record.time_unix_nano),
            trace_id: record.trace_id.map(|id| id.to_hex()),
            span_id: record.span_id.map(|id| id.to_hex()),
            event_name: record.event_name.clone(),
            severity_number: record.severity_number,
            severity_text: record.severity_text.clone(),
            body: record.body.as_ref().map(|b| b.to_otlp_json()),
            attributes: record.attributes.to_otlp_json_object(),
            dropped_attributes_count: record.dropped_attributes_count,
            flags: record.flags,
            resource,
            scope,
        }
    }
}

impl OtlpResource {
    pub fn new(resource: &Resource) -> Self {
        OtlpResource {
            attributes: resource.attributes.to_otlp_json_object(),
            dropped_attributes_count: resource.dropped_attributes_count,
            schema_url: resource.schema_url.clone(),
        }
    }
}

impl OtlpScope {
    pub fn new(scope: &Scope) -> Self {
        OtlpScope {
            name: scope.name.clone(),
            version: scope.version.clone(),
            attributes: scope.attributes.to_otlp_json_object(),
            dropped_attributes_count: scope.dropped_attributes_count,
            schema_url: scope.schema_url.clone(),
        }
    }
}
