//! The Anthropic Messages endpoint (JSON and SSE), in the shapes of the
//! public API reference.
//!
//! A streamed message is: `message_start` (usage with the input tokens),
//! per content block `content_block_start`, `content_block_delta`s
//! (`text_delta` or `input_json_delta`) and `content_block_stop`, with a
//! `ping` after the first block starts, then `message_delta` (stop reason
//! and output tokens) and `message_stop`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use serde_json::{Value as Json, json};

use super::answer::{Content, Finish, TokenUsage};
use super::exchange::{self, Reply};
use super::seed::stable_id;
use super::server::RequestContext;
use super::state::Shared;
use super::stream::{SseEvent, split_chars, split_words};
use super::wire::Api;

/// Characters per streamed `partial_json` fragment.
const ARGUMENT_FRAGMENT_CHARS: usize = 8;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/v1/messages", post(messages))
}

async fn messages(
    State(shared): State<Arc<Shared>>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    exchange::answer_chat(&shared, &context, Api::Anthropic, &headers, &body).await
}

fn stop_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCall => "tool_use",
    }
}

fn tool_use_id(reply: &Reply) -> String {
    stable_id("toolu_01", reply.seed ^ 2, 22)
}

fn usage_json(usage: &TokenUsage) -> Json {
    json!({
        "input_tokens": usage.uncached_input_tokens(),
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
    })
}

/// The content blocks of a reply; an empty answer has none.
fn content_blocks(reply: &Reply) -> Vec<Json> {
    match &reply.answer.content {
        Content::Text(text) if text.is_empty() => Vec::new(),
        Content::Text(text) => vec![json!({"type": "text", "text": text})],
        Content::ToolCall(call) => {
            // The arguments are JSON text produced by serde_json; parsing
            // them back cannot fail, but an object is the safe fallback.
            let input: Json = serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
            vec![
                json!({"type": "tool_use", "id": tool_use_id(reply), "name": call.name, "input": input}),
            ]
        }
    }
}

/// A non-streamed `message`.
pub(crate) fn message_json(reply: &Reply) -> Json {
    json!({
        "id": reply.id,
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": content_blocks(reply),
        "stop_reason": stop_reason(reply.answer.finish),
        "stop_sequence": null,
        "usage": usage_json(&reply.answer.usage),
    })
}

/// The events of a streamed message.
pub(crate) fn message_events(reply: &Reply, chunk_words: usize) -> Vec<SseEvent> {
    let usage = &reply.answer.usage;
    let mut start_usage = usage_json(usage);
    // message_start reports the output tokens so far, which is one.
    start_usage["output_tokens"] = json!(1);
    let start = json!({
        "type": "message_start",
        "message": {
            "id": reply.id,
            "type": "message",
            "role": "assistant",
            "model": reply.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": start_usage,
        },
    });
    let mut events = vec![SseEvent::named("message_start", start.to_string())];
    let ping = || SseEvent::named("ping", json!({"type": "ping"}).to_string());

    match &reply.answer.content {
        Content::Text(text) if text.is_empty() => events.push(ping()),
        Content::Text(text) => {
            events.push(block_start(json!({"type": "text", "text": ""})));
            events.push(ping());
            for piece in split_words(text, chunk_words) {
                events.push(block_delta(json!({"type": "text_delta", "text": piece})));
            }
            events.push(block_stop());
        }
        Content::ToolCall(call) => {
            let block = json!({"type": "tool_use", "id": tool_use_id(reply), "name": call.name, "input": {}});
            events.push(block_start(block));
            events.push(ping());
            for fragment in split_chars(&call.arguments, ARGUMENT_FRAGMENT_CHARS) {
                events.push(block_delta(
                    json!({"type": "input_json_delta", "partial_json": fragment}),
                ));
            }
            events.push(block_stop());
        }
    }

    let delta = json!({
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason(reply.answer.finish), "stop_sequence": null},
        "usage": {"output_tokens": usage.output_tokens},
    });
    events.push(SseEvent::named("message_delta", delta.to_string()));
    events.push(SseEvent::named(
        "message_stop",
        json!({"type": "message_stop"}).to_string(),
    ));
    events
}

fn block_start(block: Json) -> SseEvent {
    let data = json!({"type": "content_block_start", "index": 0, "content_block": block});
    SseEvent::named("content_block_start", data.to_string())
}

fn block_delta(delta: Json) -> SseEvent {
    let data = json!({"type": "content_block_delta", "index": 0, "delta": delta});
    SseEvent::named("content_block_delta", data.to_string()).content()
}

fn block_stop() -> SseEvent {
    SseEvent::named(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}).to_string(),
    )
}

/// `GET /v1/models` in Anthropic's shape.
pub(crate) fn models_json(names: &[String]) -> Json {
    let mut data = Vec::with_capacity(names.len());
    for name in names {
        data.push(json!({
            "type": "model",
            "id": name,
            "display_name": name,
            "created_at": "2025-01-01T00:00:00Z",
        }));
    }
    json!({
        "data": data,
        "has_more": false,
        "first_id": names.first(),
        "last_id": names.last(),
    })
}
