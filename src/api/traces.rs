//! `GET /api/v1/traces/{trace_id}`: every stored span of a trace, with its
//! resource and scope, exactly as received.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value as Json_, json};

use super::ApiState;
use super::error::ApiError;
use crate::model::{Event, Link, Resource, Scope, Span, TraceId};

pub fn router() -> Router<ApiState> {
    Router::new().route("/api/v1/traces/{trace_id}", get(get_trace))
}

async fn get_trace(
    State(state): State<ApiState>,
    Path(trace_id): Path<String>,
) -> Result<Json<Json_>, ApiError> {
    let trace_id = TraceId::from_hex(&trace_id).map_err(|e| ApiError::invalid("trace_id", e))?;
    let stored = state.store.reader.trace_spans(state.project_id, trace_id).await?;
    if stored.is_empty() {
        return Err(ApiError::NotFound(format!("trace {trace_id}")));
    }
    let mut resources: HashMap<i64, Json_> = HashMap::new();
    let mut scopes: HashMap<i64, Json_> = HashMap::new();
    let mut spans = Vec::with_capacity(stored.len());
    for item in stored {
        if !resources.contains_key(&item.resource_id) {
            let resource = state.store.reader.resource(item.resource_id).await?;
            resources.insert(item.resource_id, resource_json(&resource));
        }
        if !scopes.contains_key(&item.scope_id) {
            let scope = state.store.reader.scope(item.scope_id).await?;
            scopes.insert(item.scope_id, scope_json(&scope));
        }
        let mut span = span_json(&item.span);
        span["resource"] = resources[&item.resource_id].clone();
        span["scope"] = scopes[&item.scope_id].clone();
        spans.push(span);
    }
    Ok(Json(json!({"trace_id": trace_id.to_hex(), "spans": spans})))
}

/// 64-bit nanosecond times are strings, as in OTLP/JSON, so JavaScript
/// clients do not lose precision.
fn nanos(value: u64) -> Json_ {
    Json_::String(value.to_string())
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
