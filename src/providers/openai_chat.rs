//! OpenAI Chat Completions, both ways.
//!
//! In: [`parse_request`] reads a `/chat/completions` request body (messages
//! with string or part-list content, `tools` and the legacy `functions`,
//! every sampling parameter), [`parse_response`] a `chat.completion` body or
//! an error body, and [`ChatStream`] the `chat.completion.chunk` events of a
//! stream, reassembling text, reasoning and tool-call fragments by index.
//! A stream is rebuilt into the body a non-streamed call would have returned
//! and parsed by the same code, so both paths give the same canonical call.
//!
//! Out: [`to_openai_chat`] writes a canonical call as a request body for any
//! Chat Completions server (OpenAI, llama.cpp, Ollama, vLLM, LiteLLM). What
//! the format cannot carry fails with a [`TranslateError`] that names it;
//! nothing is dropped unless the target's `allow_drop` names it.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use super::common::{
    arguments_to_string, as_object, blob_part, content_part, data_url, error_from_body, file_part,
    flatten_tool_result, image_from_url, optional_array, otel_finish_reason, other_part,
    parse_arguments, parse_data_url, required_array, string_field, token_count, type_name,
};
use super::translate::{self, TargetParams, TranslateError};
use super::{ParsedRequest, ParsedResponse, WireError};
use crate::model::{
    Call, CallError, Message, Part, RequestParams, ToolChoice, Usage, canonical_tool_choice,
};

const REQUEST: &str = "an OpenAI chat request";
const MESSAGE: &str = "an OpenAI chat message";
const RESPONSE: &str = "an OpenAI chat response";
const TARGET: &str = "OpenAI Chat Completions";

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

// ---------------------------------------------------------------------------
// In: request

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
                    blob_part("audio", Some(audio_mime_type(format)), data.to_owned())
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
        return file_part("document", None, file_id);
    }
    let inline = file
        .get("file_data")
        .and_then(Json::as_str)
        .and_then(parse_data_url);
    match inline {
        Some((mime_type, content)) => {
            let mut part = blob_part("document", Some(mime_type), content);
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
fn parse_assistant_parts(object: &Map<String, Json>) -> Result<Vec<Part>, WireError> {
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
    let mut params = RequestParams::default();
    for (key, value) in object {
        if STRUCTURAL_KEYS.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        match key.as_str() {
            "temperature" => params.temperature = value.as_f64(),
            "top_p" => params.top_p = value.as_f64(),
            "top_k" => params.top_k = value.as_f64(),
            "max_tokens" => {
                // `max_completion_tokens` wins when both are sent.
                if params.max_tokens.is_none() {
                    params.max_tokens = value.as_i64();
                }
            }
            "max_completion_tokens" => params.max_tokens = value.as_i64(),
            "stop" => params.stop_sequences = stop_sequences(value),
            "seed" => params.seed = value.as_i64(),
            "frequency_penalty" => params.frequency_penalty = value.as_f64(),
            "presence_penalty" => params.presence_penalty = value.as_f64(),
            "n" => params.choice_count = value.as_i64(),
            "response_format" => params.response_format = Some(value.clone()),
            _ => {
                params.extra.insert(key.clone(), value.clone());
            }
        }
    }
    params.tool_choice = match (object.get("tool_choice"), object.get("function_call")) {
        (Some(choice), _) if !choice.is_null() => Some(canonical_tool_choice(choice)),
        (_, Some(choice)) if !choice.is_null() => Some(canonical_tool_choice(choice)),
        _ => None,
    };
    params
}

/// `stop` is a string or a list of strings.
fn stop_sequences(value: &Json) -> Option<Vec<String>> {
    match value {
        Json::String(stop) => Some(vec![stop.clone()]),
        Json::Array(items) => Some(
            items
                .iter()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// In: response

/// Reads a `chat.completion` body, or an error body.
pub fn parse_response(body: &Json) -> Result<ParsedResponse, WireError> {
    let object = as_object(body, RESPONSE)?;
    if !object.contains_key("choices")
        && let Some(error) = error_from_body(body)
    {
        return Ok(ParsedResponse {
            error: Some(error),
            complete: true,
            ..ParsedResponse::default()
        });
    }
    let mut choices: Vec<&Json> = required_array(object, "choices", RESPONSE)?
        .iter()
        .collect();
    choices.sort_by_key(|choice| choice.get("index").and_then(Json::as_u64).unwrap_or(0));
    let mut parsed = ParsedResponse {
        response_id: string_field(object, "id"),
        response_model: string_field(object, "model"),
        usage: parse_usage(object.get("usage")),
        complete: true,
        ..ParsedResponse::default()
    };
    for choice in choices {
        let message = match choice.get("message") {
            Some(message) => as_object(message, MESSAGE)?,
            None => &Map::new(),
        };
        let role = string_field(message, "role").unwrap_or_else(|| "assistant".to_owned());
        let mut output = Message::new(role, parse_assistant_parts(message)?);
        if let Some(reason) = choice.get("finish_reason").and_then(Json::as_str) {
            output.finish_reason = Some(otel_finish_reason(reason));
            parsed.finish_reasons.push(reason.to_owned());
        }
        parsed.output_messages.push(output);
    }
    Ok(parsed)
}

fn parse_usage(usage: Option<&Json>) -> Usage {
    Usage {
        input_tokens: token_count(usage, "prompt_tokens"),
        output_tokens: token_count(usage, "completion_tokens"),
        cached_input_tokens: token_count(
            usage.and_then(|u| u.get("prompt_tokens_details")),
            "cached_tokens",
        ),
        reasoning_tokens: token_count(
            usage.and_then(|u| u.get("completion_tokens_details")),
            "reasoning_tokens",
        ),
    }
}

// ---------------------------------------------------------------------------
// In: stream

/// Reads the recorded chunks of a stream, in order.
pub fn parse_stream(events: &[Json]) -> Result<ParsedResponse, WireError> {
    if events.is_empty() {
        return Err(WireError::EmptyStream);
    }
    let mut stream = ChatStream::default();
    for event in events {
        stream.push(event);
    }
    stream.finish()
}

/// Reassembles a stream of `chat.completion.chunk` events. Fragments are
/// keyed by choice index and tool-call index, as the deltas say, so
/// interleaved choices and parallel tool calls come apart correctly.
#[derive(Debug, Default)]
pub struct ChatStream {
    id: Option<String>,
    model: Option<String>,
    choices: BTreeMap<u64, ChoiceFragments>,
    usage: Option<Json>,
    error: Option<CallError>,
    done: bool,
}

#[derive(Debug, Default)]
struct ChoiceFragments {
    role: Option<String>,
    content: Option<String>,
    reasoning: Option<String>,
    refusal: Option<String>,
    tool_calls: BTreeMap<u64, ToolCallFragments>,
    function_call: Option<ToolCallFragments>,
    finish_reason: Option<String>,
}

#[derive(Debug, Default)]
struct ToolCallFragments {
    id: Option<String>,
    name: String,
    arguments: String,
}

impl ChatStream {
    /// Feeds one event's data (a chunk, or the string `"[DONE]"`). Returns
    /// true when the chunk carried model output (text, reasoning, refusal or
    /// a tool-call fragment): the moment time to first token measures.
    pub fn push(&mut self, data: &Json) -> bool {
        if data.as_str() == Some("[DONE]") {
            self.done = true;
            return false;
        }
        let Some(chunk) = data.as_object() else {
            return false;
        };
        if !chunk.contains_key("choices")
            && let Some(error) = error_from_body(data)
        {
            self.error = Some(error);
            return false;
        }
        if self.id.is_none() {
            self.id = string_field(chunk, "id");
        }
        if self.model.is_none() {
            self.model = string_field(chunk, "model");
        }
        if let Some(usage) = chunk.get("usage")
            && !usage.is_null()
        {
            self.usage = Some(usage.clone());
        }
        let mut carried_output = false;
        let choices = chunk.get("choices").and_then(Json::as_array);
        for (position, choice) in choices.into_iter().flatten().enumerate() {
            let index = choice
                .get("index")
                .and_then(Json::as_u64)
                .unwrap_or(position as u64);
            let fragments = self.choices.entry(index).or_default();
            if let Some(delta) = choice.get("delta").and_then(Json::as_object) {
                carried_output |= fragments.push_delta(delta);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Json::as_str) {
                fragments.finish_reason = Some(reason.to_owned());
            }
        }
        carried_output
    }

    /// The error the stream reported, if any.
    pub fn error(&self) -> Option<&CallError> {
        self.error.as_ref()
    }

    /// True once `[DONE]` arrived, or every choice has its finish reason.
    pub fn is_complete(&self) -> bool {
        if self.done {
            return true;
        }
        !self.choices.is_empty()
            && self
                .choices
                .values()
                .all(|choice| choice.finish_reason.is_some())
    }

    /// The `chat.completion` body the same call would have returned without
    /// streaming.
    pub fn to_body(&self) -> Json {
        let mut choices = Vec::new();
        for (index, fragments) in &self.choices {
            choices.push(json!({
                "index": index,
                "message": fragments.to_message(),
                "finish_reason": fragments.finish_reason,
            }));
        }
        let mut body = Map::new();
        body.insert("id".into(), self.id.clone().into());
        body.insert("object".into(), "chat.completion".into());
        body.insert("model".into(), self.model.clone().into());
        body.insert("choices".into(), Json::Array(choices));
        if let Some(usage) = &self.usage {
            body.insert("usage".into(), usage.clone());
        }
        Json::Object(body)
    }

    /// The canonical response; an error chunk or a missing end makes it an
    /// error (see [`ParsedResponse::apply_to`]).
    pub fn finish(&self) -> Result<ParsedResponse, WireError> {
        let mut parsed = parse_response(&self.to_body())?;
        parsed.error = self.error.clone();
        parsed.complete = self.is_complete();
        Ok(parsed)
    }
}

impl ChoiceFragments {
    fn push_delta(&mut self, delta: &Map<String, Json>) -> bool {
        let mut carried_output = false;
        if let Some(role) = delta.get("role").and_then(Json::as_str) {
            self.role = Some(role.to_owned());
        }
        carried_output |= append(&mut self.content, delta.get("content"));
        carried_output |= append(&mut self.reasoning, delta.get("reasoning_content"));
        carried_output |= append(&mut self.reasoning, delta.get("reasoning"));
        carried_output |= append(&mut self.refusal, delta.get("refusal"));
        let tool_calls = delta.get("tool_calls").and_then(Json::as_array);
        for (position, tool_call) in tool_calls.into_iter().flatten().enumerate() {
            let index = tool_call
                .get("index")
                .and_then(Json::as_u64)
                .unwrap_or(position as u64);
            let fragments = self.tool_calls.entry(index).or_default();
            fragments.push(tool_call.get("id"), tool_call.get("function"));
            carried_output = true;
        }
        if let Some(function_call) = delta.get("function_call")
            && function_call.is_object()
        {
            let fragments = self.function_call.get_or_insert_with(Default::default);
            fragments.push(None, Some(function_call));
            carried_output = true;
        }
        carried_output
    }

    fn to_message(&self) -> Json {
        let mut message = Map::new();
        let role = self.role.clone().unwrap_or_else(|| "assistant".to_owned());
        message.insert("role".into(), role.into());
        message.insert("content".into(), self.content.clone().into());
        if let Some(reasoning) = &self.reasoning {
            message.insert("reasoning_content".into(), reasoning.clone().into());
        }
        if let Some(refusal) = &self.refusal {
            message.insert("refusal".into(), refusal.clone().into());
        }
        if !self.tool_calls.is_empty() {
            let mut tool_calls = Vec::new();
            for fragments in self.tool_calls.values() {
                tool_calls.push(json!({
                    "id": fragments.id,
                    "type": "function",
                    "function": {"name": fragments.name, "arguments": fragments.arguments},
                }));
            }
            message.insert("tool_calls".into(), Json::Array(tool_calls));
        }
        if let Some(fragments) = &self.function_call {
            message.insert(
                "function_call".into(),
                json!({"name": fragments.name, "arguments": fragments.arguments}),
            );
        }
        Json::Object(message)
    }
}

impl ToolCallFragments {
    fn push(&mut self, id: Option<&Json>, function: Option<&Json>) {
        if let Some(id) = id.and_then(Json::as_str)
            && !id.is_empty()
        {
            self.id = Some(id.to_owned());
        }
        // The name comes whole in the first fragment; some servers repeat it
        // in every fragment, so it is set once, never appended.
        if let Some(name) = function.and_then(|f| f.get("name")).and_then(Json::as_str)
            && self.name.is_empty()
        {
            self.name = name.to_owned();
        }
        if let Some(arguments) = function
            .and_then(|f| f.get("arguments"))
            .and_then(Json::as_str)
        {
            self.arguments.push_str(arguments);
        }
    }
}

/// Appends a string delta; true when it added text.
fn append(target: &mut Option<String>, delta: Option<&Json>) -> bool {
    match delta.and_then(Json::as_str) {
        Some(text) if !text.is_empty() => {
            target.get_or_insert_with(String::new).push_str(text);
            true
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Out: canonical call to a request body

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
