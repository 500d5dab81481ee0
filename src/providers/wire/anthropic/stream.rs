//! Messages streams in: the events from `message_start` to `message_stop`
//! rebuilt into the `message` body a non-streamed call would have returned,
//! then read by [`parse_response`].

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::response::parse_response;
use crate::model::CallError;
use crate::providers::wire::common::{error_from_body, parse_arguments};
use crate::providers::wire::{ParsedResponse, StreamAssembler, WireError};

/// Reassembles a Messages stream. Usage comes in two halves: input counts
/// in `message_start`, the final (cumulative) output count in
/// `message_delta`, which wins for every key it carries.
#[derive(Debug, Default)]
pub struct AnthropicStream {
    message: Map<String, Json>,
    blocks: BTreeMap<u64, BlockFragments>,
    usage: Map<String, Json>,
    error: Option<CallError>,
    stopped: bool,
}

#[derive(Debug, Default)]
struct BlockFragments {
    block: Map<String, Json>,
    partial_json: String,
}

impl StreamAssembler for AnthropicStream {
    /// A tool call counts as output from its start event on.
    fn push(&mut self, event: &Json) -> bool {
        let Some(object) = event.as_object() else {
            return false;
        };
        let index = object.get("index").and_then(Json::as_u64).unwrap_or(0);
        match object.get("type").and_then(Json::as_str) {
            Some("message_start") => {
                if let Some(message) = object.get("message").and_then(Json::as_object) {
                    self.message = message.clone();
                    if let Some(usage) = message.get("usage").and_then(Json::as_object) {
                        self.usage = usage.clone();
                    }
                }
                false
            }
            Some("content_block_start") => {
                let block = object
                    .get("content_block")
                    .and_then(Json::as_object)
                    .cloned()
                    .unwrap_or_default();
                let block_type = block.get("type").and_then(Json::as_str).unwrap_or("");
                let starts_call = matches!(block_type, "tool_use" | "server_tool_use");
                let has_text = ["text", "thinking"].iter().any(|key| {
                    block
                        .get(*key)
                        .and_then(Json::as_str)
                        .is_some_and(|text| !text.is_empty())
                });
                self.blocks.insert(
                    index,
                    BlockFragments {
                        block,
                        partial_json: String::new(),
                    },
                );
                starts_call || has_text
            }
            Some("content_block_delta") => match object.get("delta") {
                Some(delta) => self.blocks.entry(index).or_default().push_delta(delta),
                None => false,
            },
            Some("message_delta") => {
                if let Some(delta) = object.get("delta").and_then(Json::as_object) {
                    for (key, value) in delta {
                        self.message.insert(key.clone(), value.clone());
                    }
                }
                if let Some(usage) = object.get("usage").and_then(Json::as_object) {
                    for (key, value) in usage {
                        if !value.is_null() {
                            self.usage.insert(key.clone(), value.clone());
                        }
                    }
                }
                false
            }
            Some("message_stop") => {
                self.stopped = true;
                false
            }
            Some("error") => {
                self.error = error_from_body(event);
                false
            }
            _ => false,
        }
    }

    fn error(&self) -> Option<&CallError> {
        self.error.as_ref()
    }

    /// True once `message_stop` arrived.
    fn is_complete(&self) -> bool {
        self.stopped
    }

    /// The `message` body the same call would have returned without
    /// streaming.
    fn to_body(&self) -> Json {
        let mut message = self.message.clone();
        message
            .entry("type")
            .or_insert_with(|| Json::from("message"));
        message
            .entry("role")
            .or_insert_with(|| Json::from("assistant"));
        let mut content = Vec::new();
        for fragments in self.blocks.values() {
            content.push(fragments.to_block());
        }
        message.insert("content".into(), Json::Array(content));
        message.insert("usage".into(), Json::Object(self.usage.clone()));
        Json::Object(message)
    }

    fn parse_body(body: &Json) -> Result<ParsedResponse, WireError> {
        parse_response(body)
    }
}

impl BlockFragments {
    fn push_delta(&mut self, delta: &Json) -> bool {
        let text = |key: &str| delta.get(key).and_then(Json::as_str).unwrap_or("");
        match delta.get("type").and_then(Json::as_str) {
            Some("text_delta") => self.append("text", text("text")),
            Some("thinking_delta") => self.append("thinking", text("thinking")),
            Some("input_json_delta") => {
                self.partial_json.push_str(text("partial_json"));
                !text("partial_json").is_empty()
            }
            Some("signature_delta") => {
                self.block
                    .insert("signature".into(), text("signature").into());
                false
            }
            Some("citations_delta") => {
                let citation = delta.get("citation").cloned().unwrap_or(Json::Null);
                let citations = self
                    .block
                    .entry("citations")
                    .or_insert_with(|| Json::Array(Vec::new()));
                if let Json::Array(list) = citations {
                    list.push(citation);
                }
                false
            }
            _ => false,
        }
    }

    fn append(&mut self, key: &str, text: &str) -> bool {
        let current = self
            .block
            .get(key)
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_owned();
        self.block.insert(key.into(), (current + text).into());
        !text.is_empty()
    }

    fn to_block(&self) -> Json {
        let mut block = self.block.clone();
        // Tool input arrives as JSON text in pieces; an input that never got
        // a piece keeps the `{}` of its start event.
        if !self.partial_json.is_empty() {
            block.insert("input".into(), parse_arguments(&self.partial_json));
        }
        Json::Object(block)
    }
}
