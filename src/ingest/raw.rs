//! Raw records: LLM calls posted as JSON (`POST /api/v1/calls`, `reprise
//! import`) rather than exported as telemetry. A record is either a raw
//! provider exchange —
//!
//! ```json
//! {"provider": "openai", "request": {…as sent…}, "response": {…} or [chunks…],
//!  "start_time": "2026-11-28T10:00:00Z", "duration_ms": 820, "ttft_ms": 210,
//!  "status": "ok", "service": "support-bot", "session_id": "…", "user_id": "…",
//!  "tags": ["…"], "metadata": {"tenant": "acme"}, "idempotency_key": "…"}
//! ```
//!
//! — normalized by the same wire-format code as replays use
//! ([`crate::providers::wire`]), the request kept exactly as received so it can
//! be replayed as is; or a canonical call (the JSON `GET /api/v1/calls/{id}`
//! returns, e.g. from an export).
//!
//! A record's id is its `id`, or is derived from its `idempotency_key` (or,
//! without one, from its whole content) and the start time the record
//! itself gives, so sending the same record twice stores it once. It never
//! depends on when the record arrived: a record without a start time is
//! stored at its arrival time, but its id is the same on every re-send.

use serde_json::{Map, Value as Json};

use crate::model::{Call, CallError, CallId, CallStatus, RawExchange, Source, nanos};
use crate::providers::wire::{RecordedResponse, WireFormat, fill_call};

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    #[error("a record must be a JSON object")]
    NotAnObject,
    #[error("field {field:?}: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error("the request is not a {format} request: {message}")]
    Request {
        format: &'static str,
        message: String,
    },
    #[error("not a canonical call: {0}")]
    Canonical(String),
}

fn field(field: &'static str, message: impl Into<String>) -> RecordError {
    RecordError::Field {
        field,
        message: message.into(),
    }
}

/// Parses one record; `received_unix_nano` stands in for a missing start time.
pub fn parse_record(record: &Json, received_unix_nano: u64) -> Result<Call, RecordError> {
    let object = record.as_object().ok_or(RecordError::NotAnObject)?;
    if object.contains_key("request") {
        parse_exchange(object, received_unix_nano)
    } else {
        parse_canonical(record, received_unix_nano)
    }
}

fn parse_exchange(
    object: &Map<String, Json>,
    received_unix_nano: u64,
) -> Result<Call, RecordError> {
    let request = &object["request"];
    if !request.is_object() {
        return Err(field(
            "request",
            "must be the provider request body, a JSON object",
        ));
    }
    let provider = optional_string(object, "provider")?;
    let format = wire_format(provider.as_deref(), request)?;
    let response = match object.get("response") {
        None | Some(Json::Null) => None,
        Some(Json::Array(events)) => Some(RecordedResponse::Stream(events.clone())),
        Some(body @ Json::Object(_)) => Some(RecordedResponse::Body(body.clone())),
        Some(_) => {
            return Err(field(
                "response",
                "must be the response body or the list of streamed chunks",
            ));
        }
    };
    let times = Times::read(object)?;
    let id = record_id(object, times.start_unix_nano)?;
    let start_unix_nano = times.start_unix_nano.unwrap_or(received_unix_nano);
    let mut call = Call::new(id, Source::Raw, start_unix_nano);
    fill_call(&mut call, format, request, response.as_ref()).map_err(|error| {
        RecordError::Request {
            format: format.as_str(),
            message: error.to_string(),
        }
    })?;
    if let Some(provider) = provider {
        call.provider = Some(provider.to_lowercase());
    }
    call.duration_ms = times.duration_ms.or(call.duration_ms);
    call.ttft_ms = optional_number(object, "ttft_ms")?.or(call.ttft_ms);
    apply_context(&mut call, object)?;
    call.raw = Some(RawExchange {
        format: format.as_str().to_owned(),
        request: request.clone(),
        response: object.get("response").filter(|r| !r.is_null()).cloned(),
    });
    Ok(call)
}

/// The wire format of a request: from the provider when it names one, else
/// from the request's shape.
fn wire_format(provider: Option<&str>, request: &Json) -> Result<WireFormat, RecordError> {
    let detected = WireFormat::detect(request);
    let format = match provider.map(str::to_lowercase).as_deref() {
        Some("anthropic") => WireFormat::Anthropic,
        Some("openai" | "azure.ai.openai") => match detected {
            Some(WireFormat::OpenAiResponses) => WireFormat::OpenAiResponses,
            _ => WireFormat::OpenAiChat,
        },
        // Many providers speak the OpenAI chat format (vLLM, Ollama, …);
        // trust the request's shape, default to Chat Completions.
        _ => detected.unwrap_or(WireFormat::OpenAiChat),
    };
    Ok(format)
}

/// Start, end and duration, in whichever combination the record gives.
struct Times {
    /// The start the record gives, directly or through its end time; none
    /// when it gives neither.
    start_unix_nano: Option<u64>,
    duration_ms: Option<f64>,
}

impl Times {
    fn read(object: &Map<String, Json>) -> Result<Times, RecordError> {
        let start = optional_time(object, "start_time")?;
        let end = optional_time(object, "end_time")?;
        let duration_ms = optional_number(object, "duration_ms")?;
        if let Some(ms) = duration_ms
            && ms < 0.0
        {
            return Err(field("duration_ms", "must not be negative"));
        }
        let (start, duration_ms) = match (start, end, duration_ms) {
            (Some(start), Some(end), None) => {
                if end < start {
                    return Err(field("end_time", "is before start_time"));
                }
                (Some(start), Some((end - start) as f64 / 1e6))
            }
            (Some(start), _, duration) => (Some(start), duration),
            (None, Some(end), Some(ms)) => (Some(end.saturating_sub((ms * 1e6) as u64)), Some(ms)),
            (None, Some(end), None) => (Some(end), None),
            (None, None, duration) => (None, duration),
        };
        Ok(Times {
            start_unix_nano: start,
            duration_ms,
        })
    }
}

/// The record's id: given, or derived from its idempotency key, or from its
/// content, so re-sending a record never stores it twice. The time part of
/// the id is the record's own start time (ids of records that give one are
/// unchanged from earlier versions, so re-importing an old file stays
/// harmless), or zero without one: the arrival time would make every
/// re-send a new call.
fn record_id(
    object: &Map<String, Json>,
    start_unix_nano: Option<u64>,
) -> Result<CallId, RecordError> {
    if let Some(id) = optional_string(object, "id")? {
        return id
            .parse()
            .map_err(|_| field("id", format!("{id:?} is not a call id")));
    }
    let seed = match optional_string(object, "idempotency_key")? {
        Some(key) => format!("key:{key}"),
        None => format!("content:{}", Json::Object(object.clone())),
    };
    Ok(CallId::derived(
        start_unix_nano.unwrap_or(0),
        seed.as_bytes(),
    ))
}

/// Status, error, service, session, user, tags and metadata, which override
/// what the exchange itself said.
fn apply_context(call: &mut Call, object: &Map<String, Json>) -> Result<(), RecordError> {
    match optional_string(object, "status")?.as_deref() {
        None => {}
        Some("ok") => call.status = CallStatus::Ok,
        Some("error") => call.status = CallStatus::Error,
        Some(other) => return Err(field("status", format!("{other:?} is not ok or error"))),
    }
    match object.get("error") {
        None | Some(Json::Null) => {}
        Some(Json::String(message)) => {
            call.status = CallStatus::Error;
            call.error = Some(CallError {
                error_type: None,
                message: Some(message.clone()),
            });
        }
        Some(Json::Object(error)) => {
            call.status = CallStatus::Error;
            call.error = Some(CallError {
                error_type: error.get("type").and_then(Json::as_str).map(str::to_owned),
                message: error
                    .get("message")
                    .and_then(Json::as_str)
                    .map(str::to_owned),
            });
        }
        Some(_) => {
            return Err(field(
                "error",
                "must be a message or {\"type\", \"message\"}",
            ));
        }
    }
    for (name, slot) in [
        ("service", &mut call.service),
        ("session_id", &mut call.session_id),
        ("user_id", &mut call.user_id),
    ] {
        if let Some(value) = optional_string(object, name)? {
            *slot = Some(value);
        }
    }
    match object.get("tags") {
        None | Some(Json::Null) => {}
        Some(Json::Array(tags)) => {
            for tag in tags {
                let tag = tag
                    .as_str()
                    .ok_or_else(|| field("tags", "must be a list of strings"))?;
                call.tags.push(tag.to_owned());
            }
        }
        Some(_) => return Err(field("tags", "must be a list of strings")),
    }
    match object.get("metadata") {
        None | Some(Json::Null) => {}
        Some(Json::Object(metadata)) => {
            for (key, value) in metadata {
                call.attributes.insert(key.clone(), value.clone());
            }
        }
        Some(_) => return Err(field("metadata", "must be an object")),
    }
    Ok(())
}

fn parse_canonical(record: &Json, received_unix_nano: u64) -> Result<Call, RecordError> {
    let mut record = record.clone();
    let Some(object) = record.as_object_mut() else {
        return Err(RecordError::NotAnObject);
    };
    let given_start = match object.get("start_time_unix_nano") {
        None | Some(Json::Null) => optional_time(object, "start_time")?,
        // As the API writes it (a decimal string), or as a number.
        Some(value) => Some(nanos::from_json(value).ok_or_else(|| {
            field(
                "start_time_unix_nano",
                "must be Unix nanoseconds, as a decimal string or an integer",
            )
        })?),
    };
    let id = record_id(object, given_start)?;
    let start = given_start.unwrap_or(received_unix_nano);
    object.insert("id".into(), Json::String(id.to_string()));
    object.insert("start_time_unix_nano".into(), nanos::to_json(start));
    object
        .entry("source")
        .or_insert_with(|| Json::String("raw".into()));
    for key in ["idempotency_key", "start_time"] {
        object.remove(key);
    }
    let defaults = serde_json::to_value(Call::new(id, Source::Raw, start))
        .map_err(|e| RecordError::Canonical(e.to_string()))?;
    let mut merged = defaults;
    if let (Some(base), Some(given)) = (merged.as_object_mut(), record.as_object()) {
        for (key, value) in given {
            base.insert(key.clone(), value.clone());
        }
    }
    let call: Call =
        serde_json::from_value(merged).map_err(|e| RecordError::Canonical(e.to_string()))?;
    let says_something = call.input_messages.is_some()
        || call.output_messages.is_some()
        || call.request_model.is_some()
        || call.response_model.is_some();
    if !says_something {
        // Most likely a raw exchange whose `request` was forgotten; storing
        // an empty call would hide the mistake.
        return Err(RecordError::Canonical(
            "it has no `request` (a raw exchange needs one) and none of `input_messages`, \
             `output_messages`, `request_model` or `response_model`"
                .into(),
        ));
    }
    Ok(call)
}

fn optional_string(
    object: &Map<String, Json>,
    name: &'static str,
) -> Result<Option<String>, RecordError> {
    match object.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(field(name, "must be a string")),
    }
}

fn optional_number(
    object: &Map<String, Json>,
    name: &'static str,
) -> Result<Option<f64>, RecordError> {
    match object.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(field(name, "must be a number")),
    }
}

/// A time as RFC 3339 text or Unix nanoseconds (an integer, or a string of
/// digits as the API writes times).
fn optional_time(
    object: &Map<String, Json>,
    name: &'static str,
) -> Result<Option<u64>, RecordError> {
    match object.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| field(name, "must be Unix nanoseconds or an RFC 3339 time")),
        Some(value @ Json::String(text)) => {
            if let Some(unix_nano) = nanos::from_json(value) {
                return Ok(Some(unix_nano));
            }
            let time = humantime::parse_rfc3339_weak(text)
                .map_err(|_| field(name, format!("{text:?} is not an RFC 3339 time")))?;
            let since = time
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|_| field(name, "is before 1970"))?;
            Ok(Some(since.as_nanos() as u64))
        }
        Some(_) => Err(field(name, "must be Unix nanoseconds or an RFC 3339 time")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_openai_exchange_becomes_a_call_and_keeps_its_request() {
        let record = json!({
            "provider": "openai",
            "request": {"model": "gpt-4o-mini", "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"}], "temperature": 0.2},
            "response": {"id": "chatcmpl-1", "model": "gpt-4o-mini-2024-07-18",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}},
            "start_time": "2026-11-28T10:00:00Z", "duration_ms": 420.0,
            "service": "bot", "tags": ["beta"], "metadata": {"tenant": "acme"}
        });
        let call = parse_record(&record, 0).expect("valid");
        assert_eq!(call.source, Source::Raw);
        assert_eq!(call.provider.as_deref(), Some("openai"));
        assert_eq!(call.response_id.as_deref(), Some("chatcmpl-1"));
        assert_eq!(call.output_text().as_deref(), Some("Hello!"));
        assert_eq!(call.usage.input_tokens, Some(9));
        assert_eq!(call.duration_ms, Some(420.0));
        assert_eq!(call.tags, vec!["beta"]);
        assert_eq!(call.attributes["tenant"], "acme");
        assert_eq!(
            call.raw.as_ref().map(|r| &r.request),
            Some(&record["request"])
        );
        assert_eq!(
            parse_record(&record, 99).expect("valid").id,
            call.id,
            "same record, same id"
        );
    }

    #[test]
    fn a_record_without_a_time_has_the_same_id_whenever_it_arrives() {
        let keyed = json!({"request": {"model": "m", "messages": []}, "idempotency_key": "k"});
        let first = parse_record(&keyed, 1_000_000_000).expect("valid");
        let again = parse_record(&keyed, 9_000_000_000).expect("valid");
        assert_eq!(first.id, again.id);
        assert_eq!(
            first.start_time_unix_nano, 1_000_000_000,
            "stored at arrival"
        );
        let unkeyed = json!({"request": {"model": "m", "messages": []}});
        let first = parse_record(&unkeyed, 1_000_000_000).expect("valid");
        assert_eq!(first.id, parse_record(&unkeyed, 2).expect("valid").id);
        let other = json!({"request": {"model": "n", "messages": []}});
        assert_ne!(first.id, parse_record(&other, 2).expect("valid").id);
    }

    #[test]
    fn bad_fields_say_which_field() {
        let error = parse_record(&json!({"request": {"messages": []}, "status": "maybe"}), 0)
            .expect_err("bad status");
        assert!(error.to_string().contains("status"), "{error}");
        let error = parse_record(&json!({"request": "hi"}), 0).expect_err("bad request");
        assert!(error.to_string().contains("request"), "{error}");
        assert_eq!(parse_record(&json!([1]), 0), Err(RecordError::NotAnObject));
    }

    #[test]
    fn a_canonical_call_round_trips_with_its_id() {
        let mut call = Call::new(CallId::derived(5, b"x"), Source::Otlp, 5);
        call.request_model = Some("m".into());
        let json = serde_json::to_value(&call).expect("json");
        let parsed = parse_record(&json, 0).expect("valid");
        assert_eq!(parsed, call);
    }

    #[test]
    fn a_record_with_neither_request_nor_content_is_refused() {
        let error = parse_record(&json!({"provider": "openai", "service": "s"}), 0)
            .expect_err("empty record");
        assert!(error.to_string().contains("`request`"), "{error}");
    }
}
