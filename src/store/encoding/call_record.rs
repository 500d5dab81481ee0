//! How a canonical call is stored: the columns the API filters on, and a
//! content record (messages, tools, parameters, attributes) encoded with
//! [`codec`](crate::store::encoding::codec), so message texts land in the same
//! content-addressed blobs as the span attributes they came from.
//!
//! Content is JSON, and JSON maps onto the codec's `Value` one to one
//! except in two places, where a piece of it is kept as its JSON text in a
//! `Value::Bytes` instead (plain JSON never becomes bytes, so the two cannot
//! be confused): integers above `i64::MAX`, which `Value` cannot hold and a
//! double would round, and subtrees nested deeper than [`MAX_TREE_DEPTH`],
//! whose stored message prost would refuse to parse.

use std::collections::HashMap;

use serde_json::Value as Json;

use crate::model::{
    Call, CallError, CallStatus, CallSummary, KeyValue, RawExchange, Source, Value,
};
use crate::store::encoding::codec::{DecodeError, Decoder, Encoder, StoredValue, collect_hashes};

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
    /// The typed request parameters (`temperature`, `seed`, …). Rows
    /// written before `request_params_extra` existed hold the extras here
    /// too, flattened in as the API shows them.
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
    /// `RequestParams::extra`, apart from the typed parameters: flattened
    /// in, an extra named like a typed parameter (`seed` in an Anthropic
    /// request, a `gen_ai.request.temperature` that is not a number) was
    /// read back as that parameter, or failed to read at all.
    #[prost(message, optional, tag = "12")]
    pub request_params_extra: Option<StoredValue>,
}

/// How the store's columns encode a summary's enums.
impl CallSummary {
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
    Some(encoder.value(&json_to_value(&json, 0)))
}

/// A recorded exchange as the stored value `serde_json::to_value` would
/// give, without building that copy of its request and response first: they
/// hold the whole conversation and every streamed event, and replays store
/// one per result.
fn raw_exchange_value(raw: &RawExchange) -> Value {
    let response = raw.response.as_ref().unwrap_or(&Json::Null);
    Value::KvList(vec![
        KeyValue::new("format".to_owned(), Value::String(raw.format.clone())),
        KeyValue::new("request".to_owned(), json_to_value(&raw.request, 1)),
        KeyValue::new("response".to_owned(), json_to_value(response, 1)),
    ])
}

/// JSON nested deeper than this is stored as text. prost parses at most 100
/// levels of nested messages, and each JSON level costs up to three in a
/// stored value (value, key-value list, key-value); the content record and
/// the canonical structure around the JSON (messages, parts) take a few more.
pub const MAX_TREE_DEPTH: usize = 24;

/// Call content as a stored value: see the module docs for the two cases
/// kept as JSON text.
fn json_to_value(json: &Json, depth: usize) -> Value {
    match json {
        Json::Number(number) if number.as_i64().is_none() && number.as_u64().is_some() => {
            Value::Bytes(number.to_string().into_bytes())
        }
        Json::Array(_) | Json::Object(_) if depth >= MAX_TREE_DEPTH => {
            Value::Bytes(json.to_string().into_bytes())
        }
        Json::Array(values) => {
            let mut out = Vec::with_capacity(values.len());
            for value in values {
                out.push(json_to_value(value, depth + 1));
            }
            Value::Array(out)
        }
        Json::Object(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (key, value) in map {
                out.push(KeyValue::new(key.clone(), json_to_value(value, depth + 1)));
            }
            Value::KvList(out)
        }
        scalar => Value::from_plain_json(scalar),
    }
}

/// The inverse of [`json_to_value`].
fn value_to_json(value: Value) -> Result<Json, DecodeError> {
    Ok(match value {
        Value::Bytes(text) => serde_json::from_slice(&text)
            .map_err(|_| DecodeError::Invalid("JSON text in call content"))?,
        Value::Array(values) => {
            let mut out = Vec::with_capacity(values.len());
            for value in values {
                out.push(value_to_json(value)?);
            }
            Json::Array(out)
        }
        Value::KvList(kvs) => {
            let mut out = serde_json::Map::with_capacity(kvs.len());
            for kv in kvs {
                out.insert(kv.key, value_to_json(kv.value)?);
            }
            Json::Object(out)
        }
        scalar => scalar.to_plain_json(),
    })
}

impl StoredCallContent {
    pub fn encode_from(call: &Call, encoder: &mut Encoder) -> Self {
        let mut params = call.request_params.clone();
        let extra = std::mem::take(&mut params.extra);
        let params = (!params.is_empty()).then_some(params);
        let extra = (!extra.is_empty()).then_some(extra);
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
            raw: call
                .raw
                .as_ref()
                .map(|raw| encoder.value(&raw_exchange_value(raw))),
            request_params_extra: stored_json(&extra, encoder),
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
            &self.request_params_extra,
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
        columns: CallSummary,
        blobs: &HashMap<Vec<u8>, Vec<u8>>,
    ) -> Result<Call, DecodeError> {
        let decoder = Decoder { blobs };
        let json = |value: &Option<StoredValue>| -> Result<Option<Json>, DecodeError> {
            value
                .as_ref()
                .map(|v| decoder.value(v).and_then(value_to_json))
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
        let extra = typed::<serde_json::Map<String, Json>>(
            json(&self.request_params_extra)?,
            "request parameter extras",
        )?;
        if let Some(extra) = extra {
            call.request_params.extra = extra;
        }
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
    use crate::model::{CallId, Message, Part, RawExchange, SpanId, TraceId};
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
                .contains_key(&crate::store::encoding::codec::blob_hash(long.as_bytes()))
        );
        let bytes = content.encode_to_vec();
        let blobs: HashMap<Vec<u8>, Vec<u8>> = encoder
            .blobs
            .into_iter()
            .map(|(k, v)| (k.to_vec(), v))
            .collect();
        let decoded = StoredCallContent::decode(bytes.as_slice())
            .expect("decodes")
            .into_call(CallSummary::of(&call), &blobs)
            .expect("rebuilds");
        assert_eq!(decoded, call);
    }

    fn round_trip(call: &Call) -> Call {
        let mut encoder = Encoder::new();
        let bytes = StoredCallContent::encode_from(call, &mut encoder).encode_to_vec();
        let blobs: HashMap<Vec<u8>, Vec<u8>> = encoder
            .blobs
            .into_iter()
            .map(|(k, v)| (k.to_vec(), v))
            .collect();
        StoredCallContent::decode(bytes.as_slice())
            .expect("content parses")
            .into_call(CallSummary::of(call), &blobs)
            .expect("rebuilds")
    }

    /// A JSON schema whose properties nest `levels` deep, as tool
    /// definitions of real applications do.
    fn nested_schema(levels: usize) -> Json {
        let mut schema = serde_json::json!({"type": "string"});
        for _ in 0..levels {
            schema = serde_json::json!({"type": "object", "properties": {"inner": schema}});
        }
        schema
    }

    #[test]
    fn a_deeply_nested_tool_schema_reads_back() {
        // Each JSON level costs up to three nested protobuf messages in the
        // stored value, and prost parses at most 100: a schema 20 properties
        // deep (40 JSON levels) was stored but could not be read again.
        let mut call = Call::new(CallId::derived(5, b"deep"), Source::Otlp, 5);
        call.tool_definitions = Some(vec![serde_json::json!({
            "type": "function",
            "name": "f",
            "parameters": nested_schema(20),
        })]);
        call.output_messages = Some(vec![Message::new(
            "assistant",
            vec![Part::ToolCall {
                id: None,
                name: "f".into(),
                arguments: serde_json::from_str(&format!(
                    "{}1{}",
                    "[".repeat(120),
                    "]".repeat(120)
                ))
                .expect("JSON"),
            }],
        )]);
        assert_eq!(round_trip(&call), call);
    }

    #[test]
    fn integers_above_i64_max_in_a_raw_request_read_back_exactly() {
        // `Value` has no unsigned integers: such a number went through a
        // double and came back as 18446744073709552000, so the recorded
        // request could not be replayed as it was sent.
        let mut call = Call::new(CallId::derived(5, b"u64"), Source::Raw, 5);
        let request =
            serde_json::json!({"model": "m", "seed": u64::MAX, "n": [i64::MAX as u64 + 1]});
        call.raw = Some(RawExchange {
            format: "openai.chat".into(),
            request: request.clone(),
            response: None,
        });
        call.request_params
            .extra
            .insert("seed".into(), serde_json::json!(u64::MAX));
        let decoded = round_trip(&call);
        assert_eq!(decoded, call);
        let raw = decoded.raw.expect("raw exchange");
        assert_eq!(raw.request.to_string(), request.to_string());
    }

    #[test]
    fn a_raw_exchange_is_stored_as_its_serde_json_value() {
        // Rows written before the direct conversion went through
        // `serde_json::to_value`; both must store the same value.
        for response in [None, Some(serde_json::json!([{"id": "c1"}, "[DONE]"]))] {
            let raw = RawExchange {
                format: "anthropic.messages".into(),
                request: serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
                response,
            };
            let via_serde = serde_json::to_value(&raw).expect("serializes");
            assert_eq!(raw_exchange_value(&raw), json_to_value(&via_serde, 0));
        }
    }

    #[test]
    fn an_extra_named_like_a_typed_parameter_reads_back_as_an_extra() {
        // An Anthropic request's `seed` and a `gen_ai.request.temperature`
        // that is not a number land in `extra` under a typed parameter's
        // name. Stored flattened, the first came back as the typed `seed`
        // and the second made the whole call unreadable.
        let mut call = Call::new(CallId::derived(5, b"extra"), Source::Raw, 5);
        call.request_params
            .extra
            .insert("seed".into(), serde_json::json!(7));
        call.request_params
            .extra
            .insert("temperature".into(), serde_json::json!("hot"));
        call.request_params.max_tokens = Some(100);
        assert_eq!(round_trip(&call), call);
    }

    #[test]
    fn content_written_before_extras_had_their_own_field_still_reads() {
        let mut encoder = Encoder::new();
        let flattened = serde_json::json!({"temperature": 0.5, "logit_bias": {"50256": -100}});
        let content = StoredCallContent {
            request_params: Some(encoder.value(&Value::from_plain_json(&flattened))),
            ..StoredCallContent::default()
        };
        let call = Call::new(CallId::derived(5, b"old"), Source::Otlp, 5);
        let decoded = content
            .into_call(CallSummary::of(&call), &HashMap::new())
            .expect("rebuilds");
        assert_eq!(decoded.request_params.temperature, Some(0.5));
        assert_eq!(
            decoded.request_params.extra.get("logit_bias"),
            Some(&serde_json::json!({"50256": -100}))
        );
    }

    mod properties {
        //! Arbitrary canonical calls through their stored form: the columns
        //! as the row holds them, and the content record through the codec,
        //! prost and back.

        use super::*;
        use crate::model::RequestParams;
        use proptest::prelude::*;
        use serde_json::Map;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                // Long texts become blobs; some are JSON themselves.
                "[a-zA-Z é\"\\\\\n<>]{120,200}",
                "[a-z ]{130,150}".prop_map(|t| serde_json::json!({"q": t}).to_string()),
            ]
        }

        fn json() -> impl Strategy<Value = Json> {
            let leaf = prop_oneof![
                Just(Json::Null),
                any::<bool>().prop_map(Json::Bool),
                any::<i64>().prop_map(Json::from),
                any::<u64>().prop_map(Json::from),
                prop::num::f64::NORMAL.prop_map(Json::from),
                text().prop_map(Json::String),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                    prop::collection::vec(("[a-z_]{1,8}", inner), 0..4)
                        .prop_map(|fields| Json::Object(fields.into_iter().collect())),
                ]
            })
        }

        fn part() -> impl Strategy<Value = Part> {
            prop_oneof![
                text().prop_map(|content| Part::Text { content }),
                text().prop_map(|content| Part::Reasoning { content }),
                (prop::option::of("[a-z_0-9]{1,12}"), "[a-z_]{1,12}", json()).prop_map(
                    |(id, name, arguments)| Part::ToolCall {
                        id,
                        name,
                        arguments
                    }
                ),
                (prop::option::of("[a-z_0-9]{1,12}"), json())
                    .prop_map(|(id, response)| Part::ToolCallResponse { id, response }),
                (
                    prop::sample::select(vec!["blob", "uri", "file", "refusal"]),
                    text(),
                )
                    .prop_map(|(kind, content)| {
                        let mut map = Map::new();
                        map.insert("type".into(), kind.into());
                        map.insert("content".into(), content.into());
                        Part::Other(map)
                    }),
            ]
        }

        fn message() -> impl Strategy<Value = Message> {
            (
                "[a-z]{1,10}",
                prop::collection::vec(part(), 0..4),
                prop::option::of("[a-z]{1,8}"),
                prop::option::of("[a-z_]{1,8}"),
            )
                .prop_map(|(role, parts, name, finish_reason)| Message {
                    role,
                    parts,
                    name,
                    finish_reason,
                })
        }

        fn messages() -> impl Strategy<Value = Option<Vec<Message>>> {
            prop::option::of(prop::collection::vec(message(), 0..4))
        }

        fn params() -> impl Strategy<Value = RequestParams> {
            let typed = (
                prop::option::of(prop::num::f64::NORMAL),
                prop::option::of(any::<i64>()),
                prop::option::of(prop::collection::vec(any::<String>(), 0..3)),
                prop::option::of(any::<i64>()),
            );
            let extra = prop::collection::vec(("x_[a-z]{1,8}", json()), 0..3);
            (typed, extra).prop_map(|((temperature, max_tokens, stop, seed), extra)| {
                RequestParams {
                    temperature,
                    max_tokens,
                    stop_sequences: stop,
                    seed,
                    extra: extra.into_iter().collect(),
                    ..RequestParams::default()
                }
            })
        }

        fn call() -> impl Strategy<Value = Call> {
            let identity = (
                any::<u128>(),
                prop::sample::select(vec![Source::Otlp, Source::Raw, Source::Replay]),
                any::<u64>(),
                any::<Option<[u8; 16]>>(),
                any::<Option<[u8; 8]>>(),
                prop::option::of(any::<String>()),
            );
            let content = (
                prop::option::of(prop::collection::vec(part(), 0..3)),
                messages(),
                messages(),
                prop::option::of(prop::collection::vec(json(), 0..3)),
                params(),
                prop::option::of(prop::collection::vec(any::<String>(), 0..3)),
            );
            let rest = (
                prop::option::of((prop::option::of("[a-z0-9]{1,6}"), prop::option::of(text()))),
                prop::collection::vec(any::<String>(), 0..3),
                prop::collection::vec(("[a-z._]{1,12}", json()), 0..4),
                prop::option::of((json(), prop::option::of(json()))),
                prop::option::of(prop::num::f64::POSITIVE),
                any::<Option<i64>>(),
            );
            (identity, content, rest).prop_map(
                |(
                    (id, source, start, trace_id, span_id, service),
                    (system, input, output, tools, params, finish_reasons),
                    (error, tags, attributes, raw, duration_ms, input_tokens),
                )| {
                    let mut call = Call::new(CallId(id), source, start);
                    call.trace_id = trace_id.map(TraceId);
                    call.span_id = span_id.map(SpanId);
                    call.service = service;
                    call.system_instructions = system;
                    call.input_messages = input;
                    call.output_messages = output;
                    call.tool_definitions = tools;
                    call.request_params = params;
                    call.finish_reasons = finish_reasons;
                    if let Some((error_type, message)) = error {
                        call.status = CallStatus::Error;
                        call.error = Some(CallError {
                            error_type,
                            message,
                        });
                    }
                    call.tags = tags;
                    call.attributes = attributes.into_iter().collect();
                    call.raw = raw.map(|(request, response)| RawExchange {
                        format: "openai.chat".into(),
                        request,
                        // `null` is how JSON says "no response"; a recorded
                        // `null` body reads back as none, by serde's rules.
                        response: response.filter(|r| !r.is_null()),
                    });
                    call.duration_ms = duration_ms;
                    call.usage.input_tokens = input_tokens;
                    call
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_call_round_trips_through_its_row_and_content(call in call()) {
                prop_assert_eq!(round_trip(&call), call);
            }
        }
    }
}
