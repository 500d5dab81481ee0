//! Responses requests in: `input` as a string or a list of items (messages,
//! `function_call`, `function_call_output`, `reasoning`), and
//! `instructions`. The items of one assistant turn become one assistant
//! message, as Chat Completions and Anthropic would carry them, and each
//! `function_call_output` its own role `tool` message.

use serde_json::{Map, Value as Json, json};

use crate::model::{Message, Part, RequestParams, canonical_tool_choice};
use crate::providers::wire::common::{
    self, Param, ParamTable, as_object, content_part, flatten_tool_result, image_from_url,
    optional_array, other_part, parse_arguments, string_field, type_name,
};
use crate::providers::wire::{ParsedRequest, WireError};

const REQUEST: &str = "an OpenAI responses request";

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

/// The parameters with a canonical field; `text` and `reasoning` are
/// objects whose fields go to several places.
const PARAMS: &ParamTable = &[
    (&["temperature"], Param::Temperature),
    (&["top_p"], Param::TopP),
    (&["max_output_tokens"], Param::MaxTokens),
    (&["text"], Param::With(parse_text_options)),
    (&["reasoning"], Param::With(parse_reasoning_options)),
];

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
pub(super) fn message_parts(content: Option<&Json>) -> Vec<Part> {
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
            (None, Some(file_id)) => Part::file("image", None, file_id),
            _ => other_part(item),
        },
        Some("input_file") => match text("file_id") {
            Some(file_id) => Part::file("document", None, file_id),
            None => other_part(item),
        },
        _ => other_part(item),
    }
}

/// An assistant-side item (input history or response output) as a part.
pub(super) fn output_item_part(item: &Json) -> Part {
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
    let mut params = common::parse_params(object, STRUCTURAL_KEYS, PARAMS);
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
