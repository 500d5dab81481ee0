//! Anthropic Messages, both ways.
//!
//! In: [`parse_request`] reads a `/v1/messages` request body (top-level
//! `system` as a string or text blocks; content blocks `text`, `image`,
//! `document`, `tool_use`, `tool_result`, `thinking`, server tools),
//! [`parse_response`] a `message` body or an error body, and
//! [`AnthropicStream`] the events of a stream (`message_start` …
//! `message_stop`), rebuilding the message a non-streamed call would have
//! returned and parsing it with the same code.
//!
//! Anthropic puts tool results inside a user message; canonically each
//! becomes its own role `tool` message (as OpenAI sends them), and the text
//! around them stays a `user` message in its place. Input tokens are
//! reported without the cache, so the canonical count adds cache reads and
//! writes back in, as the OTel conventions ask.
//!
//! Out: [`to_anthropic`] writes a canonical call as a Messages request:
//! leading system messages become `system`, tool results go back into user
//! turns and consecutive turns of one role are merged (Anthropic requires
//! alternation and results right after the calls), and `max_tokens`, which
//! Anthropic requires, comes from the call, else the target's default, else
//! the translation fails. Parameters Anthropic has no word for (`seed`,
//! penalties, JSON mode, several choices, temperature above 1) fail unless
//! the target allows dropping them.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use super::common::{
    as_object, blob_part, error_from_body, file_part, flatten_tool_result, optional_array,
    otel_finish_reason, other_part, parse_arguments, required_array, string_field, token_count,
    type_name, uri_part,
};
use super::translate::{self, TargetParams, TranslateError};
use super::{ParsedRequest, ParsedResponse, WireError};
use crate::model::{
    Call, CallError, Message, Part, RequestParams, ToolChoice, Usage, canonical_tool_choice,
};

const REQUEST: &str = "an Anthropic messages request";
const MESSAGE: &str = "an Anthropic message";
const RESPONSE: &str = "an Anthropic messages response";
const TARGET: &str = "Anthropic Messages";

/// Request keys read into messages, tools and the streaming flag.
const STRUCTURAL_KEYS: &[&str] = &[
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "stream",
];

/// Messages parameters with no canonical field that a translated request
/// may carry through from `request_params.extra`.
const PASS_THROUGH_PARAMS: &[&str] = &[
    "thinking",
    "service_tier",
    "container",
    "mcp_servers",
    "context_management",
];

/// Image types the Messages API takes inline.
const IMAGE_MIME_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

// ---------------------------------------------------------------------------
// In: request

/// Reads a Messages request body.
pub fn parse_request(body: &Json) -> Result<ParsedRequest, WireError> {
    let object = as_object(body, REQUEST)?;
    let system = parse_system(object.get("system"))?;
    let mut input_messages = Vec::new();
    if let Some(parts) = &system {
        input_messages.push(Message::new("system", parts.clone()));
    }
    for message in required_array(object, "messages", REQUEST)? {
        push_input_message(message, &mut input_messages)?;
    }
    let mut tools = Vec::new();
    for tool in optional_array(object, "tools", REQUEST)? {
        tools.push(canonical_tool(tool));
    }
    let user_id = object
        .get("metadata")
        .and_then(|metadata| metadata.get("user_id"))
        .and_then(Json::as_str)
        .map(str::to_owned);
    Ok(ParsedRequest {
        provider: "anthropic",
        model: string_field(object, "model"),
        system_instructions: system,
        input_messages,
        tool_definitions: if tools.is_empty() { None } else { Some(tools) },
        params: parse_params(object),
        streaming: object.get("stream").and_then(Json::as_bool) == Some(true),
        user_id,
    })
}

/// `system` is a string or a list of text blocks.
fn parse_system(system: Option<&Json>) -> Result<Option<Vec<Part>>, WireError> {
    match system {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(text)) if text.is_empty() => Ok(None),
        Some(Json::String(text)) => Ok(Some(vec![Part::text(text.as_str())])),
        Some(Json::Array(blocks)) if blocks.is_empty() => Ok(None),
        Some(Json::Array(blocks)) => Ok(Some(blocks.iter().map(parse_block).collect())),
        Some(other) => Err(WireError::WrongType {
            what: REQUEST,
            field: "system".to_owned(),
            expected: "a string or an array of text blocks",
            found: type_name(other),
        }),
    }
}

fn push_input_message(message: &Json, out: &mut Vec<Message>) -> Result<(), WireError> {
    let object = as_object(message, MESSAGE)?;
    let role = object
        .get("role")
        .and_then(Json::as_str)
        .ok_or(WireError::MissingField {
            what: MESSAGE,
            field: "role",
        })?;
    let blocks: Vec<Json> = match object.get("content") {
        Some(Json::String(text)) => vec![json!({"type": "text", "text": text})],
        Some(Json::Array(blocks)) => blocks.clone(),
        None | Some(Json::Null) => Vec::new(),
        Some(other) => {
            return Err(WireError::WrongType {
                what: MESSAGE,
                field: "content".to_owned(),
                expected: "a string or an array of content blocks",
                found: type_name(other),
            });
        }
    };
    // Tool results leave the user turn as role `tool` messages; the blocks
    // around them stay user messages, in the order they were sent.
    let mut pending = Vec::new();
    for block in &blocks {
        if block.get("type").and_then(Json::as_str) == Some("tool_result") {
            flush(role, &mut pending, out);
            out.push(Message::new("tool", vec![parse_block(block)]));
        } else {
            pending.push(parse_block(block));
        }
    }
    flush(role, &mut pending, out);
    Ok(())
}

fn flush(role: &str, pending: &mut Vec<Part>, out: &mut Vec<Message>) {
    if !pending.is_empty() {
        out.push(Message::new(role, std::mem::take(pending)));
    }
}

/// One content block, from a request or a response.
fn parse_block(block: &Json) -> Part {
    let block_type = block.get("type").and_then(Json::as_str).unwrap_or("");
    let text_of = |key: &str| block.get(key).and_then(Json::as_str).map(str::to_owned);
    match block_type {
        "text" => match text_of("text") {
            Some(text) => Part::text(text),
            None => other_part(block),
        },
        "thinking" => match text_of("thinking") {
            Some(content) => Part::Reasoning { content },
            None => other_part(block),
        },
        "image" => parse_media(block, "image"),
        "document" => parse_media(block, "document"),
        "tool_use" => match text_of("name") {
            Some(name) => Part::ToolCall {
                id: text_of("id"),
                name,
                arguments: block.get("input").cloned().unwrap_or(Json::Null),
            },
            None => other_part(block),
        },
        "tool_result" => Part::ToolCallResponse {
            id: text_of("tool_use_id"),
            response: block.get("content").map_or(Json::Null, flatten_tool_result),
        },
        "server_tool_use" => {
            let mut map = Map::new();
            map.insert("type".into(), "server_tool_call".into());
            map.insert("id".into(), block.get("id").cloned().unwrap_or(Json::Null));
            map.insert(
                "name".into(),
                block.get("name").cloned().unwrap_or(Json::Null),
            );
            map.insert("server_tool_call".into(), block.clone());
            Part::Other(map)
        }
        other if other.ends_with("_tool_result") => {
            let mut map = Map::new();
            map.insert("type".into(), "server_tool_call_response".into());
            let id = block.get("tool_use_id").cloned().unwrap_or(Json::Null);
            map.insert("id".into(), id);
            map.insert("server_tool_call_response".into(), block.clone());
            Part::Other(map)
        }
        _ => other_part(block),
    }
}

/// An `image` or `document` block: inline base64, a URL or an uploaded file.
fn parse_media(block: &Json, modality: &str) -> Part {
    let Some(source) = block.get("source").and_then(Json::as_object) else {
        return other_part(block);
    };
    let mime_type = string_field(source, "media_type");
    let source_type = source.get("type").and_then(Json::as_str);
    if let (Some("base64"), Some(data)) = (source_type, source.get("data").and_then(Json::as_str)) {
        return blob_part(modality, mime_type, data.to_owned());
    }
    match (
        source_type,
        string_field(source, "url"),
        string_field(source, "file_id"),
    ) {
        (Some("url"), Some(url), _) => uri_part(modality, mime_type, url),
        (Some("file"), _, Some(file_id)) => file_part(modality, mime_type, file_id),
        _ => other_part(block),
    }
}

/// Custom tools `{name, description, input_schema}` take the OTel shape;
/// server tools (`web_search_…`, `bash_…`) are kept as sent.
fn canonical_tool(tool: &Json) -> Json {
    let tool_type = tool.get("type").and_then(Json::as_str);
    let is_custom = matches!(tool_type, None | Some("custom"));
    if !is_custom || tool.get("input_schema").is_none() {
        return tool.clone();
    }
    let mut canonical = Map::new();
    canonical.insert("type".into(), "function".into());
    for (from, to) in [
        ("name", "name"),
        ("description", "description"),
        ("input_schema", "parameters"),
    ] {
        if let Some(value) = tool.get(from) {
            canonical.insert(to.into(), value.clone());
        }
    }
    Json::Object(canonical)
}

fn parse_params(object: &Map<String, Json>) -> RequestParams {
    let mut params = RequestParams::default();
    for (key, value) in object {
        if STRUCTURAL_KEYS.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        match key.as_str() {
            "temperature" => params.temperature = value.as_f64(),
            "top_p" => params.top_p = value.as_f64(),
            "top_k" => params.top_k = value.as_f64(),
            "max_tokens" => params.max_tokens = value.as_i64(),
            "stop_sequences" => {
                let stops = value.as_array().map(|items| {
                    items
                        .iter()
                        .filter_map(Json::as_str)
                        .map(str::to_owned)
                        .collect()
                });
                params.stop_sequences = stops;
            }
            "metadata" => parse_metadata(value, &mut params),
            _ => {
                params.extra.insert(key.clone(), value.clone());
            }
        }
    }
    if let Some(choice) = object.get("tool_choice").and_then(Json::as_object) {
        params.tool_choice = Some(canonical_tool_choice(&Json::Object(choice.clone())));
        if choice
            .get("disable_parallel_tool_use")
            .and_then(Json::as_bool)
            == Some(true)
        {
            params
                .extra
                .insert("parallel_tool_calls".into(), false.into());
        }
    }
    params
}

/// `metadata.user_id` is the end user, the same thing as OpenAI's `user`.
fn parse_metadata(metadata: &Json, params: &mut RequestParams) {
    let Some(object) = metadata.as_object() else {
        params.extra.insert("metadata".into(), metadata.clone());
        return;
    };
    let mut rest = object.clone();
    if let Some(user) = rest.shift_remove("user_id") {
        params.extra.insert("user".into(), user);
    }
    if !rest.is_empty() {
        params.extra.insert("metadata".into(), Json::Object(rest));
    }
}

// ---------------------------------------------------------------------------
// In: response

/// Reads a `message` body, or an error body.
pub fn parse_response(body: &Json) -> Result<ParsedResponse, WireError> {
    let object = as_object(body, RESPONSE)?;
    if object.get("type").and_then(Json::as_str) == Some("error")
        || !object.contains_key("content") && object.contains_key("error")
    {
        return Ok(ParsedResponse {
            error: error_from_body(body),
            complete: true,
            ..ParsedResponse::default()
        });
    }
    let mut parts = Vec::new();
    for block in required_array(object, "content", RESPONSE)? {
        parts.push(parse_block(block));
    }
    let role = string_field(object, "role").unwrap_or_else(|| "assistant".to_owned());
    let mut message = Message::new(role, parts);
    let mut finish_reasons = Vec::new();
    if let Some(reason) = object.get("stop_reason").and_then(Json::as_str) {
        message.finish_reason = Some(otel_finish_reason(reason));
        finish_reasons.push(reason.to_owned());
    }
    Ok(ParsedResponse {
        output_messages: vec![message],
        finish_reasons,
        usage: parse_usage(object.get("usage")),
        response_id: string_field(object, "id"),
        response_model: string_field(object, "model"),
        error: None,
        complete: true,
    })
}

/// Anthropic counts input tokens without the cache; the canonical count
/// includes cache reads and writes.
fn parse_usage(usage: Option<&Json>) -> Usage {
    let uncached = token_count(usage, "input_tokens");
    let cache_read = token_count(usage, "cache_read_input_tokens");
    let cache_write = token_count(usage, "cache_creation_input_tokens");
    let input_tokens = match (uncached, cache_read, cache_write) {
        (None, None, None) => None,
        (a, b, c) => Some(a.unwrap_or(0) + b.unwrap_or(0) + c.unwrap_or(0)),
    };
    Usage {
        input_tokens,
        output_tokens: token_count(usage, "output_tokens"),
        cached_input_tokens: cache_read,
        reasoning_tokens: None,
    }
}

// ---------------------------------------------------------------------------
// In: stream

/// Reads the recorded events of a stream, in order.
pub fn parse_stream(events: &[Json]) -> Result<ParsedResponse, WireError> {
    if events.is_empty() {
        return Err(WireError::EmptyStream);
    }
    let mut stream = AnthropicStream::default();
    for event in events {
        stream.push(event);
    }
    stream.finish()
}

/// Reassembles a Messages stream. Usage comes in two halves: input counts
/// in `message_start`, the final (cumulative) output count in
/// `message_delta`, which wins for every key it carries.
#[derive(Debug, Default)]
pub struct AnthropicStream {
    message: Map<String, Json>,
    blocks: BTreeMap<u64, BlockFragments>,
    usage: Map<String, Json>,
    error: Option<CallError>,
    stopped: bool,
}

#[derive(Debug, Default)]
struct BlockFragments {
    block: Map<String, Json>,
    partial_json: String,
}

impl AnthropicStream {
    /// Feeds one event's data. Returns true when it carried model output
    /// (text, thinking, a tool call starting or its input): the moment time
    /// to first token measures.
    pub fn push(&mut self, event: &Json) -> bool {
        let Some(object) = event.as_object() else {
            return false;
        };
        let index = object.get("index").and_then(Json::as_u64).unwrap_or(0);
        match object.get("type").and_then(Json::as_str) {
            Some("message_start") => {
                if let Some(message) = object.get("message").and_then(Json::as_object) {
                    self.message = message.clone();
                    if let Some(usage) = message.get("usage").and_then(Json::as_object) {
                        self.usage = usage.clone();
                    }
                }
                false
            }
            Some("content_block_start") => {
                let block = object
                    .get("content_block")
                    .and_then(Json::as_object)
                    .cloned()
                    .unwrap_or_default();
                let block_type = block.get("type").and_then(Json::as_str).unwrap_or("");
                let starts_call = matches!(block_type, "tool_use" | "server_tool_use");
                let has_text = ["text", "thinking"].iter().any(|key| {
                    block
                        .get(*key)
                        .and_then(Json::as_str)
                        .is_some_and(|text| !text.is_empty())
                });
                self.blocks.insert(
                    index,
                    BlockFragments {
                        block,
                        partial_json: String::new(),
                    },
                );
                starts_call || has_text
            }
            Some("content_block_delta") => match object.get("delta") {
                Some(delta) => self.blocks.entry(index).or_default().push_delta(delta),
                None => false,
            },
            Some("message_delta") => {
                if let Some(delta) = object.get("delta").and_then(Json::as_object) {
                    for (key, value) in delta {
                        self.message.insert(key.clone(), value.clone());
                    }
                }
                if let Some(usage) = object.get("usage").and_then(Json::as_object) {
                    for (key, value) in usage {
                        if !value.is_null() {
                            self.usage.insert(key.clone(), value.clone());
                        }
                    }
                }
                false
            }
            Some("message_stop") => {
                self.stopped = true;
                false
            }
            Some("error") => {
                self.error = error_from_body(event);
                false
            }
            _ => false,
        }
    }

    /// The error the stream reported, if any.
    pub fn error(&self) -> Option<&CallError> {
        self.error.as_ref()
    }

    /// True once `message_stop` arrived.
    pub fn is_complete(&self) -> bool {
        self.stopped
    }

    /// The `message` body the same call would have returned without
    /// streaming.
    pub fn to_body(&self) -> Json {
        let mut message = self.message.clone();
        message
            .entry("type")
            .or_insert_with(|| Json::from("message"));
        message
            .entry("role")
            .or_insert_with(|| Json::from("assistant"));
        let mut content = Vec::new();
        for fragments in self.blocks.values() {
            content.push(fragments.to_block());
        }
        message.insert("content".into(), Json::Array(content));
        message.insert("usage".into(), Json::Object(self.usage.clone()));
        Json::Object(message)
    }

    /// The canonical response; an error event or a missing `message_stop`
    /// makes it an error (see [`ParsedResponse::apply_to`]).
    pub fn finish(&self) -> Result<ParsedResponse, WireError> {
        let mut parsed = parse_response(&self.to_body())?;
        parsed.error = self.error.clone();
        parsed.complete = self.is_complete();
        Ok(parsed)
    }
}

impl BlockFragments {
    fn push_delta(&mut self, delta: &Json) -> bool {
        let text = |key: &str| delta.get(key).and_then(Json::as_str).unwrap_or("");
        match delta.get("type").and_then(Json::as_str) {
            Some("text_delta") => self.append("text", text("text")),
            Some("thinking_delta") => self.append("thinking", text("thinking")),
            Some("input_json_delta") => {
                self.partial_json.push_str(text("partial_json"));
                !text("partial_json").is_empty()
            }
            Some("signature_delta") => {
                self.block
                    .insert("signature".into(), text("signature").into());
                false
            }
            Some("citations_delta") => {
                let citation = delta.get("citation").cloned().unwrap_or(Json::Null);
                let citations = self
                    .block
                    .entry("citations")
                    .or_insert_with(|| Json::Array(Vec::new()));
                if let Json::Array(list) = citations {
                    list.push(citation);
                }
                false
            }
            _ => false,
        }
    }

    fn append(&mut self, key: &str, text: &str) -> bool {
        let current = self
            .block
            .get(key)
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_owned();
        self.block.insert(key.into(), (current + text).into());
        !text.is_empty()
    }

    fn to_block(&self) -> Json {
        let mut block = self.block.clone();
        // Tool input arrives as JSON text in pieces; an input that never got
        // a piece keeps the `{}` of its start event.
        if !self.partial_json.is_empty() {
            block.insert("input".into(), parse_arguments(&self.partial_json));
        }
        Json::Object(block)
    }
}

// ---------------------------------------------------------------------------
// Out: canonical call to a request body

/// Writes a canonical call as a Messages request body for `params.model`.
/// Overrides are merged last (JSON merge patch: `null` removes a key).
pub fn to_anthropic(call: &Call, params: &TargetParams) -> Result<Json, TranslateError> {
    let history = translate::input_messages(call)?;
    let mut system: Vec<&Part> = Vec::new();
    if let Some(parts) = translate::separate_system(call) {
        system.extend(parts);
    }
    let mut turns: Vec<(&'static str, Vec<Json>)> = Vec::new();
    let mut conversation_started = false;
    for (index, message) in history.iter().enumerate() {
        let is_system = matches!(message.role.as_str(), "system" | "developer");
        if is_system && !conversation_started {
            system.extend(&message.parts);
            continue;
        }
        if is_system {
            return Err(TranslateError::SystemNotLeading {
                index,
                target: TARGET,
            });
        }
        conversation_started = true;
        let (role, blocks) = write_message(index, message, params)?;
        push_turn(&mut turns, role, blocks);
    }
    let mut body = Map::new();
    body.insert("model".into(), params.model.clone().into());
    if !params.is_overridden("max_tokens") {
        let max_tokens = call
            .request_params
            .max_tokens
            .or(params.default_max_tokens)
            .ok_or(TranslateError::MissingMaxTokens { target: TARGET })?;
        body.insert("max_tokens".into(), max_tokens.into());
    }
    if !system.is_empty() && !params.is_overridden("system") {
        body.insert("system".into(), write_system(&system)?);
    }
    let mut messages = Vec::new();
    for (role, blocks) in turns {
        messages.push(json!({"role": role, "content": compact_content(blocks)}));
    }
    body.insert("messages".into(), Json::Array(messages));
    if let Some(definitions) = &call.tool_definitions
        && !definitions.is_empty()
        && !params.is_overridden("tools")
    {
        let mut tools = Vec::new();
        for (index, definition) in definitions.iter().enumerate() {
            tools.push(write_tool(index, definition, params)?);
        }
        body.insert("tools".into(), Json::Array(tools));
    }
    write_params(&call.request_params, params, &mut body)?;
    if params.stream {
        body.insert("stream".into(), true.into());
    }
    Ok(translate::finish_body(body, params))
}

/// Anthropic merges consecutive turns of one role anyway, and requires the
/// tool results for one assistant turn in one user turn: merging here
/// makes both explicit.
fn push_turn(turns: &mut Vec<(&'static str, Vec<Json>)>, role: &'static str, blocks: Vec<Json>) {
    if let Some((last_role, last_blocks)) = turns.last_mut()
        && *last_role == role
    {
        last_blocks.extend(blocks);
        return;
    }
    turns.push((role, blocks));
}

/// A turn made of one text block is sent as a plain string.
fn compact_content(blocks: Vec<Json>) -> Json {
    if let [block] = blocks.as_slice()
        && block.get("type").and_then(Json::as_str) == Some("text")
        && let Some(text) = block.get("text")
    {
        return text.clone();
    }
    Json::Array(blocks)
}

fn write_system(parts: &[&Part]) -> Result<Json, TranslateError> {
    let mut texts = Vec::new();
    for part in parts {
        match part {
            Part::Text { content } => texts.push(content.as_str()),
            other => {
                return Err(TranslateError::UnsupportedPart {
                    index: 0,
                    role: "system".to_owned(),
                    part_type: other.type_name().to_owned(),
                    target: TARGET,
                    reason: "system instructions take text only".to_owned(),
                });
            }
        }
    }
    match texts.as_slice() {
        [one] => Ok(Json::String((*one).to_owned())),
        many => Ok(Json::Array(
            many.iter()
                .map(|text| json!({"type": "text", "text": text}))
                .collect(),
        )),
    }
}

fn write_message(
    index: usize,
    message: &Message,
    params: &TargetParams,
) -> Result<(&'static str, Vec<Json>), TranslateError> {
    let role: &'static str = match message.role.as_str() {
        "user" | "tool" => "user",
        "assistant" => "assistant",
        other => {
            return Err(TranslateError::UnsupportedRole {
                index,
                role: other.to_owned(),
                target: TARGET,
            });
        }
    };
    let mut blocks = Vec::new();
    for part in &message.parts {
        if let Some(block) = write_part(index, message, part, params)? {
            blocks.push(block);
        }
    }
    if blocks.is_empty() {
        return Err(TranslateError::EmptyMessage {
            index,
            role: message.role.clone(),
        });
    }
    Ok((role, blocks))
}

/// One part as a content block; `None` for an empty text (Anthropic rejects
/// empty text blocks, and there is nothing in one to lose).
fn write_part(
    index: usize,
    message: &Message,
    part: &Part,
    params: &TargetParams,
) -> Result<Option<Json>, TranslateError> {
    let role = message.role.as_str();
    let unsupported = |reason: &str| TranslateError::UnsupportedPart {
        index,
        role: role.to_owned(),
        part_type: part.type_name().to_owned(),
        target: TARGET,
        reason: reason.to_owned(),
    };
    let missing_id = || TranslateError::MissingToolCallId {
        index,
        role: role.to_owned(),
        target: TARGET,
    };
    let block = match part {
        Part::Text { content } if content.is_empty() => return Ok(None),
        Part::Text { .. } if role == "tool" => {
            return Err(unsupported(
                "a tool message must carry tool_call_response parts with ids",
            ));
        }
        Part::Text { content } => json!({"type": "text", "text": content}),
        Part::ToolCall {
            id,
            name,
            arguments,
        } if role == "assistant" => {
            let id = id.as_ref().ok_or_else(missing_id)?;
            let input =
                tool_input(arguments).ok_or_else(|| TranslateError::ArgumentsNotObject {
                    index,
                    name: name.clone(),
                    target: TARGET,
                })?;
            json!({"type": "tool_use", "id": id, "name": name, "input": input})
        }
        Part::ToolCallResponse { id, response } if role != "assistant" => {
            let id = id.as_ref().ok_or_else(missing_id)?;
            let content = match response {
                Json::String(_) | Json::Array(_) => response.clone(),
                other => Json::String(other.to_string()),
            };
            json!({"type": "tool_result", "tool_use_id": id, "content": content})
        }
        _ if role == "assistant" && translate::is_reasoning(part) => {
            params.drop_or_fail(
                "reasoning",
                TARGET,
                &format!(
                    "message {index} carries reasoning, and Anthropic takes thinking back only with the signature it issued, which the canonical call does not keep"
                ),
            )?;
            return Ok(None);
        }
        Part::Other(map) if role != "assistant" => {
            write_media(map).map_err(|reason| unsupported(&reason))?
        }
        _ => {
            return Err(unsupported(
                "user turns take text, images, PDFs and tool results; assistant turns take text and tool calls",
            ));
        }
    };
    Ok(Some(block))
}

/// Tool input must be an object; arguments recorded as text are parsed, and
/// the empty text that OpenAI sends for a call without arguments is `{}`.
fn tool_input(arguments: &Json) -> Option<Json> {
    match arguments {
        Json::Object(_) => Some(arguments.clone()),
        Json::String(text) if text.trim().is_empty() => Some(json!({})),
        Json::String(text) => match serde_json::from_str::<Json>(text) {
            Ok(parsed @ Json::Object(_)) => Some(parsed),
            _ => None,
        },
        Json::Null => Some(json!({})),
        _ => None,
    }
}

/// Images (JPEG, PNG, GIF, WebP) and PDFs, inline or by URL.
fn write_media(map: &Map<String, Json>) -> Result<Json, String> {
    let field = |key: &str| map.get(key).and_then(Json::as_str);
    let part_type = field("type").unwrap_or("unknown");
    let mime_type = field("mime_type");
    let is_pdf = mime_type == Some("application/pdf");
    let block_type = match field("modality") {
        Some("image") => "image",
        _ if is_pdf => "document",
        _ => return Err("only images and PDFs can be sent".to_owned()),
    };
    match part_type {
        "blob" => {
            let Some(mime_type) = mime_type else {
                return Err("the inline media has no mime_type".to_owned());
            };
            if block_type == "image" && !IMAGE_MIME_TYPES.contains(&mime_type) {
                return Err(format!(
                    "images must be JPEG, PNG, GIF or WebP, this one is {mime_type}"
                ));
            }
            let Some(data) = field("content") else {
                return Err("the inline media has no content".to_owned());
            };
            Ok(json!({
                "type": block_type,
                "source": {"type": "base64", "media_type": mime_type, "data": data},
            }))
        }
        "uri" => match field("uri") {
            Some(uri) => Ok(json!({"type": block_type, "source": {"type": "url", "url": uri}})),
            None => Err("the media has no uri".to_owned()),
        },
        _ => Err(
            "files uploaded to one provider are not visible to another; only inline or URL media can be sent"
                .to_owned(),
        ),
    }
}

fn write_tool(
    index: usize,
    definition: &Json,
    params: &TargetParams,
) -> Result<Json, TranslateError> {
    let tool_type = definition
        .get("type")
        .and_then(Json::as_str)
        .unwrap_or("function");
    let name = definition.get("name").and_then(Json::as_str);
    if tool_type != "function" {
        // Anthropic's own server tools (`web_search_20250305`, …) carry a
        // name; they were recorded from Anthropic and go back as they were.
        return match name {
            Some(_) => Ok(definition.clone()),
            None => Err(TranslateError::UnsupportedTool {
                index,
                tool_type: tool_type.to_owned(),
                target: TARGET,
            }),
        };
    }
    let Some(name) = name else {
        return Err(TranslateError::UnsupportedTool {
            index,
            tool_type: tool_type.to_owned(),
            target: TARGET,
        });
    };
    if definition.get("strict").and_then(Json::as_bool) == Some(true) {
        params.drop_or_fail(
            "strict",
            TARGET,
            &format!(
                "tool `{name}` asks for strict schema adherence, which Messages tools do not offer"
            ),
        )?;
    }
    let mut tool = Map::new();
    tool.insert("name".into(), name.into());
    if let Some(description) = definition.get("description") {
        tool.insert("description".into(), description.clone());
    }
    // A function without declared parameters takes none.
    let schema = definition
        .get("parameters")
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    tool.insert("input_schema".into(), schema);
    Ok(Json::Object(tool))
}

fn write_params(
    recorded: &RequestParams,
    params: &TargetParams,
    body: &mut Map<String, Json>,
) -> Result<(), TranslateError> {
    let parallel_off = recorded.extra.get("parallel_tool_calls") == Some(&Json::Bool(false));
    if !params.is_overridden("tool_choice") {
        let mut choice = match &recorded.tool_choice {
            Some(choice) => write_tool_choice(choice, params)?,
            None => None,
        };
        if parallel_off {
            let object = choice.get_or_insert_with(|| json!({"type": "auto"}));
            if let Some(object) = object.as_object_mut() {
                object.insert("disable_parallel_tool_use".into(), true.into());
            }
        }
        if let Some(choice) = choice {
            body.insert("tool_choice".into(), choice);
        }
    }
    if let Some(temperature) = recorded.temperature {
        if temperature > 1.0 {
            params.cannot_express(
                "temperature",
                TARGET,
                &format!(
                    "Anthropic takes a temperature from 0 to 1 and the call recorded {temperature}"
                ),
            )?;
        } else if !params.is_overridden("temperature") {
            body.insert("temperature".into(), temperature.into());
        }
    }
    if let Some(top_p) = recorded.top_p
        && !params.is_overridden("top_p")
    {
        body.insert("top_p".into(), top_p.into());
    }
    if let Some(top_k) = recorded.top_k
        && !params.is_overridden("top_k")
    {
        // Anthropic's top_k is an integer.
        body.insert("top_k".into(), (top_k.round() as i64).into());
    }
    if let Some(stops) = &recorded.stop_sequences
        && !params.is_overridden("stop_sequences")
    {
        body.insert("stop_sequences".into(), stops.clone().into());
    }
    if recorded.seed.is_some() {
        params.cannot_express("seed", TARGET, "Anthropic has no seed")?;
    }
    if recorded.frequency_penalty.is_some() {
        params.cannot_express(
            "frequency_penalty",
            TARGET,
            "Anthropic has no frequency penalty",
        )?;
    }
    if recorded.presence_penalty.is_some() {
        params.cannot_express(
            "presence_penalty",
            TARGET,
            "Anthropic has no presence penalty",
        )?;
    }
    if let Some(count) = recorded.choice_count
        && count != 1
    {
        params.cannot_express(
            "choice_count",
            TARGET,
            &format!("Anthropic answers with one choice and the call asked for {count}"),
        )?;
    }
    if let Some(format) = &recorded.response_format
        && format.get("type").and_then(Json::as_str) != Some("text")
    {
        params.cannot_express(
            "response_format",
            TARGET,
            "Anthropic has no JSON mode or response schema parameter",
        )?;
    }
    for (key, value) in &recorded.extra {
        match key.as_str() {
            "parallel_tool_calls" => {}
            "user" => {
                if !params.is_overridden("metadata") {
                    body.insert("metadata".into(), json!({"user_id": value}));
                }
            }
            _ if PASS_THROUGH_PARAMS.contains(&key.as_str()) => {
                if !params.is_overridden(key) {
                    body.insert(key.clone(), value.clone());
                }
            }
            _ => params.cannot_express(key, TARGET, "it is not a Messages parameter")?,
        }
    }
    Ok(())
}

/// A recorded tool choice, in whichever source's shape, in Anthropic's
/// words; `None` when it has none (OpenAI's `allowed_tools`, hosted tools)
/// and the user allowed dropping it.
fn write_tool_choice(choice: &Json, params: &TargetParams) -> Result<Option<Json>, TranslateError> {
    match ToolChoice::from_json(choice) {
        Some(choice) => Ok(Some(choice.to_anthropic())),
        None => {
            params.cannot_express(
                "tool_choice",
                TARGET,
                &format!("{choice} has no Anthropic equivalent"),
            )?;
            Ok(None)
        }
    }
}
