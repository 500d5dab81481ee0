//! Responses streams in. The final `response.completed` /
//! `response.incomplete` / `response.failed` event carries the whole
//! response, so that is read when it came; a stream cut before it is
//! rebuilt from the items and deltas that did arrive.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use super::response::parse_response;
use crate::model::CallError;
use crate::providers::wire::common::string_field;
use crate::providers::wire::{ParsedResponse, StreamAssembler, WireError};

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

impl StreamAssembler for ResponsesStream {
    fn push(&mut self, event: &Json) -> bool {
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

    fn error(&self) -> Option<&CallError> {
        self.error.as_ref()
    }

    /// True once the final response event arrived.
    fn is_complete(&self) -> bool {
        self.finished
    }

    /// The `response` object: the final event's when it came, else rebuilt
    /// from the items and deltas that arrived.
    fn to_body(&self) -> Json {
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

    fn parse_body(body: &Json) -> Result<ParsedResponse, WireError> {
        parse_response(body)
    }
}

impl ResponsesStream {
    fn take_response(&mut self, event: &Map<String, Json>) {
        if let Some(response) = event.get("response").and_then(Json::as_object) {
            self.response = response.clone();
        }
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
}
