//! Chat Completions streams in: `chat.completion.chunk` events rebuilt into
//! the `chat.completion` body a non-streamed call would have returned, then
//! read by [`parse_response`], so both paths give the same canonical call.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use super::response::parse_response;
use crate::model::CallError;
use crate::providers::wire::common::{error_from_body, string_field};
use crate::providers::wire::{ParsedResponse, StreamAssembler, WireError};

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

impl StreamAssembler for ChatStream {
    /// `data` is a chunk, or the string `"[DONE]"`; a refusal counts as
    /// output too.
    fn push(&mut self, data: &Json) -> bool {
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

    fn error(&self) -> Option<&CallError> {
        self.error.as_ref()
    }

    /// True once `[DONE]` arrived, or every choice has its finish reason.
    fn is_complete(&self) -> bool {
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
    fn to_body(&self) -> Json {
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

    fn parse_body(body: &Json) -> Result<ParsedResponse, WireError> {
        parse_response(body)
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
