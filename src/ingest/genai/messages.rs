//! Messages and parts: every shape the conventions use for prompt and answer
//! content, turned into the OTel GenAI message/part schema of
//! [`Message`]/[`Part`], plus the normalization rules that make calls from
//! different conventions comparable.
//!
//! Three families of input reach this module:
//! - OTel message lists (`gen_ai.input.messages`, `gen_ai.output.messages`,
//!   `gen_ai.system_instructions`): `{role, parts: [{type, …}]}`;
//! - provider-shaped messages (OpenAI chat, Anthropic messages, the
//!   1.28–1.36 event bodies, OpenLLMetry's flattened content, Vercel AI SDK
//!   messages): `{role, content: string | [blocks], tool_calls?, …}`;
//! - provider content blocks inside either (`tool_use`, `tool_result`,
//!   `image_url`, `tool-call`, …).
//!
//! The rules applied afterwards by [`normalize`] are the ones the fixtures
//! assume (tests/fixtures/otlp/expected.json, `normalization_rules`):
//! system instructions become a leading `system` message unless the history
//! already starts with the same one; a message that carries only tool
//! results has role `tool`; tool-call arguments are parsed JSON when they are
//! JSON; an empty text part carries nothing and is dropped.

use serde_json::{Map, Value as Json};

use super::attrs::{json_str, non_empty, parse_json};
use crate::model::{Call, Message, Part};

/// An OTel message list (`[{role, parts, name?, finish_reason?}]`). `None`
/// when the JSON is not an array; entries that are not objects are skipped.
pub(crate) fn otel_messages(json: &Json) -> Option<Vec<Message>> {
    let items = json.as_array()?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(object) = item.as_object() {
            out.push(otel_message(object));
        }
    }
    Some(out)
}

fn otel_message(object: &Map<String, Json>) -> Message {
    let role = json_str(object, "role").unwrap_or_else(|| UNKNOWN_ROLE.to_owned());
    let parts = match object.get("parts") {
        Some(parts) => otel_parts(parts).unwrap_or_default(),
        // Some producers put provider-style `content` where `parts` belongs.
        None => object.get("content").map(content_parts).unwrap_or_default(),
    };
    let mut message = Message::new(role, parts);
    message.name = json_str(object, "name");
    message.finish_reason = json_str(object, "finish_reason");
    message
}

/// The role given to a message whose producer did not say; kept rather than
/// dropped so no content is lost.
pub(crate) const UNKNOWN_ROLE: &str = "unknown";

/// A list of OTel parts (`gen_ai.system_instructions`, a message's `parts`).
pub(crate) fn otel_parts(json: &Json) -> Option<Vec<Part>> {
    let items = json.as_array()?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(part) = otel_part(item) {
            out.push(part);
        }
    }
    Some(out)
}

/// One OTel part. Accepts the spellings producers use besides the spec's:
/// `result` for `response` and `thinking` for `reasoning` (Pydantic AI), a
/// bare string for a text part. `None` for an empty text part.
pub(crate) fn otel_part(json: &Json) -> Option<Part> {
    let object = match json {
        Json::String(text) => return text_part(text),
        Json::Object(object) => object,
        other => return Some(Part::from_json(other)),
    };
    match object.get("type").and_then(Json::as_str) {
        Some("text") => match text_of(object) {
            Some(text) => text_part(text),
            None => Some(Part::Other(object.clone())),
        },
        Some("reasoning" | "thinking") => match text_of(object) {
            Some(text) => Some(Part::Reasoning {
                content: text.to_owned(),
            }),
            None => Some(Part::Other(object.clone())),
        },
        Some("tool_call") => match json_str(object, "name") {
            Some(name) => Some(Part::ToolCall {
                id: json_str(object, "id"),
                name,
                arguments: tool_arguments(object.get("arguments")),
            }),
            None => Some(Part::Other(object.clone())),
        },
        Some("tool_call_response") => Some(Part::ToolCallResponse {
            id: json_str(object, "id"),
            response: tool_response(object.get("response").or_else(|| object.get("result"))),
        }),
        _ => Some(Part::Other(object.clone())),
    }
}

fn text_of(object: &Map<String, Json>) -> Option<&str> {
    object
        .get("content")
        .or_else(|| object.get("text"))
        .and_then(Json::as_str)
}

fn text_part(text: &str) -> Option<Part> {
    if text.is_empty() {
        None
    } else {
        Some(Part::text(text))
    }
}

/// Tool-call arguments: a JSON string is parsed, anything else kept as is;
/// missing arguments are JSON null.
pub(crate) fn tool_arguments(raw: Option<&Json>) -> Json {
    match raw {
        None => Json::Null,
        Some(Json::String(text)) => parse_json(text).unwrap_or_else(|| Json::String(text.clone())),
        Some(other) => other.clone(),
    }
}

/// A tool result: a list of `{type:"text"}` blocks is flattened to its text
/// (joined with `\n`); anything else is kept as the producer wrote it.
pub(crate) fn tool_response(raw: Option<&Json>) -> Json {
    let Some(raw) = raw else {
        return Json::Null;
    };
    if let Some(text) = flatten_text_blocks(raw) {
        return Json::String(text);
    }
    raw.clone()
}

fn flatten_text_blocks(raw: &Json) -> Option<String> {
    let items = raw.as_array()?;
    if items.is_empty() {
        return None;
    }
    let mut texts = Vec::with_capacity(items.len());
    for item in items {
        let object = item.as_object()?;
        if object.get("type").and_then(Json::as_str) != Some("text") {
            return None;
        }
        texts.push(text_of(object)?);
    }
    Some(texts.join("\n"))
}

/// Provider-shaped content: a string, a list of content blocks (strings or
/// objects), or a single block object.
pub(crate) fn content_parts(content: &Json) -> Vec<Part> {
    let mut out = Vec::new();
    match content {
        Json::Null => {}
        Json::String(text) => out.extend(text_part(text)),
        Json::Array(items) => {
            for item in items {
                match item {
                    Json::String(text) => out.extend(text_part(text)),
                    Json::Object(block) => out.extend(block_part(block)),
                    other => out.push(Part::from_json(other)),
                }
            }
        }
        Json::Object(block) => out.extend(block_part(block)),
        other => out.push(Part::from_json(other)),
    }
    out
}

/// One provider content block. Pydantic AI writes `kind` where others write
/// `type`.
fn block_part(block: &Map<String, Json>) -> Option<Part> {
    let kind = block
        .get("type")
        .or_else(|| block.get("kind"))
        .and_then(Json::as_str)
        .unwrap_or("");
    match kind {
        "text" | "input_text" | "output_text" => match text_of(block) {
            Some(text) => text_part(text),
            None => Some(Part::Other(block.clone())),
        },
        "thinking" | "reasoning" => {
            let text = block
                .get("thinking")
                .or_else(|| block.get("text"))
                .or_else(|| block.get("content"))
                .and_then(Json::as_str);
            match text {
                Some(text) => Some(Part::Reasoning {
                    content: text.to_owned(),
                }),
                None => Some(Part::Other(block.clone())),
            }
        }
        // Anthropic.
        "tool_use" => tool_call_block(block, "id", "name", &["input"]),
        "tool_result" => Some(Part::ToolCallResponse {
            id: json_str(block, "tool_use_id"),
            response: tool_response(block.get("content")),
        }),
        "image" if block.get("source").is_some() => anthropic_source(block),
        // Vercel AI SDK.
        "tool-call" => tool_call_block(block, "toolCallId", "toolName", &["input", "args"]),
        "tool-result" => Some(Part::ToolCallResponse {
            id: json_str(block, "toolCallId"),
            response: vercel_tool_output(block.get("output").or_else(|| block.get("result"))),
        }),
        "image" | "file" => vercel_file(block),
        // OpenAI chat.
        "image_url" => {
            let url = block.get("image_url").and_then(|u| match u {
                Json::String(s) => Some(s.as_str()),
                Json::Object(o) => o.get("url").and_then(Json::as_str),
                _ => None,
            });
            match url {
                Some(url) => Some(uri_or_blob(url, "image", None)),
                None => Some(Part::Other(block.clone())),
            }
        }
        // Already in the OTel schema.
        "tool_call" | "tool_call_response" | "blob" | "uri" | "file_id" => {
            otel_part(&Json::Object(block.clone()))
        }
        _ => Some(Part::Other(block.clone())),
    }
}

fn tool_call_block(
    block: &Map<String, Json>,
    id_key: &str,
    name_key: &str,
    argument_keys: &[&str],
) -> Option<Part> {
    let Some(name) = json_str(block, name_key) else {
        return Some(Part::Other(block.clone()));
    };
    let mut raw = None;
    for key in argument_keys {
        if let Some(value) = block.get(*key) {
            raw = Some(value);
            break;
        }
    }
    Some(Part::ToolCall {
        id: json_str(block, id_key),
        name,
        arguments: tool_arguments(raw),
    })
}

/// AI SDK v5 wraps tool output as `{type: "text"|"json"|…, value}`.
fn vercel_tool_output(raw: Option<&Json>) -> Json {
    if let Some(Json::Object(object)) = raw
        && object.len() == 2
        && object.get("type").is_some()
        && let Some(value) = object.get("value")
    {
        return value.clone();
    }
    tool_response(raw)
}

fn anthropic_source(block: &Map<String, Json>) -> Option<Part> {
    let Some(source) = block.get("source").and_then(Json::as_object) else {
        return Some(Part::Other(block.clone()));
    };
    match source.get("type").and_then(Json::as_str) {
        Some("base64") => match source.get("data").and_then(Json::as_str) {
            Some(data) => {
                let mime = source.get("media_type").and_then(Json::as_str);
                Some(Part::blob("image", mime, data))
            }
            None => Some(Part::Other(block.clone())),
        },
        Some("url") => match source.get("url").and_then(Json::as_str) {
            Some(url) => Some(uri_or_blob(url, "image", None)),
            None => Some(Part::Other(block.clone())),
        },
        _ => Some(Part::Other(block.clone())),
    }
}

fn vercel_file(block: &Map<String, Json>) -> Option<Part> {
    let data = block.get("image").or_else(|| block.get("data"));
    let mime = block
        .get("mediaType")
        .or_else(|| block.get("mimeType"))
        .and_then(Json::as_str);
    let modality = modality_of(mime).unwrap_or("image");
    match data.and_then(Json::as_str) {
        Some(data) if data.starts_with("http://") || data.starts_with("https://") => {
            Some(uri_or_blob(data, modality, mime))
        }
        Some(data) if data.starts_with("data:") => Some(uri_or_blob(data, modality, mime)),
        Some(data) => Some(Part::blob(modality, mime, data)),
        None => Some(Part::Other(block.clone())),
    }
}

fn modality_of(mime: Option<&str>) -> Option<&'static str> {
    let mime = mime?;
    if mime.starts_with("image/") {
        Some("image")
    } else if mime.starts_with("audio/") {
        Some("audio")
    } else if mime.starts_with("video/") {
        Some("video")
    } else {
        None
    }
}

/// A URL as an OTel `uri` part, or a `blob` part when it is a `data:` URL.
pub(crate) fn uri_or_blob(url: &str, modality: &str, mime: Option<&str>) -> Part {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((header, content)) = rest.split_once(',')
    {
        let data_mime = header.split(';').next().filter(|m| !m.is_empty());
        return Part::blob(modality, data_mime.or(mime), content);
    }
    Part::uri(modality, mime, url)
}

/// OpenAI-shaped tool calls (`[{id, type:"function", function:{name,
/// arguments}}]`); flat `{id, name, arguments}` entries are accepted too.
pub(crate) fn openai_tool_calls(json: &Json) -> Vec<Part> {
    let mut out = Vec::new();
    let Some(items) = json.as_array() else {
        return out;
    };
    for item in items {
        let Some(call) = item.as_object() else {
            continue;
        };
        let function = call
            .get("function")
            .and_then(Json::as_object)
            .unwrap_or(call);
        let Some(name) = json_str(function, "name") else {
            continue;
        };
        out.push(Part::ToolCall {
            id: json_str(call, "id"),
            name,
            arguments: tool_arguments(function.get("arguments")),
        });
    }
    out
}

/// A provider-shaped message object: `{role?, content?, tool_calls?,
/// function_call?, tool_call_id? | id?, name?}`. `default_role` applies when
/// the object has no role (the 1.28–1.36 events omit the obvious one).
/// Content of a `tool` message is its tool result.
pub(crate) fn provider_message(object: &Map<String, Json>, default_role: &str) -> Message {
    let role = json_str(object, "role").unwrap_or_else(|| default_role.to_owned());
    let mut parts = Vec::new();
    if role == "tool" {
        let id = json_str(object, "tool_call_id").or_else(|| json_str(object, "id"));
        if object.get("content").is_some() || id.is_some() {
            parts.push(Part::ToolCallResponse {
                id,
                response: tool_response(object.get("content")),
            });
        }
    } else if let Some(content) = object.get("content") {
        parts = content_parts(content);
    }
    if let Some(tool_calls) = object.get("tool_calls") {
        parts.extend(openai_tool_calls(tool_calls));
    }
    if let Some(Json::Object(function_call)) = object.get("function_call")
        && let Some(name) = json_str(function_call, "name")
    {
        parts.push(Part::ToolCall {
            id: None,
            name,
            arguments: tool_arguments(function_call.get("arguments")),
        });
    }
    let mut message = Message::new(role, parts);
    if message.role != "tool" {
        message.name = json_str(object, "name");
    }
    message
}

/// A list of provider-shaped messages (`[{role, content}]`, as in the 1.26
/// `gen_ai.prompt` attribute). `None` when the JSON is not an array.
pub(crate) fn provider_messages(json: &Json, default_role: &str) -> Option<Vec<Message>> {
    let items = json.as_array()?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(object) = item.as_object() {
            out.push(provider_message(object, default_role));
        }
    }
    Some(out)
}

/// Content written as a string that may hold a serialized block list
/// (OpenLLMetry's flattened content when the provider content was not a
/// plain string). Only a JSON array of objects that all have a `type` counts
/// as blocks; any other string is text.
pub(crate) fn string_or_serialized_blocks(text: &str) -> Vec<Part> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[')
        && let Some(Json::Array(items)) = parse_json(text)
        && !items.is_empty()
        && items
            .iter()
            .all(|item| item.as_object().is_some_and(|o| o.contains_key("type")))
    {
        return content_parts(&Json::Array(items));
    }
    text_part(text).into_iter().collect()
}

/// A tool definition in the OTel shape `{type:"function", name,
/// description?, parameters?}`. OpenAI's `{type, function:{…}}` is
/// flattened and Anthropic's / the AI SDK's schema key becomes
/// `parameters`; other keys are kept.
pub(crate) fn tool_definition(json: Json) -> Json {
    let Json::Object(mut object) = json else {
        return json;
    };
    if let Some(Json::Object(function)) = object.remove("function") {
        let mut flat = Map::new();
        flat.insert(
            "type".into(),
            object.remove("type").unwrap_or_else(|| "function".into()),
        );
        for (key, value) in function {
            flat.insert(key, value);
        }
        for (key, value) in object {
            flat.entry(key).or_insert(value);
        }
        return Json::Object(flat);
    }
    for schema_key in ["input_schema", "inputSchema", "parameters_json_schema"] {
        if let Some(schema) = object.remove(schema_key) {
            object.entry("parameters").or_insert(schema);
        }
    }
    if !object.contains_key("type") {
        let mut typed = Map::new();
        typed.insert("type".into(), "function".into());
        typed.extend(object);
        return Json::Object(typed);
    }
    Json::Object(object)
}

/// A list of tool definitions from JSON: an array of objects, or of JSON
/// strings each holding one definition (the AI SDK's `ai.prompt.tools`).
pub(crate) fn tool_definitions(json: &Json) -> Option<Vec<Json>> {
    let items = json.as_array()?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let item = match item {
            Json::String(text) => match parse_json(text) {
                Some(parsed) => parsed,
                None => continue,
            },
            other => other.clone(),
        };
        out.push(tool_definition(item));
    }
    Some(out)
}

/// Applies the normalization rules to a call's messages. Idempotent.
pub(crate) fn normalize(call: &mut Call) {
    if let Some(inputs) = call.input_messages.as_mut() {
        for message in inputs.iter_mut() {
            mark_tool_result_role(message);
        }
    }
    prepend_system_instructions(call);
}

/// A message that only carries tool results is a `tool` message, whatever
/// role the provider's API gave it (Anthropic sends them as `user`).
fn mark_tool_result_role(message: &mut Message) {
    if message.parts.is_empty() {
        return;
    }
    let all_results = message
        .parts
        .iter()
        .all(|p| matches!(p, Part::ToolCallResponse { .. }));
    if all_results {
        message.role = "tool".to_owned();
    }
}

/// System instructions given separately also open the input history, so
/// that every call reads the same way whatever API shape it came from.
fn prepend_system_instructions(call: &mut Call) {
    let Some(system) = call.system_instructions.as_ref() else {
        return;
    };
    if system.is_empty() {
        return;
    }
    let inputs = call.input_messages.get_or_insert_with(Vec::new);
    if let Some(first) = inputs.first()
        && first.role == "system"
        && same_content(&first.parts, system)
    {
        return;
    }
    inputs.insert(0, Message::new("system", system.clone()));
}

fn same_content(a: &[Part], b: &[Part]) -> bool {
    if a == b {
        return true;
    }
    let text_a = Message::new("", a.to_vec()).joined_text();
    let text_b = Message::new("", b.to_vec()).joined_text();
    text_a.is_some() && text_a == text_b
}

/// A non-empty string as text; used by the flattened conventions.
pub(crate) fn text_parts(text: &str) -> Vec<Part> {
    non_empty(text).map(Part::text).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallId, Source};
    use serde_json::json;

    #[test]
    fn otel_parts_accept_pydantic_spellings() {
        let parts = otel_parts(&json!([
            {"type": "thinking", "content": "hmm"},
            {"type": "tool_call_response", "id": "t1", "name": "f", "result": {"ok": true}},
            {"type": "text", "content": ""},
        ]))
        .unwrap_or_default();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0],
            Part::Reasoning {
                content: "hmm".into()
            }
        );
        assert_eq!(
            parts[1],
            Part::ToolCallResponse {
                id: Some("t1".into()),
                response: json!({"ok": true})
            }
        );
    }

    #[test]
    fn tool_arguments_are_parsed_only_when_they_are_json() {
        assert_eq!(tool_arguments(Some(&json!("{\"a\": 1}"))), json!({"a": 1}));
        assert_eq!(tool_arguments(Some(&json!("not json"))), json!("not json"));
        assert_eq!(tool_arguments(None), Json::Null);
    }

    #[test]
    fn anthropic_tool_result_blocks_become_a_tool_message() {
        let message = provider_message(
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1",
                 "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
            ]})
            .as_object()
            .unwrap_or(&Map::new()),
            "user",
        );
        let mut call = Call::new(CallId(1), Source::Otlp, 0);
        call.input_messages = Some(vec![message]);
        normalize(&mut call);
        let inputs = call.input_messages.unwrap_or_default();
        assert_eq!(inputs[0].role, "tool");
        assert_eq!(
            inputs[0].parts,
            vec![Part::ToolCallResponse {
                id: Some("toolu_1".into()),
                response: json!("a\nb")
            }]
        );
    }

    #[test]
    fn system_instructions_are_prepended_once() {
        let mut call = Call::new(CallId(1), Source::Otlp, 0);
        call.system_instructions = Some(vec![Part::text("be brief")]);
        call.input_messages = Some(vec![Message::text("user", "hi")]);
        normalize(&mut call);
        normalize(&mut call);
        let inputs = call.input_messages.unwrap_or_default();
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[0], Message::text("system", "be brief"));
    }

    #[test]
    fn an_identical_leading_system_message_is_not_repeated() {
        let mut call = Call::new(CallId(1), Source::Otlp, 0);
        call.system_instructions = Some(vec![Part::text("be brief")]);
        call.input_messages = Some(vec![
            Message::text("system", "be brief"),
            Message::text("user", "hi"),
        ]);
        normalize(&mut call);
        assert_eq!(call.input_messages.map(|m| m.len()), Some(2));
    }

    #[test]
    fn serialized_blocks_are_parsed_but_other_json_text_stays_text() {
        let parts = string_or_serialized_blocks(
            r#"[{"type": "tool_result", "tool_use_id": "t", "content": "r"}]"#,
        );
        assert!(matches!(parts[0], Part::ToolCallResponse { .. }));
        let parts = string_or_serialized_blocks(r#"[1, 2]"#);
        assert_eq!(parts, vec![Part::text("[1, 2]")]);
    }

    #[test]
    fn tool_definitions_take_the_otel_shape() {
        let openai = tool_definition(json!({"type": "function", "function": {
            "name": "f", "description": "d", "parameters": {"type": "object"}}}));
        assert_eq!(
            openai,
            json!({"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}})
        );
        let anthropic = tool_definition(json!({"name": "f", "input_schema": {"type": "object"}}));
        assert_eq!(
            anthropic,
            json!({"type": "function", "name": "f", "parameters": {"type": "object"}})
        );
    }

    #[test]
    fn data_urls_become_blobs_and_other_urls_uris() {
        let parts = content_parts(&json!([
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        ]));
        assert_eq!(parts[0].type_name(), "blob");
        assert_eq!(parts[1].type_name(), "uri");
    }
}
