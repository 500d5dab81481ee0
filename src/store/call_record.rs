//! How a canonical call is stored: the columns the API filters on, and a
//! content record (messages, tools, parameters, attributes) encoded with
//! [`codec`](super::codec), so message texts land in the same
//! content-addressed blobs as the span attributes they came from.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::codec::{DecodeError, Decoder, Encoder, StoredValue, collect_hashes};
use crate::model::{Call, CallError, CallId, CallStatus, Source, SpanId, TraceId, Usage, Value};

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredCallContent {
    #[prost(message, optional, tag = "1")]
    pub system_instructions: Option<StoredValue>,
    #[prost(message, optional, tag = "2")]
    pub input_messages: Option<StoredValue>,
    #[prost(message, optional, tag = "3")]
    pub output_messages: Option<StoredValue>,
    #[prost(message, optional, tag = "4")]
    pub tool_definitions: Option<StoredValue>,
    #[prost(message, optional, tag = "5")]
    pub request_params: Option<StoredValue>,
    #[prost(message, optional, tag = "6")]
    pub finish_reasons: Option<StoredValue>,
    #[prost(bool, tag = "7")]
    pub has_error: bool,
    #[prost(string, optional, tag = "8")]
    pub error_message: Option<String>,
    #[prost(message, optional, tag = "9")]
    pub attributes: Option<StoredValue>,
    #[prost(string, repeated, tag = "10")]
    pub tags: Vec<String>,
    /// The recorded provider exchange (`RawExchange`), for raw records.
    #[prost(message, optional, tag = "11")]
    pub raw: Option<StoredValue>,
}

/// The indexed columns of a call row.
#[derive(Clone, Debug, PartialEq)]
pub struct CallColumns {
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

impl CallColumns {
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

    pub fn source_code(&self) -> i64 {
        match self.source {
            Source::Otlp => 0,
            Source::Raw => 1,
            Source::Replay => 2,
        }
    }

    pub fn source_from_code(code: i64) -> Source {
        match code {
            1 => Source::Raw,
            2 => Source::Replay,
            _ => Source::Otlp,
        }
    }

    pub fn status_code(&self) -> i64 {
        match self.status {
            CallStatus::Ok => 0,
            CallStatus::Error => 1,
        }
    }
}

fn typed<T: serde::de::DeserializeOwned>(
    value: Option<Json>,
    what: &'static str,
) -> Result<Option<T>, DecodeError> {
    value
        .map(serde_json::from_value)
        .transpose()
        .map_err(|_| DecodeError::Invalid(what))
}

fn stored_json<T: serde::Serialize>(
    value: &Option<T>,
    encoder: &mut Encoder,
) -> Option<StoredValue> {
    let json = serde_json::to_value(value.as_ref()?).ok()?;
    Some(encoder.value(&Value::from_plain_json(&json)))
}

impl StoredCallContent {
    pub fn encode_from(call: &Call, encoder: &mut Encoder) -> Self {
        let params = (!call.request_params.is_empty()).then_some(&call.request_params);
        let attributes = (!call.attributes.is_empty()).then_some(&call.attributes);
        Self {
            system_instructions: stored_json(&call.system_instructions, encoder),
            input_messages: stored_json(&call.input_messages, encoder),
            output_messages: stored_json(&call.output_messages, encoder),
            tool_definitions: stored_json(&call.tool_definitions, encoder),
            request_params: stored_json(&params, encoder),
            finish_reasons: stored_json(&call.finish_reasons, encoder),
            has_error: call.error.is_some(),
            error_message: call.error.as_ref().and_then(|e| e.message.clone()),
            attributes: stored_json(&attributes, encoder),
            tags: call.tags.clone(),
            raw: stored_json(&call.raw, encoder),
        }
    }

    pub fn hashes(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for value in [
            &self.system_instructions,
            &self.input_messages,
            &self.output_messages,
            &self.tool_definitions,
            &self.request_params,
            &self.finish_reasons,
            &self.attributes,
            &self.raw,
        ]
        .into_iter()
        .flatten()
        {
            collect_hashes(value, &mut out);
        }
        out
    }

    /// Rebuilds the call from its row and content.
    pub fn into_call(
        self,
        columns: CallColumns,
        blobs: &HashMap<Vec<u8>, Vec<u8>>,
    ) -> Result<Call, DecodeError> {
        let decoder = Decoder { blobs };
        let json = |value: &Option<StoredValue>| -> Result<Option<Json>, DecodeError> {
            value
                .as_ref()
                .map(|v| decoder.value(v).map(|v| v.to_plain_json()))
                .transpose()
        };
        let mut call = Call::new(
            columns.call_id,
            columns.source,
            columns.start_time_unix_nano,
        );
        call.system_instructions = typed(json(&self.system_instructions)?, "system instructions")?;
        call.input_messages = typed(json(&self.input_messages)?, "input messages")?;
        call.output_messages = typed(json(&self.output_messages)?, "output messages")?;
        call.tool_definitions = typed(json(&self.tool_definitions)?, "tool definitions")?;
        call.request_params =
            typed(json(&self.request_params)?, "request parameters")?.unwrap_or_default();
        call.finish_reasons = typed(json(&self.finish_reasons)?, "finish reasons")?;
        call.attributes = typed(json(&self.attributes)?, "attributes")?.unwrap_or_default();
        call.tags = self.tags;
        call.raw = typed(json(&self.raw)?, "raw exchange")?;
        call.error = self.has_error.then(|| CallError {
            error_type: columns.error_type.clone(),
            message: self.error_message,
        });
        call.trace_id = columns.trace_id;
        call.span_id = columns.span_id;
        call.service = columns.service;
        call.provider = columns.provider;
        call.operation = columns.operation;
        call.request_model = columns.request_model;
        call.response_model = columns.response_model;
        call.response_id = columns.response_id;
        call.duration_ms = columns.duration_ms;
        call.ttft_ms = columns.ttft_ms;
        call.streaming = columns.streaming;
        call.usage = columns.usage;
        call.cost_usd = columns.cost_usd;
        call.status = columns.status;
        call.session_id = columns.session_id;
        call.user_id = columns.user_id;
        Ok(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Message, Part};
    use prost::Message as _;

    #[test]
    fn a_call_round_trips_and_shares_blobs_with_its_span_text() {
        let mut call = Call::new(CallId::derived(5, b"x"), Source::Otlp, 5);
        let long = "Whisk two eggs, add a pinch of salt, and cook gently in butter. ".repeat(4);
        call.input_messages = Some(vec![Message::text("user", long.clone())]);
        call.output_messages = Some(vec![Message::new(
            "assistant",
            vec![Part::ToolCall {
                id: Some("call_1".into()),
                name: "f".into(),
                arguments: serde_json::json!({"a": 1, "b": [true, null, 2.5]}),
            }],
        )]);
        call.request_params.temperature = Some(0.2);
        call.request_params
            .extra
            .insert("x".into(), serde_json::json!("y"));
        call.error = Some(CallError {
            error_type: Some("500".into()),
            message: Some("boom".into()),
        });
        call.status = CallStatus::Error;
        call.tags = vec!["t".into()];
        let mut encoder = Encoder::new();
        let content = StoredCallContent::encode_from(&call, &mut encoder);
        assert!(
            encoder
                .blobs
                .contains_key(&super::super::codec::blob_hash(long.as_bytes()))
        );
        let bytes = content.encode_to_vec();
        let blobs: HashMap<Vec<u8>, Vec<u8>> = encoder
            .blobs
            .into_iter()
            .map(|(k, v)| (k.to_vec(), v))
            .collect();
        let decoded = StoredCallContent::decode(bytes.as_slice())
            .expect("decodes")
            .into_call(CallColumns::of(&call), &blobs)
            .expect("rebuilds");
        assert_eq!(decoded, call);
    }
}
