//! OpenAI Responses API, in only (replays go out as Chat Completions).
//!
//! [`parse_request`] reads a `/responses` request: `input` as a string or a
//! list of items (messages, `function_call`, `function_call_output`,
//! `reasoning`), and `instructions`. The Responses API gives each assistant
//! output its own item; canonically the items of one assistant turn (text,
//! reasoning, tool calls) are one assistant message, as Chat Completions and
//! Anthropic would carry them, and each `function_call_output` is its own
//! role `tool` message.
//!
//! [`parse_response`] reads a `response` object (or an error body) and
//! [`ResponsesStream`] the events of a stream: the final
//! `response.completed` / `response.incomplete` / `response.failed` event
//! carries the whole response, so that is parsed when it came; a stream cut
//! before it is rebuilt from the items and deltas that did arrive.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use super::common::{
    as_object, content_part, error_from_body, file_part, flatten_tool_result, image_from_url,
    optional_array, otel_finish_reason, other_part, parse_arguments, string_field, token_count,
    type_name,
};
use super::{ParsedRequest, ParsedResponse, WireError};
use crate::model::{CallError, Message, Part, RequestParams, Usage, canonical_tool_choice};

const REQUEST: &str = "an OpenAI responses request";
const RESPONSE: &str = "an OpenAI response";

/// Request keys read into messages, tools and the streaming flag.
const STRUCTURAL_KEYS: &[&str] = &[
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "stream",
    "stream_options",
];

// ---------------------------------------------------------------------------
// In: request

/// Reads a Responses request body.
pub fn parse_request(body: &Json) -> Result<ParsedRequest, WireError> {
    let object = as_object(body, REQUEST)?;
    let mut input_messages = Vec::new();
    let instructions = match object.get("instructions") {
        Some(Json::String(text)) if !text.is_empty() => Some(vec![Part::text(text.as_str())]),
        _ => None,
    };
    if let Some(parts) = &instructions {
        input_messages.push(Message::new("system", parts.clone()));
    }
    match object.get("input") {
        Some(Json::String(text)) => input_messages.push(Message::text("user", text.as_str())),
        Some(Json::Array(items)) => {
            for item in items {
                push_item(item, &mut input_messages);
            }
        }
        None | Some(Json::Null) => {}
        Some(other) => {
            return Err(WireError::WrongType {
                what: REQUEST,
                field: "input".to_owned(),
                expected: "a string or an array of items",
                found: type_name(other),
            });
        }
    }
    let mut tools = Vec::new();
    for tool in optional_array(object, "tools", REQUEST)? {
        tools.push(canonical_tool(tool));
    }
    Ok(ParsedRequest {
        provider: "openai",
        model: string_field(object, "model"),
        system_instructions: instructions,
        input_messages,
        tool_definitions: if tools.is_empty() { None } else { Some(tools) },
        params: parse_params(object),
        streaming: object.get("stream").and_then(Json::as_bool) == Some(true),
        user_id: string_field(object, "user"),
    })
}

/// One input item into the canonical history.
fn push_item(item: &Json, out: &mut Vec<Message>) {
    let item_type = item.get("type").and_then(Json::as_str);
    let role = item.get("role").and_then(Json::as_str);
    match (item_type, role) {
        (Some("function_call_output"), _) => {
            let response = item.get("output").map_or(Json::Null, flatten_output);
            let id = item
                .get("call_id")
                .and_then(Json::as_str)
                .map(str::to_owned);
            out.push(Message::new(
                "tool",
                vec![Part::ToolCallResponse { id, response }],
            ));
        }
        (None | Some("message"), Some(role)) => {
            let parts = message_parts(item.get("content"));
            if role == "assistant" {
                push_assistant_parts(parts, out);
            } else {
                out.push(Message::new(role, parts));
            }
        }
        _ => push_assistant_parts(vec![output_item_part(item)], out),
    }
}

/// Items of one assistant turn arrive separately; they are one message.
fn push_assistant_parts(parts: Vec<Part>, out: &mut Vec<Message>) {
    if let Some(last) = out.last_mut()
        && last.role == "assistant"
    {
        last.parts.extend(parts);
        return;
    }
    out.push(Message::new("assistant", parts));
}

/// Message content: a string or a list of input/output parts.
fn message_parts(content: Option<&Json>) -> Vec<Part> {
    let mut parts = Vec::new();
    match content {
        Some(Json::String(text)) => parts.push(Part::text(text.as_str())),
        Some(Json::Array(items)) => {
            for item in items {
                parts.push(content_item_part(item));
            }
        }
        _ => {}
    }
    parts
}

fn content_item_part(item: &Json) -> Part {
    let text = |key: &str| item.get(key).and_then(Json::as_str);
    match item.get("type").and_then(Json::as_str) {
        Some("input_text" | "output_text" | "text") => match text("text") {
            Some(content) => Part::text(content),
            None => other_part(item),
        },
        Some("refusal") => match text("refusal") {
            Some(refusal) => content_part("refusal", refusal),
            None => other_part(item),
        },
        Some("input_image") => match (text("image_url"), text("file_id")) {
            (Some(url), _) => image_from_url(url, item.get("detail")),
            (None, Some(file_id)) => file_part("image", None, file_id.to_owned()),
            _ => other_part(item),
        },
        Some("input_file") => match text("file_id") {
            Some(file_id) => file_part("document", None, file_id.to_owned()),
            None => other_part(item),
        },
        _ => other_part(item),
    }
}

/// An assistant-side item (input history or response output) as a part.
fn output_item_part(item: &Json) -> Part {
    let text = |key: &str| item.get(key).and_then(Json::as_str).map(str::to_owned);
    match item.get("type").and_then(Json::as_str) {
        Some("function_call") => match text("name") {
            Some(name) => Part::ToolCall {
                id: text("call_id"),
                name,
                arguments: match item.get("arguments") {
                    Some(Json::String(arguments)) => parse_arguments(arguments),
                    Some(other) => other.clone(),
                    None => Json::Null,
                },
            },
            None => other_part(item),
        },
        Some("reasoning") => {
            let mut summary = Vec::new();
            for entry in item
                .get("summary")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(text) = entry.get("text").and_then(Json::as_str) {
                    summary.push(text);
                }
            }
            if summary.is_empty() {
                // Only encrypted content: nothing readable, kept as sent.
                other_part(item)
            } else {
                Part::Reasoning {
                    content: summary.join("\n"),
                }
            }
        }
        _ => other_part(item),
    }
}

/// `function_call_output.output` is a string or a list of content parts.
fn flatten_output(output: &Json) -> Json {
    let Some(items) = output.as_array() else {
        return output.clone();
    };
    let mut texts = Vec::new();
    for item in items {
        match item.get("type").and_then(Json::as_str) {
            Some("input_text" | "output_text" | "text") => {
                match item.get("text").and_then(Json::as_str) {
                    Some(text) => texts.push(text),
                    None => return output.clone(),
                }
            }
            _ => return flatten_tool_result(output),
        }
    }
    Json::String(texts.join("\n"))
}

/// Function tools are already flat; built-in tools are kept as sent.
fn canonical_tool(tool: &Json) -> Json {
    if tool.get("type").and_then(Json::as_str) != Some("function") {
        return tool.clone();
    }
    let mut canonical = Map::new();
    canonical.insert("type".into(), "function".into());
    for key in ["name", "description", "parameters", "strict"] {
        if let Some(value) = tool.get(key) {
            canonical.insert(key.into(), value.clone());
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
            "max_output_tokens" => params.max_tokens = value.as_i64(),
            "text" => parse_text_options(value, &mut params),
            "reasoning" => parse_reasoning_options(value, &mut params),
            _ => {
                params.extra.insert(key.clone(), value.clone());
            }
        }
    }
    params.tool_choice = object
        .get("tool_choice")
        .filter(|choice| !choice.is_null())
        .map(canonical_tool_choice);
    params
}

/// `text.format` is the response format, in Chat Completions' shape
/// canonically; other text options stay under `text`.
fn parse_text_options(text: &Json, params: &mut RequestParams) {
    let Some(object) = text.as_object() else {
        params.extra.insert("text".into(), text.clone());
        return;
    };
    let mut rest = object.clone();
    if let Some(format) = rest.shift_remove("format") {
        params.response_format = Some(chat_response_format(&format));
    }
    if let Some(verbosity) = rest.shift_remove("verbosity") {
        params.extra.insert("verbosity".into(), verbosity);
    }
    if !rest.is_empty() {
        params.extra.insert("text".into(), Json::Object(rest));
    }
}

/// `{"type":"json_schema", name, schema, strict}` nests under `json_schema`
/// in Chat Completions; the other formats have the same shape in both.
fn chat_response_format(format: &Json) -> Json {
    if format.get("type").and_then(Json::as_str) != Some("json_schema") {
        return format.clone();
    }
    let mut schema = Map::new();
    if let Some(object) = format.as_object() {
        for (key, value) in object {
            if key != "type" {
                schema.insert(key.clone(), value.clone());
            }
        }
    }
    json!({"type": "json_schema", "json_schema": schema})
}

/// `reasoning.effort` is Chat Completions' `reasoning_effort`.
fn parse_reasoning_options(reasoning: &Json, params: &mut RequestParams) {
    let Some(object) = reasoning.as_object() else {
        params.extra.insert("reasoning".into(), reasoning.clone());
        return;
    };
    let mut rest = object.clone();
    if let Some(effort) = rest.shift_remove("effort") {
        params.extra.insert("reasoning_effort".into(), effort);
    }
    if !rest.is_empty() {
        params.extra.insert("reasoning".into(), Json::Object(rest));
    }
}

// ---------------------------------------------------------------------------
// In: response

/// Reads a `response` object, or an error body.
pub fn parse_response(body: &Json) -> Result<ParsedResponse, WireError> {
    let object = as_object(body, RESPONSE)?;
    let error = match object.get("error") {
        Some(Json::Null) | None => None,
        Some(error) => Some(CallError {
            error_type: error
                .get("code")
                .or_else(|| error.get("type"))
                .and_then(Json::as_str)
                .map(str::to_owned),
            message: error
                .get("message")
                .and_then(Json::as_str)
                .map(str::to_owned),
        }),
    };
    if !object.contains_key("output") {
        return Ok(ParsedResponse {
            error: error.or_else(|| error_from_body(body)),
            complete: true,
            ..ParsedResponse::default()
        });
    }
    let mut parts = Vec::new();
    for item in optional_array(object, "output", RESPONSE)? {
        match item.get("type").and_then(Json::as_str) {
            Some("message") => parts.extend(message_parts(item.get("content"))),
            _ => parts.push(output_item_part(item)),
        }
    }
    let provider_word = finish_word(object, &parts);
    let mut message = Message::new("assistant", parts);
    message.finish_reason = Some(otel_finish_reason(&provider_word));
    Ok(ParsedResponse {
        output_messages: vec![message],
        finish_reasons: vec![provider_word],
        usage: parse_usage(object.get("usage")),
        response_id: string_field(object, "id"),
        response_model: string_field(object, "model"),
        error,
        complete: true,
    })
}

/// The Responses API has no finish reason: the status says it, or the
/// reason a response is incomplete; a completed turn that calls tools is a
/// tool call, as Chat Completions would say.
fn finish_word(object: &Map<String, Json>, parts: &[Part]) -> String {
    let status = object
        .get("status")
        .and_then(Json::as_str)
        .unwrap_or("completed");
    let incomplete_reason = object
        .get("incomplete_details")
        .and_then(|details| details.get("reason"))
        .and_then(Json::as_str);
    let calls_tools = parts
        .iter()
        .any(|part| matches!(part, Part::ToolCall { .. }));
    match (status, incomplete_reason) {
        ("incomplete", Some(reason)) => reason.to_owned(),
        ("completed", _) if calls_tools => "tool_calls".to_owned(),
        (status, _) => status.to_owned(),
    }
}

fn parse_usage(usage: Option<&Json>) -> Usage {
    Usage {
        input_tokens: token_count(usage, "input_tokens"),
        output_tokens: token_count(usage, "output_tokens"),
        cached_input_tokens: token_count(
            usage.and_then(|u| u.get("input_tokens_details")),
            "cached_tokens",
        ),
        reasoning_tokens: token_count(
            usage.and_then(|u| u.get("output_tokens_details")),
            "reasoning_tokens",
        ),
    }
}

// ---------------------------------------------------------------------------
// In: stream

/// Reads the recorded events of a stream, in order.
pub fn parse_stream(events: &[Json]) -> Result<ParsedResponse, WireError> {
    if events.is_empty() {
        return Err(WireError::EmptyStream);
    }
    let mut stream = ResponsesStream::default();
    for event in events {
        stream.push(event);
    }
    stream.finish()
}

/// Reassembles a Responses stream.
#[derive(Debug, Default)]
pub struct ResponsesStream {
    /// The response as last announced (`response.created`, then the final
    /// event, which carries everything).
    response: Map<String, Json>,
    /// Output items by index: as added, replaced by their `done` version.
    items: BTreeMap<u64, Json>,
    done_items: BTreeMap<u64, bool>,
    /// Text and argument deltas of items not yet done.
    text: BTreeMap<u64, String>,
    arguments: BTreeMap<u64, String>,
    error: Option<CallError>,
    finished: bool,
}

impl ResponsesStream {
    /// Feeds one event's data. Returns true when it carried model output.
    pub fn push(&mut self, event: &Json) -> bool {
        let Some(object) = event.as_object() else {
            return false;
        };
        let index = object
            .get("output_index")
            .and_then(Json::as_u64)
            .unwrap_or(0);
        let delta = object.get("delta").and_then(Json::as_str).unwrap_or("");
        match object.get("type").and_then(Json::as_str).unwrap_or("") {
            "response.created" | "response.in_progress" => {
                self.take_response(object);
                false
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.take_response(object);
                self.finished = true;
                false
            }
            "response.output_item.added" => {
                let item = object.get("item").cloned().unwrap_or(Json::Null);
                let is_call = item.get("type").and_then(Json::as_str) == Some("function_call");
                self.items.insert(index, item);
                is_call
            }
            "response.output_item.done" => {
                let item = object.get("item").cloned().unwrap_or(Json::Null);
                self.items.insert(index, item);
                self.done_items.insert(index, true);
                false
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                self.text.entry(index).or_default().push_str(delta);
                !delta.is_empty()
            }
            "response.function_call_arguments.delta" => {
                self.arguments.entry(index).or_default().push_str(delta);
                !delta.is_empty()
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                !delta.is_empty()
            }
            "error" => {
                self.error = Some(CallError {
                    error_type: string_field(object, "code")
                        .or_else(|| string_field(object, "type")),
                    message: string_field(object, "message"),
                });
                false
            }
            _ => false,
        }
    }

    fn take_response(&mut self, event: &Map<String, Json>) {
        if let Some(response) = event.get("response").and_then(Json::as_object) {
            self.response = response.clone();
        }
    }

    /// True once the final response event arrived.
    pub fn is_complete(&self) -> bool {
        self.finished
    }

    /// The `response` object: the final event's when it came, else rebuilt
    /// from the items and deltas that arrived.
    pub fn to_body(&self) -> Json {
        let mut response = self.response.clone();
        let has_output = response
            .get("output")
            .and_then(Json::as_array)
            .is_some_and(|output| !output.is_empty());
        if self.finished && has_output {
            return Json::Object(response);
        }
        let mut output = Vec::new();
        for (index, item) in &self.items {
            if self.done_items.contains_key(index) {
                output.push(item.clone());
            } else {
                output.push(self.partial_item(*index, item));
            }
        }
        response.insert("output".into(), Json::Array(output));
        Json::Object(response)
    }

    /// An item whose `done` event never came, filled from its deltas.
    fn partial_item(&self, index: u64, item: &Json) -> Json {
        let mut item = item.clone();
        let Some(object) = item.as_object_mut() else {
            return item;
        };
        if let Some(text) = self.text.get(&index) {
            object.insert(
                "content".into(),
                json!([{"type": "output_text", "text": text}]),
            );
        }
        if let Some(arguments) = self.arguments.get(&index) {
            object.insert("arguments".into(), arguments.clone().into());
        }
        item
    }

    /// The canonical response; an error event or a missing final event
    /// makes it an error (see [`ParsedResponse::apply_to`]).
    pub fn finish(&self) -> Result<ParsedResponse, WireError> {
        let mut parsed = parse_response(&self.to_body())?;
        if self.error.is_some() {
            parsed.error = self.error.clone();
        }
        parsed.complete = self.is_complete();
        Ok(parsed)
    }
}
