//! Chat Completions requests in: messages with string or part-list content,
//! `tools` and the legacy `functions`, and every sampling parameter.

use serde_json::{Map, Value as Json};

use crate::model::{Message, Part, RequestParams, canonical_tool_choice};
use crate::providers::wire::common::{
    self, Param, ParamTable, as_object, content_part, flatten_tool_result, image_from_url,
    optional_array, other_part, parse_arguments, parse_data_url, required_array, string_field,
    type_name,
};
use crate::providers::wire::{ParsedRequest, WireError};

const REQUEST: &str = "an OpenAI chat request";
pub(super) const MESSAGE: &str = "an OpenAI chat message";

/// Request keys that are structure, not parameters: they are read into
/// messages, tools and the streaming flag instead of `request_params`.
const STRUCTURAL_KEYS: &[&str] = &[
    "model",
    "messages",
    "tools",
    "functions",
    "tool_choice",
    "function_call",
    "stream",
    "stream_options",
];

/// The parameters with a canonical field. `max_completion_tokens` replaced
/// `max_tokens` (reasoning models take only the new one) and wins when a
/// body sends both.
const PARAMS: &ParamTable = &[
    (&["temperature"], Param::Temperature),
    (&["top_p"], Param::TopP),
    (&["top_k"], Param::TopK),
    (&["max_completion_tokens", "max_tokens"], Param::MaxTokens),
    (&["stop"], Param::StopSequences),
    (&["seed"], Param::Seed),
    (&["frequency_penalty"], Param::FrequencyPenalty),
    (&["presence_penalty"], Param::PresencePenalty),
    (&["n"], Param::ChoiceCount),
    (&["response_format"], Param::ResponseFormat),
];

/// Reads a Chat Completions request body.
pub fn parse_request(body: &Json) -> Result<ParsedRequest, WireError> {
    let object = as_object(body, REQUEST)?;
    let mut input_messages = Vec::new();
    for message in required_array(object, "messages", REQUEST)? {
        input_messages.push(parse_input_message(message)?);
    }
    let mut tools = Vec::new();
    for tool in optional_array(object, "tools", REQUEST)? {
        tools.push(canonical_tool(tool));
    }
    for function in optional_array(object, "functions", REQUEST)? {
        tools.push(canonical_function(function));
    }
    Ok(ParsedRequest {
        provider: "openai",
        model: string_field(object, "model"),
        system_instructions: None,
        input_messages,
        tool_definitions: if tools.is_empty() { None } else { Some(tools) },
        params: parse_params(object),
        streaming: object.get("stream").and_then(Json::as_bool) == Some(true),
        user_id: string_field(object, "user"),
    })
}

fn parse_input_message(message: &Json) -> Result<Message, WireError> {
    let object = as_object(message, MESSAGE)?;
    let role = object
        .get("role")
        .and_then(Json::as_str)
        .ok_or(WireError::MissingField {
            what: MESSAGE,
            field: "role",
        })?;
    let mut parsed = match role {
        "assistant" => Message::new(role, parse_assistant_parts(object)?),
        // A tool result, and its legacy spelling: a `function` message
        // answers the function call of the same name, with no id.
        "tool" | "function" => {
            let response = object
                .get("content")
                .map_or(Json::Null, flatten_tool_result);
            let part = Part::ToolCallResponse {
                id: string_field(object, "tool_call_id"),
                response,
            };
            Message::new("tool", vec![part])
        }
        _ => Message::new(role, parse_content(object.get("content"))?),
    };
    parsed.name = string_field(object, "name");
    Ok(parsed)
}

/// Message content: a string, a list of content parts, or null.
fn parse_content(content: Option<&Json>) -> Result<Vec<Part>, WireError> {
    let mut parts = Vec::new();
    match content {
        None | Some(Json::Null) => {}
        Some(Json::String(text)) => {
            if !text.is_empty() {
                parts.push(Part::text(text.as_str()));
            }
        }
        Some(Json::Array(items)) => {
            for item in items {
                parts.push(parse_content_part(item));
            }
        }
        Some(other) => {
            return Err(WireError::WrongType {
                what: MESSAGE,
                field: "content".to_owned(),
                expected: "a string, an array of parts or null",
                found: type_name(other),
            });
        }
    }
    Ok(parts)
}

fn parse_content_part(item: &Json) -> Part {
    let part_type = item.get("type").and_then(Json::as_str).unwrap_or("");
    match part_type {
        "text" | "output_text" => match item.get("text").and_then(Json::as_str) {
            Some(text) => Part::text(text),
            None => other_part(item),
        },
        "image_url" => {
            let image = item.get("image_url");
            // Some compatible servers accept the URL directly as a string.
            let url = image
                .and_then(|image| image.get("url"))
                .and_then(Json::as_str)
                .or_else(|| image.and_then(Json::as_str));
            match url {
                Some(url) => image_from_url(url, image.and_then(|image| image.get("detail"))),
                None => other_part(item),
            }
        }
        "input_audio" => {
            let audio = item.get("input_audio");
            let data = audio.and_then(|a| a.get("data")).and_then(Json::as_str);
            let format = audio.and_then(|a| a.get("format")).and_then(Json::as_str);
            match (data, format) {
                (Some(data), Some(format)) => {
                    Part::blob("audio", Some(&audio_mime_type(format)), data)
                }
                _ => other_part(item),
            }
        }
        "file" => parse_file_part(item),
        "refusal" => match item.get("refusal").and_then(Json::as_str) {
            Some(refusal) => content_part("refusal", refusal),
            None => other_part(item),
        },
        _ => other_part(item),
    }
}

/// A `file` content part: an uploaded file id, or inline data with a name.
fn parse_file_part(item: &Json) -> Part {
    let Some(file) = item.get("file").and_then(Json::as_object) else {
        return other_part(item);
    };
    if let Some(file_id) = string_field(file, "file_id") {
        return Part::file("document", None, file_id);
    }
    let inline = file
        .get("file_data")
        .and_then(Json::as_str)
        .and_then(parse_data_url);
    match inline {
        Some((mime_type, content)) => {
            let mut part = Part::blob("document", Some(&mime_type), content);
            if let (Part::Other(map), Some(filename)) = (&mut part, file.get("filename")) {
                map.insert("filename".into(), filename.clone());
            }
            part
        }
        None => other_part(item),
    }
}

fn audio_mime_type(format: &str) -> String {
    match format {
        "mp3" => "audio/mpeg".to_owned(),
        other => format!("audio/{other}"),
    }
}

/// An assistant message in history or in a response: reasoning, text,
/// refusal, then tool calls (new and legacy), in the order they were made.
pub(super) fn parse_assistant_parts(object: &Map<String, Json>) -> Result<Vec<Part>, WireError> {
    let mut parts = Vec::new();
    // `reasoning_content` (DeepSeek, vLLM, llama.cpp) or `reasoning` (Ollama).
    let reasoning = object
        .get("reasoning_content")
        .or_else(|| object.get("reasoning"))
        .and_then(Json::as_str);
    if let Some(reasoning) = reasoning
        && !reasoning.is_empty()
    {
        parts.push(Part::Reasoning {
            content: reasoning.to_owned(),
        });
    }
    parts.extend(parse_content(object.get("content"))?);
    if let Some(refusal) = object.get("refusal").and_then(Json::as_str) {
        parts.push(content_part("refusal", refusal));
    }
    for tool_call in optional_array(object, "tool_calls", MESSAGE)? {
        parts.push(parse_tool_call(tool_call));
    }
    if let Some(function_call) = object.get("function_call").and_then(Json::as_object) {
        match string_field(function_call, "name") {
            Some(name) => parts.push(Part::ToolCall {
                id: None,
                name,
                arguments: arguments_from(function_call.get("arguments")),
            }),
            None => parts.push(Part::Other(function_call.clone())),
        }
    }
    if let Some(audio) = object.get("audio").and_then(Json::as_object) {
        let mut map = audio.clone();
        map.insert("type".into(), "audio".into());
        parts.push(Part::Other(map));
    }
    Ok(parts)
}

fn parse_tool_call(tool_call: &Json) -> Part {
    let function = tool_call.get("function");
    let name = function.and_then(|f| f.get("name")).and_then(Json::as_str);
    match name {
        Some(name) => Part::ToolCall {
            id: tool_call
                .get("id")
                .and_then(Json::as_str)
                .map(str::to_owned),
            name: name.to_owned(),
            arguments: arguments_from(function.and_then(|f| f.get("arguments"))),
        },
        None => other_part(tool_call),
    }
}

/// Arguments are a JSON string on the wire; a few servers send an object.
fn arguments_from(arguments: Option<&Json>) -> Json {
    match arguments {
        Some(Json::String(text)) => parse_arguments(text),
        Some(other) => other.clone(),
        None => Json::Null,
    }
}

/// `{type:"function", function:{name, description, parameters, strict}}`
/// becomes the flat OTel shape; other tool types are kept as sent.
fn canonical_tool(tool: &Json) -> Json {
    let is_function = tool.get("type").and_then(Json::as_str) == Some("function");
    match tool.get("function") {
        Some(function) if is_function => canonical_function(function),
        _ => tool.clone(),
    }
}

/// A function declaration (`tools[].function` or legacy `functions[]`).
fn canonical_function(function: &Json) -> Json {
    let mut tool = Map::new();
    tool.insert("type".into(), "function".into());
    for key in ["name", "description", "parameters", "strict"] {
        if let Some(value) = function.get(key) {
            tool.insert(key.into(), value.clone());
        }
    }
    Json::Object(tool)
}

fn parse_params(object: &Map<String, Json>) -> RequestParams {
    let mut params = common::parse_params(object, STRUCTURAL_KEYS, PARAMS);
    params.tool_choice = match (object.get("tool_choice"), object.get("function_call")) {
        (Some(choice), _) if !choice.is_null() => Some(canonical_tool_choice(choice)),
        (_, Some(choice)) if !choice.is_null() => Some(canonical_tool_choice(choice)),
        _ => None,
    };
    params
}
