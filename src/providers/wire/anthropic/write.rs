//! Canonical calls out as Messages request bodies: leading system messages
//! become `system`, tool results go back into user turns and consecutive
//! turns of one role are merged (Anthropic requires alternation and results
//! right after the calls). `max_tokens`, which Anthropic requires, comes
//! from the call, else the target's default, else the translation fails.
//! Parameters Anthropic has no word for (`seed`, penalties, JSON mode,
//! several choices, temperature above 1) fail unless the target allows
//! dropping them.

use serde_json::{Map, Value as Json, json};

use crate::model::{Call, Message, Part, RequestParams, ToolChoice};
use crate::providers::translate::{self, TargetParams, TranslateError};

const TARGET: &str = "Anthropic Messages";

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
