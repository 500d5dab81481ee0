//! The canonical LLM call: one record per model invocation, whatever
//! produced it (an OTLP span in any GenAI convention, a raw provider
//! exchange, or a replay). Messages follow the OTel GenAI message/part
//! schema. A field the source did not carry is `None` (JSON `null`), never
//! a guess.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::ids::{CallId, SpanId, TraceId};

/// Where a call came from.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    #[default]
    Otlp,
    Raw,
    Replay,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Otlp => "otlp",
            Source::Raw => "raw",
            Source::Replay => "replay",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "otlp" => Some(Source::Otlp),
            "raw" => Some(Source::Raw),
            "replay" => Some(Source::Replay),
            _ => None,
        }
    }
}

/// Whether the call succeeded.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    #[default]
    Ok,
    Error,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ok => "ok",
            CallStatus::Error => "error",
        }
    }
}

/// What went wrong with a call: `type` is low-cardinality (exception class,
/// provider error code or HTTP status), `message` the text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct CallError {
    /// Low-cardinality error type: exception class, provider error code or
    /// HTTP status.
    #[serde(rename = "type")]
    pub error_type: Option<String>,
    pub message: Option<String>,
}

/// Token counts. Input includes cached tokens, output includes reasoning
/// tokens, as in the OTel GenAI conventions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Usage {
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_input_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
}

impl Usage {
    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }
}

/// Request parameters. Known ones are typed; anything else the source
/// recorded is kept in `extra`, written under its own name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct RequestParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choice_count: Option<i64>,
    /// Provider response format, e.g. `{"type":"json_object"}` or a JSON schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Json>,
    /// Anything else the source recorded, under its own name.
    #[serde(flatten)]
    pub extra: Map<String, Json>,
}

impl RequestParams {
    pub fn is_empty(&self) -> bool {
        *self == RequestParams::default()
    }
}

/// One message: `role` is `system`, `user`, `assistant`, `tool` or another
/// string the source used. `finish_reason` is set on output messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Message {
    pub role: String,
    pub parts: Vec<Part>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// On output messages, in the same words as the call's `finish_reasons`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
}

impl Message {
    pub fn new(role: impl Into<String>, parts: Vec<Part>) -> Self {
        Self {
            role: role.into(),
            parts,
            name: None,
            finish_reason: None,
        }
    }

    pub fn text(role: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(role, vec![Part::text(text)])
    }

    /// The text parts joined with `\n`; `None` when there is no text part.
    pub fn joined_text(&self) -> Option<String> {
        let texts: Vec<&str> = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Text { content } => Some(content.as_str()),
                _ => None,
            })
            .collect();
        if texts.is_empty() {
            None
        } else {
            Some(texts.join("\n"))
        }
    }

    pub fn tool_calls(&self) -> impl Iterator<Item = (&Option<String>, &str, &Json)> {
        self.parts.iter().filter_map(|p| match p {
            Part::ToolCall {
                id,
                name,
                arguments,
            } => Some((id, name.as_str(), arguments)),
            _ => None,
        })
    }
}

/// One part of a message, per the OTel GenAI part schema. `type` is the
/// discriminator; unknown types are kept as they came (`Other`).
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Text {
        content: String,
    },
    /// A tool call requested by the model; `arguments` is parsed JSON when
    /// the source held JSON, else the string as given.
    ToolCall {
        id: Option<String>,
        name: String,
        arguments: Json,
    },
    ToolCallResponse {
        id: Option<String>,
        response: Json,
    },
    Reasoning {
        content: String,
    },
    /// Any other part type (`blob`, `uri`, `file`, `server_tool_call`,
    /// `refusal`, …), kept as its JSON object including `type`.
    Other(Map<String, Json>),
}

impl Part {
    pub fn text(content: impl Into<String>) -> Self {
        Part::Text {
            content: content.into(),
        }
    }

    /// A `blob` part: the content inline, base64-encoded.
    pub fn blob(modality: &str, mime_type: Option<&str>, content: impl Into<String>) -> Self {
        Self::media("blob", modality, mime_type, ("content", content.into()))
    }

    /// A `uri` part: the content behind a URL.
    pub fn uri(modality: &str, mime_type: Option<&str>, uri: impl Into<String>) -> Self {
        Self::media("uri", modality, mime_type, ("uri", uri.into()))
    }

    /// A `file` part: content uploaded to the provider, referenced by id.
    pub fn file(modality: &str, mime_type: Option<&str>, file_id: impl Into<String>) -> Self {
        Self::media("file", modality, mime_type, ("file_id", file_id.into()))
    }

    /// A media part as the OTel GenAI conventions write it: its type,
    /// modality, MIME type when known, and where the content is. Kept as
    /// `Other` (the open object), since replay must send such parts back
    /// with whatever provider fields (`detail`, …) ride along.
    fn media(
        kind: &str,
        modality: &str,
        mime_type: Option<&str>,
        (key, value): (&str, String),
    ) -> Self {
        let mut map = Map::new();
        map.insert("type".into(), kind.into());
        map.insert("modality".into(), modality.into());
        if let Some(mime_type) = mime_type {
            map.insert("mime_type".into(), mime_type.into());
        }
        map.insert(key.into(), value.into());
        Part::Other(map)
    }

    pub fn type_name(&self) -> &str {
        match self {
            Part::Text { .. } => "text",
            Part::ToolCall { .. } => "tool_call",
            Part::ToolCallResponse { .. } => "tool_call_response",
            Part::Reasoning { .. } => "reasoning",
            Part::Other(map) => map.get("type").and_then(Json::as_str).unwrap_or("unknown"),
        }
    }

    pub fn to_json(&self) -> Json {
        let mut map = Map::new();
        match self {
            Part::Text { content } => {
                map.insert("type".into(), "text".into());
                map.insert("content".into(), content.clone().into());
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => {
                map.insert("type".into(), "tool_call".into());
                map.insert("id".into(), id.clone().map_or(Json::Null, Json::String));
                map.insert("name".into(), name.clone().into());
                map.insert("arguments".into(), arguments.clone());
            }
            Part::ToolCallResponse { id, response } => {
                map.insert("type".into(), "tool_call_response".into());
                map.insert("id".into(), id.clone().map_or(Json::Null, Json::String));
                map.insert("response".into(), response.clone());
            }
            Part::Reasoning { content } => {
                map.insert("type".into(), "reasoning".into());
                map.insert("content".into(), content.clone().into());
            }
            Part::Other(other) => return Json::Object(other.clone()),
        }
        Json::Object(map)
    }

    /// Reads a part in the OTel schema. Known types with missing fields are
    /// kept as `Other` rather than invented.
    pub fn from_json(json: &Json) -> Part {
        let Some(map) = json.as_object() else {
            return Part::Other(Map::from_iter([
                ("type".into(), "unknown".into()),
                ("value".into(), json.clone()),
            ]));
        };
        let string = |key: &str| map.get(key).and_then(Json::as_str).map(str::to_owned);
        let known = match map.get("type").and_then(Json::as_str) {
            Some("text") => string("content").map(|content| Part::Text { content }),
            Some("reasoning") => string("content").map(|content| Part::Reasoning { content }),
            Some("tool_call") => string("name").map(|name| Part::ToolCall {
                id: string("id"),
                name,
                arguments: map.get("arguments").cloned().unwrap_or(Json::Null),
            }),
            Some("tool_call_response") => Some(Part::ToolCallResponse {
                id: string("id"),
                response: map.get("response").cloned().unwrap_or(Json::Null),
            }),
            _ => None,
        };
        known.unwrap_or_else(|| Part::Other(map.clone()))
    }
}

/// What the `Serialize` impl writes: an object whose `type` says which
/// part it is, kept open for the types reprise does not know.
impl utoipa::PartialSchema for Part {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
        let string = || ObjectBuilder::new().schema_type(Type::String);
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A message part in the OTel GenAI schema: `text`, `reasoning`, `tool_call`, \
                 `tool_call_response`, or any other type kept as received (`blob`, `uri`, \
                 `file`, …).",
            ))
            .property("type", string())
            .required("type")
            .property(
                "content",
                string().description(Some("Of `text` and `reasoning`.")),
            )
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some("Of `tool_call` and `tool_call_response`.")),
            )
            .property("name", string().description(Some("Of `tool_call`.")))
            .property(
                "arguments",
                ObjectBuilder::new()
                    .schema_type(SchemaType::AnyValue)
                    .description(Some(
                        "Of `tool_call`: parsed JSON when the source held JSON, else the string.",
                    )),
            )
            .property(
                "response",
                ObjectBuilder::new()
                    .schema_type(SchemaType::AnyValue)
                    .description(Some("Of `tool_call_response`.")),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

impl utoipa::ToSchema for Part {}

impl Serialize for Part {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let json = Json::deserialize(d)?;
        if !json.is_object() {
            return Err(serde::de::Error::custom(
                "a message part must be a JSON object",
            ));
        }
        Ok(Part::from_json(&json))
    }
}

/// A provider exchange as it was recorded: the request body exactly as
/// sent (so it can be replayed as is) and the response body or streamed
/// events. Only raw records carry one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RawExchange {
    /// The wire format: `openai.chat`, `openai.responses` or `anthropic.messages`.
    pub format: String,
    /// The request body exactly as sent.
    pub request: Json,
    /// The response body, or the list of streamed chunks/events.
    pub response: Option<Json>,
}

/// The canonical LLM call, with its content (messages in the OTel GenAI
/// part schema). Serialized exactly as the API returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Call {
    pub id: CallId,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub source: Source,
    pub service: Option<String>,
    pub provider: Option<String>,
    pub operation: Option<String>,
    pub request_model: Option<String>,
    pub response_model: Option<String>,
    pub response_id: Option<String>,
    /// Unix nanoseconds as a decimal string (OTLP/JSON style: a JSON number
    /// would lose digits in JavaScript); input also takes an integer.
    #[serde(with = "super::nanos::string")]
    #[schema(value_type = String, pattern = "^[0-9]+$")]
    pub start_time_unix_nano: u64,
    pub duration_ms: Option<f64>,
    /// Time to first token, when the telemetry carries it.
    pub ttft_ms: Option<f64>,
    pub streaming: Option<bool>,
    pub system_instructions: Option<Vec<Part>>,
    pub input_messages: Option<Vec<Message>>,
    pub output_messages: Option<Vec<Message>>,
    pub tool_definitions: Option<Vec<Json>>,
    pub request_params: RequestParams,
    /// In OpenTelemetry's words (`stop`, `length`, `content_filter`,
    /// `tool_call`, `error`, or another word kept as the source said it);
    /// when normalizing changed the source's spelling, it is kept in
    /// `attributes.original_finish_reasons`.
    pub finish_reasons: Option<Vec<String>>,
    pub usage: Usage,
    /// From the price table; null when the model has no price.
    pub cost_usd: Option<f64>,
    pub status: CallStatus,
    pub error: Option<CallError>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Everything else the source carried that has no canonical field.
    #[serde(default)]
    pub attributes: Map<String, Json>,
    /// The provider exchange as recorded, for raw records.
    #[serde(default)]
    pub raw: Option<RawExchange>,
}

impl Call {
    /// An empty call with only its identity set; normalization fills the rest.
    pub fn new(id: CallId, source: Source, start_time_unix_nano: u64) -> Self {
        Self {
            id,
            trace_id: None,
            span_id: None,
            source,
            service: None,
            provider: None,
            operation: None,
            request_model: None,
            response_model: None,
            response_id: None,
            start_time_unix_nano,
            duration_ms: None,
            ttft_ms: None,
            streaming: None,
            system_instructions: None,
            input_messages: None,
            output_messages: None,
            tool_definitions: None,
            request_params: RequestParams::default(),
            finish_reasons: None,
            usage: Usage::default(),
            cost_usd: None,
            status: CallStatus::Ok,
            error: None,
            session_id: None,
            user_id: None,
            tags: Vec::new(),
            attributes: Map::new(),
            raw: None,
        }
    }

    /// Text of the first output message, the answer most people mean.
    pub fn output_text(&self) -> Option<String> {
        self.output_messages.as_ref()?.first()?.joined_text()
    }

    /// The model to show and group by: what answered, else what was asked for.
    pub fn model(&self) -> Option<&str> {
        self.response_model
            .as_deref()
            .or(self.request_model.as_deref())
    }

    /// The answer called a tool, but no tool definitions were recorded
    /// (many instrumentations leave them out). Replayed, such a call goes
    /// out without tools, so the candidate can only answer in text: its
    /// result says little about the candidate's tool use.
    pub fn tools_missing(&self) -> bool {
        let called_a_tool = self
            .output_messages
            .iter()
            .flatten()
            .flat_map(|message| &message.parts)
            .any(|part| matches!(part, Part::ToolCall { .. }));
        called_a_tool && self.tool_definitions.as_ref().is_none_or(Vec::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_round_trip_through_the_otel_schema() {
        let parts = json!([
            {"type": "text", "content": "hi"},
            {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Tokyo"}},
            {"type": "tool_call_response", "id": "call_1", "response": "sunny"},
            {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "AAAA"},
        ]);
        let parsed: Vec<Part> = serde_json::from_value(parts.clone()).expect("parts");
        assert!(matches!(parsed[1], Part::ToolCall { ref name, .. } if name == "get_weather"));
        assert!(matches!(parsed[3], Part::Other(_)));
        assert_eq!(serde_json::to_value(&parsed).expect("serialize"), parts);
    }

    #[test]
    fn text_part_without_content_is_kept_not_invented() {
        let part = Part::from_json(&json!({"type": "text"}));
        assert!(matches!(part, Part::Other(_)));
    }

    #[test]
    fn joined_text_is_none_without_text_parts() {
        let message = Message::new(
            "assistant",
            vec![Part::ToolCall {
                id: None,
                name: "f".into(),
                arguments: json!({}),
            }],
        );
        assert_eq!(message.joined_text(), None);
        let message = Message::new("user", vec![Part::text("a"), Part::text("b")]);
        assert_eq!(message.joined_text().as_deref(), Some("a\nb"));
    }
}
