//! Canonical calls out as Chat Completions request bodies, for any server
//! that speaks the format (OpenAI, llama.cpp, Ollama, vLLM, LiteLLM). What
//! the format cannot carry fails with a [`TranslateError`] that names it;
//! nothing is dropped unless the target's `allow_drop` names it.

use serde_json::{Map, Value as Json, json};

use crate::model::{Call, Message, Part, RequestParams, ToolChoice};
use crate::providers::translate::{self, TargetParams, TranslateError};
use crate::providers::wire::common::{arguments_to_string, data_url, flatten_tool_result};

const TARGET: &str = "OpenAI Chat Completions";

/// Chat Completions parameters with no canonical field that a translated
/// request may carry through from `request_params.extra`.
const PASS_THROUGH_PARAMS: &[&str] = &[
    "user",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "parallel_tool_calls",
    "service_tier",
    "reasoning_effort",
    "metadata",
    "store",
    "modalities",
    "prediction",
    "audio",
    "web_search_options",
    "verbosity",
    "safety_identifier",
    "prompt_cache_key",
];

/// Writes a canonical call as a Chat Completions request body for
/// `params.model`. Overrides are merged last (JSON merge patch: `null`
/// removes a key).
pub fn to_openai_chat(call: &Call, params: &TargetParams) -> Result<Json, TranslateError> {
    let history = translate::input_messages(call)?;
    let mut messages = Vec::new();
    if let Some(system) = translate::separate_system(call) {
        messages
            .push(json!({"role": "system", "content": text_only_content(0, "system", system)?}));
    }
    for (index, message) in history.iter().enumerate() {
        write_message(index, message, params, &mut messages)?;
    }
    let mut body = Map::new();
    body.insert("model".into(), params.model.clone().into());
    body.insert("messages".into(), Json::Array(messages));
    if let Some(definitions) = &call.tool_definitions
        && !definitions.is_empty()
        && !params.is_overridden("tools")
    {
        let mut tools = Vec::new();
        for (index, definition) in definitions.iter().enumerate() {
            tools.push(write_tool(index, definition)?);
        }
        body.insert("tools".into(), Json::Array(tools));
    }
    write_params(&call.request_params, params, &mut body)?;
    if params.stream {
        body.insert("stream".into(), true.into());
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(translate::finish_body(body, params))
}

fn write_message(
    index: usize,
    message: &Message,
    params: &TargetParams,
    out: &mut Vec<Json>,
) -> Result<(), TranslateError> {
    let role = message.role.as_str();
    match role {
        "system" | "developer" => {
            let content = text_only_content(index, role, &message.parts)?;
            out.push(with_name(
                json!({"role": role, "content": content}),
                message,
            ));
        }
        "assistant" => out.push(with_name(write_assistant(index, message, params)?, message)),
        "user" | "tool" => write_user_or_tool(index, message, out)?,
        _ => {
            return Err(TranslateError::UnsupportedRole {
                index,
                role: role.to_owned(),
                target: TARGET,
            });
        }
    }
    Ok(())
}

fn with_name(mut message: Json, source: &Message) -> Json {
    if let (Some(object), Some(name)) = (message.as_object_mut(), &source.name) {
        object.insert("name".into(), name.clone().into());
    }
    message
}

/// System and developer messages take text only.
fn text_only_content(index: usize, role: &str, parts: &[Part]) -> Result<Json, TranslateError> {
    let mut texts = Vec::new();
    for part in parts {
        match part {
            Part::Text { content } => texts.push(content.as_str()),
            other => {
                return Err(TranslateError::UnsupportedPart {
                    index,
                    role: role.to_owned(),
                    part_type: other.type_name().to_owned(),
                    target: TARGET,
                    reason: "system and developer messages take text only".to_owned(),
                });
            }
        }
    }
    match texts.as_slice() {
        [] => Err(TranslateError::EmptyMessage {
            index,
            role: role.to_owned(),
        }),
        [one] => Ok(Json::String((*one).to_owned())),
        many => Ok(Json::Array(
            many.iter()
                .map(|text| json!({"type": "text", "text": text}))
                .collect(),
        )),
    }
}

fn write_assistant(
    index: usize,
    message: &Message,
    params: &TargetParams,
) -> Result<Json, TranslateError> {
    let mut texts = Vec::new();
    let mut refusal = None;
    let mut tool_calls = Vec::new();
    for part in &message.parts {
        match part {
            Part::Text { content } => texts.push(content.as_str()),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => {
                let Some(id) = id else {
                    return Err(TranslateError::MissingToolCallId {
                        index,
                        role: message.role.clone(),
                        target: TARGET,
                    });
                };
                tool_calls.push(json!({
                    "id": id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments_to_string(arguments)},
                }));
            }
            _ if translate::is_reasoning(part) => params.drop_or_fail(
                "reasoning",
                TARGET,
                &format!(
                    "message {index} carries reasoning, and Chat Completions takes no reasoning in history"
                ),
            )?,
            Part::Other(map) if part.type_name() == "refusal" => {
                refusal = map.get("content").cloned();
            }
            other => {
                return Err(TranslateError::UnsupportedPart {
                    index,
                    role: message.role.clone(),
                    part_type: other.type_name().to_owned(),
                    target: TARGET,
                    reason: "assistant messages take text, refusals and tool calls".to_owned(),
                });
            }
        }
    }
    if texts.is_empty() && tool_calls.is_empty() && refusal.is_none() {
        return Err(TranslateError::EmptyMessage {
            index,
            role: message.role.clone(),
        });
    }
    let content = match texts.as_slice() {
        [] => Json::Null,
        [one] => Json::String((*one).to_owned()),
        many => Json::Array(
            many.iter()
                .map(|text| json!({"type": "text", "text": text}))
                .collect(),
        ),
    };
    let mut out = Map::new();
    out.insert("role".into(), "assistant".into());
    out.insert("content".into(), content);
    if let Some(refusal) = refusal {
        out.insert("refusal".into(), refusal);
    }
    if !tool_calls.is_empty() {
        out.insert("tool_calls".into(), Json::Array(tool_calls));
    }
    Ok(Json::Object(out))
}

/// Tool results become one `tool` message each, placed first because they
/// must follow the assistant turn that asked for them; the rest of a user
/// message follows as one `user` message.
fn write_user_or_tool(
    index: usize,
    message: &Message,
    out: &mut Vec<Json>,
) -> Result<(), TranslateError> {
    let mut content = Vec::new();
    for part in &message.parts {
        match part {
            Part::ToolCallResponse { id, response } => {
                let Some(id) = id else {
                    return Err(TranslateError::MissingToolCallId {
                        index,
                        role: message.role.clone(),
                        target: TARGET,
                    });
                };
                let text = tool_result_text(index, &message.role, response)?;
                out.push(json!({"role": "tool", "tool_call_id": id, "content": text}));
            }
            other if message.role == "tool" => {
                return Err(TranslateError::UnsupportedPart {
                    index,
                    role: message.role.clone(),
                    part_type: other.type_name().to_owned(),
                    target: TARGET,
                    reason: "a tool message must carry tool_call_response parts with ids"
                        .to_owned(),
                });
            }
            other => content.push(write_user_part(index, &message.role, other)?),
        }
    }
    if content.is_empty() {
        if message.parts.is_empty() {
            return Err(TranslateError::EmptyMessage {
                index,
                role: message.role.clone(),
            });
        }
        return Ok(());
    }
    let content = match content.as_slice() {
        [single] if single.get("type").and_then(Json::as_str) == Some("text") => {
            single.get("text").cloned().unwrap_or(Json::Null)
        }
        _ => Json::Array(content),
    };
    out.push(with_name(
        json!({"role": "user", "content": content}),
        message,
    ));
    Ok(())
}

/// Tool message content is text: strings go as they are, JSON values are
/// written as JSON text; media in a tool result cannot be carried.
fn tool_result_text(index: usize, role: &str, response: &Json) -> Result<Json, TranslateError> {
    match flatten_tool_result(response) {
        Json::String(text) => Ok(Json::String(text)),
        Json::Array(_) => Err(TranslateError::UnsupportedPart {
            index,
            role: role.to_owned(),
            part_type: "tool_call_response".to_owned(),
            target: TARGET,
            reason: "the tool result holds non-text blocks (e.g. images), and tool messages take text only"
                .to_owned(),
        }),
        other => Ok(Json::String(other.to_string())),
    }
}

fn write_user_part(index: usize, role: &str, part: &Part) -> Result<Json, TranslateError> {
    let unsupported = |reason: &str| TranslateError::UnsupportedPart {
        index,
        role: role.to_owned(),
        part_type: part.type_name().to_owned(),
        target: TARGET,
        reason: reason.to_owned(),
    };
    let map = match part {
        Part::Text { content } => return Ok(json!({"type": "text", "text": content})),
        Part::Other(map) => map,
        _ => return Err(unsupported("user messages take text, images and audio")),
    };
    let field = |key: &str| map.get(key).and_then(Json::as_str);
    let modality = field("modality");
    let image_url = match (part.type_name(), modality) {
        ("blob", Some("image")) => match (field("mime_type"), field("content")) {
            (Some(mime_type), Some(content)) => Some(data_url(mime_type, content)),
            _ => return Err(unsupported("the image has no mime_type or content")),
        },
        ("uri", Some("image")) => match field("uri") {
            Some(uri) => Some(uri.to_owned()),
            None => return Err(unsupported("the image has no uri")),
        },
        _ => None,
    };
    if let Some(url) = image_url {
        let mut image = Map::new();
        image.insert("url".into(), url.into());
        if let Some(detail) = map.get("detail") {
            image.insert("detail".into(), detail.clone());
        }
        return Ok(json!({"type": "image_url", "image_url": image}));
    }
    if part.type_name() == "blob" && modality == Some("audio") {
        let format = match field("mime_type") {
            Some("audio/wav" | "audio/x-wav") => "wav",
            Some("audio/mpeg" | "audio/mp3") => "mp3",
            _ => return Err(unsupported("input audio must be WAV or MP3")),
        };
        let Some(data) = field("content") else {
            return Err(unsupported("the audio has no content"));
        };
        return Ok(json!({"type": "input_audio", "input_audio": {"data": data, "format": format}}));
    }
    Err(unsupported(
        "only text, images (inline or by URL) and WAV/MP3 audio can be sent; files uploaded to one provider are not visible to another",
    ))
}

fn write_tool(index: usize, definition: &Json) -> Result<Json, TranslateError> {
    let tool_type = definition
        .get("type")
        .and_then(Json::as_str)
        .unwrap_or("function");
    let name = definition.get("name").and_then(Json::as_str);
    let (true, Some(name)) = (tool_type == "function", name) else {
        return Err(TranslateError::UnsupportedTool {
            index,
            tool_type: tool_type.to_owned(),
            target: TARGET,
        });
    };
    let mut function = Map::new();
    function.insert("name".into(), name.into());
    for key in ["description", "parameters", "strict"] {
        if let Some(value) = definition.get(key) {
            function.insert(key.into(), value.clone());
        }
    }
    Ok(json!({"type": "function", "function": function}))
}

fn write_params(
    recorded: &RequestParams,
    params: &TargetParams,
    body: &mut Map<String, Json>,
) -> Result<(), TranslateError> {
    let mut put = |key: &str, value: Option<Json>| {
        if let Some(value) = value
            && !params.is_overridden(key)
        {
            body.insert(key.to_owned(), value);
        }
    };
    if let Some(choice) = &recorded.tool_choice {
        put("tool_choice", Some(write_tool_choice(choice)));
    }
    put("temperature", recorded.temperature.map(Json::from));
    put("top_p", recorded.top_p.map(Json::from));
    put("max_tokens", recorded.max_tokens.map(Json::from));
    put(
        "stop",
        recorded
            .stop_sequences
            .as_ref()
            .map(|stops| Json::from(stops.clone())),
    );
    put("seed", recorded.seed.map(Json::from));
    put(
        "frequency_penalty",
        recorded.frequency_penalty.map(Json::from),
    );
    put(
        "presence_penalty",
        recorded.presence_penalty.map(Json::from),
    );
    put("n", recorded.choice_count.map(Json::from));
    put("response_format", recorded.response_format.clone());
    if recorded.top_k.is_some() {
        params.cannot_express(
            "top_k",
            TARGET,
            "the OpenAI API has no top_k (servers that take it, such as vLLM or llama.cpp, can get it through overrides)",
        )?;
    }
    for (key, value) in &recorded.extra {
        if PASS_THROUGH_PARAMS.contains(&key.as_str()) {
            if !params.is_overridden(key) {
                body.insert(key.clone(), value.clone());
            }
        } else {
            params.cannot_express(key, TARGET, "it is not a Chat Completions parameter")?;
        }
    }
    Ok(())
}

/// A recorded tool choice, in whichever source's shape, in Chat
/// Completions' shape; one that is no [`ToolChoice`] (`allowed_tools`) is
/// OpenAI's own and sent as recorded.
fn write_tool_choice(choice: &Json) -> Json {
    match ToolChoice::from_json(choice) {
        Some(choice) => choice.to_openai_chat(),
        None => choice.clone(),
    }
}
