//! Compares what the trace API returns with the OTLP/JSON fixture it came
//! from, field by field. Written against the OTLP/JSON text, not against
//! reprise's own types, so it checks the whole round trip independently.

use std::collections::HashMap;

use serde_json::{Value, json};

/// An `AnyValue` in one canonical shape, whatever JSON spelling it had
/// (`intValue` as string or number, `{}` for an empty array, …).
pub fn canon(value: &Value) -> Value {
    let Some(object) = value.as_object() else {
        return Value::Null;
    };
    let Some((kind, inner)) = object.iter().next() else {
        return Value::Null;
    };
    match kind.as_str() {
        "stringValue" => json!({"s": inner}),
        "boolValue" => json!({"b": inner}),
        "intValue" => {
            let i: i64 = match inner {
                Value::String(s) => s.parse().expect("int"),
                other => other.as_i64().expect("int"),
            };
            json!({"i": i})
        }
        "doubleValue" => {
            let d = match inner {
                Value::String(s) => s.parse::<f64>().expect("double"),
                other => other.as_f64().expect("double"),
            };
            json!({"d": d.to_string()})
        }
        "bytesValue" => json!({"bytes": inner}),
        "arrayValue" => {
            let values = inner
                .get("values")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            json!({"a": values.iter().map(canon).collect::<Vec<_>>()})
        }
        "kvlistValue" => {
            let values = inner
                .get("values")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            json!({"kv": values.iter().map(|kv| json!([kv["key"], canon(&kv["value"])])).collect::<Vec<_>>()})
        }
        other => panic!("unknown AnyValue kind {other}"),
    }
}

/// Fixture attribute list → key → canonical value.
fn fixture_attributes(list: &Value) -> HashMap<String, Value> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|kv| {
                    let key = kv["key"].as_str().expect("key").to_owned();
                    (key, canon(kv.get("value").unwrap_or(&Value::Null)))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// API attribute object → key → canonical value.
fn api_attributes(object: &Value) -> HashMap<String, Value> {
    object
        .as_object()
        .expect("attributes object")
        .iter()
        .map(|(k, v)| (k.clone(), canon(v)))
        .collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A 64-bit number as text; absent means the default, 0.
fn nanos(value: &Value) -> String {
    match value {
        Value::Null => "0".to_owned(),
        other => text(other),
    }
}

fn int(value: &Value) -> i64 {
    match value {
        Value::Null => 0,
        Value::String(s) => s.parse().expect("int"),
        other => other.as_i64().expect("int"),
    }
}

fn assert_attributes(context: &str, fixture: &Value, api: &Value) {
    assert_eq!(
        fixture_attributes(fixture),
        api_attributes(api),
        "{context}: attributes differ"
    );
}

/// Checks one fixture span against the span the API returned.
pub fn assert_span(context: &str, fixture: &Value, resource: &Value, scope: &Value, api: &Value) {
    let ctx = format!("{context} span {}", text(&fixture["spanId"]));
    assert_eq!(
        text(&fixture["traceId"]).to_lowercase(),
        text(&api["trace_id"]),
        "{ctx}: trace id"
    );
    assert_eq!(text(&fixture["name"]), text(&api["name"]), "{ctx}: name");
    assert_eq!(int(&fixture["kind"]), int(&api["kind"]), "{ctx}: kind");
    let parent = text(&fixture["parentSpanId"]).to_lowercase();
    assert_eq!(parent, text(&api["parent_span_id"]), "{ctx}: parent");
    assert_eq!(
        nanos(&fixture["startTimeUnixNano"]),
        nanos(&api["start_time_unix_nano"]),
        "{ctx}: start"
    );
    assert_eq!(
        nanos(&fixture["endTimeUnixNano"]),
        nanos(&api["end_time_unix_nano"]),
        "{ctx}: end"
    );
    assert_eq!(int(&fixture["flags"]), int(&api["flags"]), "{ctx}: flags");
    assert_eq!(
        text(&fixture["traceState"]),
        text(&api["trace_state"]),
        "{ctx}: trace state"
    );
    assert_eq!(
        int(&fixture["status"]["code"]),
        int(&api["status"]["code"]),
        "{ctx}: status code"
    );
    assert_eq!(
        text(&fixture["status"]["message"]),
        text(&api["status"]["message"]),
        "{ctx}: status message"
    );
    assert_eq!(
        int(&fixture["droppedAttributesCount"]),
        int(&api["dropped_attributes_count"]),
        "{ctx}: dropped attributes"
    );
    assert_attributes(&ctx, &fixture["attributes"], &api["attributes"]);
    let events = fixture["events"].as_array().cloned().unwrap_or_default();
    let api_events = api["events"].as_array().expect("events");
    assert_eq!(events.len(), api_events.len(), "{ctx}: event count");
    for (i, (event, api_event)) in events.iter().zip(api_events).enumerate() {
        let ectx = format!("{ctx} event {i}");
        assert_eq!(
            text(&event["name"]),
            text(&api_event["name"]),
            "{ectx}: name"
        );
        assert_eq!(
            nanos(&event["timeUnixNano"]),
            nanos(&api_event["time_unix_nano"]),
            "{ectx}: time"
        );
        assert_attributes(&ectx, &event["attributes"], &api_event["attributes"]);
    }
    let links = fixture["links"].as_array().cloned().unwrap_or_default();
    let api_links = api["links"].as_array().expect("links");
    assert_eq!(links.len(), api_links.len(), "{ctx}: link count");
    for (link, api_link) in links.iter().zip(api_links) {
        assert_eq!(
            text(&link["spanId"]).to_lowercase(),
            text(&api_link["span_id"]),
            "{ctx}: link"
        );
        assert_attributes(&ctx, &link["attributes"], &api_link["attributes"]);
    }
    assert_attributes(
        &format!("{ctx} resource"),
        &resource["attributes"],
        &api["resource"]["attributes"],
    );
    assert_eq!(
        text(&scope["name"]),
        text(&api["scope"]["name"]),
        "{ctx}: scope name"
    );
    assert_eq!(
        text(&scope["version"]),
        text(&api["scope"]["version"]),
        "{ctx}: scope version"
    );
    assert_attributes(
        &format!("{ctx} scope"),
        &scope["attributes"],
        &api["scope"]["attributes"],
    );
}

/// Checks one fixture log record against the record the API returned.
pub fn assert_log(context: &str, fixture: &Value, resource: &Value, scope: &Value, api: &Value) {
    let ctx = format!("{context} log {}", nanos(&fixture["timeUnixNano"]));
    assert_eq!(
        nanos(&fixture["timeUnixNano"]),
        nanos(&api["time_unix_nano"]),
        "{ctx}: time"
    );
    assert_eq!(
        nanos(&fixture["observedTimeUnixNano"]),
        nanos(&api["observed_time_unix_nano"]),
        "{ctx}: observed time"
    );
    assert_eq!(
        text(&fixture["spanId"]).to_lowercase(),
        text(&api["span_id"]),
        "{ctx}: span id"
    );
    assert_eq!(
        text(&fixture["eventName"]),
        text(&api["event_name"]),
        "{ctx}: event name"
    );
    assert_eq!(
        int(&fixture["severityNumber"]),
        int(&api["severity_number"]),
        "{ctx}: severity"
    );
    assert_eq!(
        text(&fixture["severityText"]),
        text(&api["severity_text"]),
        "{ctx}: severity text"
    );
    let fixture_body = fixture.get("body").map(canon);
    let api_body = match &api["body"] {
        Value::Null => None,
        body => Some(canon(body)),
    };
    assert_eq!(fixture_body, api_body, "{ctx}: body");
    assert_attributes(&ctx, &fixture["attributes"], &api["attributes"]);
    assert_attributes(
        &format!("{ctx} resource"),
        &resource["attributes"],
        &api["resource"]["attributes"],
    );
    assert_eq!(
        text(&scope["name"]),
        text(&api["scope"]["name"]),
        "{ctx}: scope name"
    );
}

/// Every (span, resource, scope) of a fixture request.
pub fn fixture_spans(request: &Value) -> Vec<(Value, Value, Value)> {
    let mut out = Vec::new();
    for resource_spans in request["resourceSpans"].as_array().into_iter().flatten() {
        let resource = resource_spans["resource"].clone();
        for scope_spans in resource_spans["scopeSpans"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let scope = scope_spans["scope"].clone();
            for span in scope_spans["spans"].as_array().into_iter().flatten() {
                out.push((span.clone(), resource.clone(), scope.clone()));
            }
        }
    }
    out
}

/// Every (log record, resource, scope) of a fixture request.
pub fn fixture_logs(request: &Value) -> Vec<(Value, Value, Value)> {
    let mut out = Vec::new();
    for resource_logs in request["resourceLogs"].as_array().into_iter().flatten() {
        let resource = resource_logs["resource"].clone();
        for scope_logs in resource_logs["scopeLogs"].as_array().into_iter().flatten() {
            let scope = scope_logs["scope"].clone();
            for record in scope_logs["logRecords"].as_array().into_iter().flatten() {
                out.push((record.clone(), resource.clone(), scope.clone()));
            }
        }
    }
    out
}
