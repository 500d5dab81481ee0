//! Messages requests in: top-level `system` as a string or text blocks, and
//! content blocks `text`, `image`, `document`, `tool_use`, `tool_result`,
//! `thinking` and server tools. Tool results leave the user turn as role
//! `tool` messages, as OpenAI sends them.

use serde_json::{Map, Value as Json, json};

use crate::model::{Message, Part, RequestParams, canonical_tool_choice};
use crate::providers::wire::common::{
    self, Param, ParamTable, as_object, flatten_tool_result, optional_array, other_part,
    required_array, string_field, type_name,
};
use crate::providers::wire::{ParsedRequest, WireError};

const REQUEST: &str = "an Anthropic messages request";
const MESSAGE: &str = "an Anthropic message";

/// Request keys read into messages, tools and the streaming flag.
const STRUCTURAL_KEYS: &[&str] = &[
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "stream",
];

/// The parameters with a canonical field.
const PARAMS: &ParamTable = &[
    (&["temperature"], Param::Temperature),
    (&["top_p"], Param::TopP),
    (&["top_k"], Param::TopK),
    (&["max_tokens"], Param::MaxTokens),
    (&["stop_sequences"], Param::StopSequences),
    (&["metadata"], Param::With(parse_metadata)),
];

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
pub(super) fn parse_block(block: &Json) -> Part {
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
        return Part::blob(modality, mime_type.as_deref(), data);
    }
    match (
        source_type,
        string_field(source, "url"),
        string_field(source, "file_id"),
    ) {
        (Some("url"), Some(url), _) => Part::uri(modality, mime_type.as_deref(), url),
        (Some("file"), _, Some(file_id)) => Part::file(modality, mime_type.as_deref(), file_id),
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
    let mut params = common::parse_params(object, STRUCTURAL_KEYS, PARAMS);
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
