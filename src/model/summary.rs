//! A call without its content: the fields listings, metrics, traces and the
//! store's indexed columns all use. One type, built from a [`Call`] in one
//! place, so the summary a listing shows and the columns a filter runs on
//! cannot drift from the call they describe.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::nanos;
use super::{Call, CallId, CallStatus, Source, SpanId, TraceId, Usage};

#[derive(Clone, Debug, PartialEq)]
pub struct CallSummary {
    pub call_id: CallId,
    pub source: Source,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub service: Option<String>,
    pub provider: Option<String>,
    pub operation: Option<String>,
    pub request_model: Option<String>,
    pub response_model: Option<String>,
    pub response_id: Option<String>,
    pub start_time_unix_nano: u64,
    pub duration_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub streaming: Option<bool>,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
    pub status: CallStatus,
    pub error_type: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
}

impl CallSummary {
    pub fn of(call: &Call) -> Self {
        Self {
            call_id: call.id,
            source: call.source,
            trace_id: call.trace_id,
            span_id: call.span_id,
            service: call.service.clone(),
            provider: call.provider.clone(),
            operation: call.operation.clone(),
            request_model: call.request_model.clone(),
            response_model: call.response_model.clone(),
            response_id: call.response_id.clone(),
            start_time_unix_nano: call.start_time_unix_nano,
            duration_ms: call.duration_ms,
            ttft_ms: call.ttft_ms,
            streaming: call.streaming,
            usage: call.usage.clone(),
            cost_usd: call.cost_usd,
            status: call.status,
            error_type: call.error.as_ref().and_then(|e| e.error_type.clone()),
            session_id: call.session_id.clone(),
            user_id: call.user_id.clone(),
        }
    }
}

/// A call in a listing, as `GET /api/v1/calls` shows it: the canonical
/// call's field names, with the start also in milliseconds for JavaScript.
impl Serialize for CallSummary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("CallSummary", 21)?;
        s.serialize_field("id", &self.call_id)?;
        s.serialize_field("trace_id", &self.trace_id)?;
        s.serialize_field("span_id", &self.span_id)?;
        s.serialize_field("source", &self.source)?;
        s.serialize_field("service", &self.service)?;
        s.serialize_field("provider", &self.provider)?;
        s.serialize_field("operation", &self.operation)?;
        s.serialize_field("request_model", &self.request_model)?;
        s.serialize_field("response_model", &self.response_model)?;
        s.serialize_field("response_id", &self.response_id)?;
        s.serialize_field(
            "start_time_unix_nano",
            &self.start_time_unix_nano.to_string(),
        )?;
        s.serialize_field("start_time_ms", &nanos::millis(self.start_time_unix_nano))?;
        s.serialize_field("duration_ms", &self.duration_ms)?;
        s.serialize_field("ttft_ms", &self.ttft_ms)?;
        s.serialize_field("streaming", &self.streaming)?;
        s.serialize_field("usage", &self.usage)?;
        s.serialize_field("cost_usd", &self.cost_usd)?;
        s.serialize_field("status", &self.status)?;
        s.serialize_field("error_type", &self.error_type)?;
        s.serialize_field("session_id", &self.session_id)?;
        s.serialize_field("user_id", &self.user_id)?;
        s.end()
    }
}

// The schema of what the `Serialize` impl above writes, field for field
// (a test checks the two agree).
#[derive(utoipa::ToSchema)]
#[schema(as = CallSummary)]
#[allow(
    dead_code,
    reason = "only its schema is used: CallSummary serializes itself"
)]
/// A call in a listing: the canonical call without its content, with the
/// start also in milliseconds.
struct CallSummarySchema {
    id: CallId,
    trace_id: Option<TraceId>,
    span_id: Option<SpanId>,
    source: Source,
    service: Option<String>,
    provider: Option<String>,
    operation: Option<String>,
    request_model: Option<String>,
    response_model: Option<String>,
    response_id: Option<String>,
    /// Unix nanoseconds as a decimal string (OTLP/JSON style: a JSON number
    /// would lose digits in JavaScript).
    #[schema(pattern = "^[0-9]+$")]
    start_time_unix_nano: String,
    /// The start in milliseconds since the epoch (the fraction holds the
    /// sub-millisecond part), for arithmetic in JavaScript.
    start_time_ms: f64,
    duration_ms: Option<f64>,
    /// Time to first token, when the telemetry carries it.
    ttft_ms: Option<f64>,
    streaming: Option<bool>,
    usage: Usage,
    /// From the price table; null when the model has no price.
    cost_usd: Option<f64>,
    status: CallStatus,
    /// The call's error type, when it failed.
    error_type: Option<String>,
    session_id: Option<String>,
    user_id: Option<String>,
}

impl utoipa::PartialSchema for CallSummary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <CallSummarySchema as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for CallSummary {
    fn name() -> std::borrow::Cow<'static, str> {
        <CallSummarySchema as utoipa::ToSchema>::name()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <CallSummarySchema as utoipa::ToSchema>::schemas(schemas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;

    /// Every summary field has the name and JSON form it has in the full
    /// call, so a client reads a listing and a call the same way.
    #[test]
    fn a_summary_reads_like_the_call_it_summarizes() {
        let mut call = Call::new(
            CallId::random(1_700_000_000_123_456_789),
            Source::Raw,
            1_700_000_000_123_456_789,
        );
        call.trace_id = Some(TraceId::try_from(&[7u8; 16][..]).expect("trace id"));
        call.provider = Some("openai".into());
        call.usage.input_tokens = Some(12);
        call.status = CallStatus::Error;
        let full = serde_json::to_value(&call).expect("call");
        let summary = serde_json::to_value(CallSummary::of(&call)).expect("summary");
        let Json::Object(fields) = &summary else {
            panic!("{summary}");
        };
        for (name, value) in fields {
            match name.as_str() {
                "start_time_ms" => {
                    let millis = value.as_f64().expect("a number");
                    assert!((millis - 1_700_000_000_123.457).abs() < 0.001, "{millis}");
                }
                "error_type" => assert_eq!(value, &Json::Null),
                _ => assert_eq!(value, &full[name], "{name}"),
            }
        }
        assert_eq!(fields.len(), 21);
    }

    /// The documented schema names exactly the fields the summary writes.
    #[test]
    fn the_schema_describes_what_is_serialized() {
        use utoipa::PartialSchema;
        let call = Call::new(CallId::random(1), Source::Otlp, 1);
        let written = serde_json::to_value(CallSummary::of(&call)).expect("summary");
        let schema = serde_json::to_value(CallSummary::schema()).expect("schema");
        let written: Vec<&String> = written.as_object().expect("object").keys().collect();
        let documented: Vec<&String> = schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .collect();
        assert_eq!(written, documented);
    }
}
