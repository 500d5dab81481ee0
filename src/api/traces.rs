//! `GET /api/v1/traces/{trace_id}`: every stored span and log record of a
//! trace, each with its resource and scope, exactly as received; the span
//! tree (`roots`, and each span's `children`); and the trace's LLM calls,
//! each span pointing at the call it is the source of.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value as Json_, json};

use super::error::ApiError;
use super::{ApiState, AppState};
use crate::model::CallSummary;
use crate::model::filter::CallFilter;
use crate::model::project::Project;
use crate::model::{Event, Link, LogRecord, Resource, Scope, Span, TraceId};
use crate::store::read::{CallSort, SortKey};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/traces/{trace_id}", get(get_trace))
}

#[tracing::instrument(skip(state), fields(trace_id = %trace_id))]
async fn get_trace(
    State(state): State<ApiState>,
    project: Project,
    Path(trace_id): Path<String>,
) -> Result<Json<Json_>, ApiError> {
    let trace_id = TraceId::from_hex(&trace_id).map_err(|e| ApiError::invalid("trace_id", e))?;
    let reader = &state.store.reader;
    let stored_spans = reader.trace_spans(project.id, trace_id).await?;
    let stored_logs = reader.trace_logs(project.id, trace_id).await?;
    if stored_spans.is_empty() && stored_logs.is_empty() {
        return Err(ApiError::NotFound(format!("trace {trace_id}")));
    }
    let mut context = Context::default();
    let mut spans = Vec::with_capacity(stored_spans.len());
    for item in stored_spans {
        let mut span = span_json(&item.span);
        context
            .attach(&state, &mut span, item.resource_id, item.scope_id)
            .await?;
        spans.push(span);
    }
    let mut logs = Vec::with_capacity(stored_logs.len());
    for item in stored_logs {
        let mut log = log_json(&item.record);
        context
            .attach(&state, &mut log, item.resource_id, item.scope_id)
            .await?;
        logs.push(log);
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
    Ok(Json(json!({
        "trace_id": trace_id.to_hex(),
        "roots": roots,
        "spans": spans,
        "calls": calls,
        "logs": logs,
    })))
}

/// Gives each span its `children` (span ids, in start order) and the id of
/// the LLM call it is the source of (`call_id`, else null); returns the
/// ids of the spans whose parent is not in the trace.
fn link_tree(spans: &mut [Json_], calls: &[CallSummary]) -> Vec<String> {
    let ids: HashMap<String, usize> = spans
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s["span_id"].as_str().map(|id| (id.to_owned(), i)))
        .collect();
    let mut children: Vec<Vec<String>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for span in spans.iter() {
        let id = span["span_id"].as_str().unwrap_or_default().to_owned();
        match span["parent_span_id"].as_str().and_then(|p| ids.get(p)) {
            Some(&parent) => children[parent].push(id),
            None => roots.push(id),
        }
    }
    for (span, kids) in spans.iter_mut().zip(children) {
        let span_id = span["span_id"].as_str().unwrap_or_default().to_owned();
        let call = calls
            .iter()
            .find(|c| c.span_id.is_some_and(|id| id.to_hex() == span_id));
        span["call_id"] = call.map_or(Json_::Null, |c| Json_::String(c.call_id.to_string()));
        span["children"] = json!(kids);
    }
    roots
}

/// Resources and scopes already read for this response.
#[derive(Default)]
pub(super) struct Context {
    resources: HashMap<i64, Json_>,
    scopes: HashMap<i64, Json_>,
}

impl Context {
    pub(super) async fn attach(
        &mut self,
        state: &ApiState,
        item: &mut Json_,
        resource_id: i64,
        scope_id: i64,
    ) -> Result<(), ApiError> {
        if let Entry::Vacant(entry) = self.resources.entry(resource_id) {
            let resource = state.store.reader.resource(resource_id).await?;
            entry.insert(resource_json(&resource));
        }
        if let Entry::Vacant(entry) = self.scopes.entry(scope_id) {
            let scope = state.store.reader.scope(scope_id).await?;
            entry.insert(scope_json(&scope));
        }
        item["resource"] = self.resources[&resource_id].clone();
        item["scope"] = self.scopes[&scope_id].clone();
        Ok(())
    }
}

/// Nanosecond times are decimal strings, as OTLP/JSON writes them.
fn nanos(value: u64) -> Json_ {
    crate::model::nanos::to_json(value)
}

fn millis(value: u64) -> Json_ {
    json!(crate::model::nanos::millis(value))
}

pub fn span_json(span: &Span) -> Json_ {
    json!({
        "trace_id": span.trace_id.to_hex(),
        "span_id": span.span_id.to_hex(),
        "parent_span_id": span.parent_span_id.map(|id| id.to_hex()),
        "name": span.name,
        "kind": span.kind,
        "start_time_unix_nano": nanos(span.start_time_unix_nano),
        "end_time_unix_nano": nanos(span.end_time_unix_nano),
        "start_time_ms": millis(span.start_time_unix_nano),
        "end_time_ms": millis(span.end_time_unix_nano),
        "status": {"code": span.status.code, "message": span.status.message},
        "trace_state": span.trace_state,
        "flags": span.flags,
        "attributes": span.attributes.to_otlp_json_object(),
        "dropped_attributes_count": span.dropped_attributes_count,
        "events": span.events.iter().map(event_json).collect::<Vec<_>>(),
        "dropped_events_count": span.dropped_events_count,
        "links": span.links.iter().map(link_json).collect::<Vec<_>>(),
        "dropped_links_count": span.dropped_links_count,
    })
}

fn event_json(event: &Event) -> Json_ {
    json!({
        "time_unix_nano": nanos(event.time_unix_nano),
        "name": event.name,
        "attributes": event.attributes.to_otlp_json_object(),
        "dropped_attributes_count": event.dropped_attributes_count,
    })
}

fn link_json(link: &Link) -> Json_ {
    json!({
        "trace_id": link.trace_id.to_hex(),
        "span_id": link.span_id.to_hex(),
        "trace_state": link.trace_state,
        "flags": link.flags,
        "attributes": link.attributes.to_otlp_json_object(),
        "dropped_attributes_count": link.dropped_attributes_count,
    })
}

pub fn log_json(record: &LogRecord) -> Json_ {
    json!({
        "time_unix_nano": nanos(record.time_unix_nano),
        "observed_time_unix_nano": nanos(record.observed_time_unix_nano),
        "time_ms": millis(record.time_unix_nano),
        "trace_id": record.trace_id.map(|id| id.to_hex()),
        "span_id": record.span_id.map(|id| id.to_hex()),
        "event_name": record.event_name,
        "severity_number": record.severity_number,
        "severity_text": record.severity_text,
        "body": record.body.as_ref().map(|b| b.to_otlp_json()),
        "attributes": record.attributes.to_otlp_json_object(),
        "dropped_attributes_count": record.dropped_attributes_count,
        "flags": record.flags,
    })
}

pub fn resource_json(resource: &Resource) -> Json_ {
    json!({
        "attributes": resource.attributes.to_otlp_json_object(),
        "dropped_attributes_count": resource.dropped_attributes_count,
        "schema_url": resource.schema_url,
    })
}

pub fn scope_json(scope: &Scope) -> Json_ {
    json!({
        "name": scope.name,
        "version": scope.version,
        "attributes": scope.attributes.to_otlp_json_object(),
        "dropped_attributes_count": scope.dropped_attributes_count,
        "schema_url": scope.schema_url,
    })
}
