//! The OpenAI endpoints: Chat Completions (JSON and SSE), embeddings and
//! the model list, in the shapes of the public API reference.
//!
//! A streamed completion is: a first chunk with `delta.role`, content
//! deltas (or, for a tool call, one chunk naming the call and then argument
//! fragments), a chunk with `finish_reason`, a usage chunk with
//! `choices: []` when `stream_options.include_usage` is set, and
//! `data: [DONE]`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine as _;
use serde_json::{Map, Value as Json, json};

use super::answer::{Content, Finish, TokenUsage};
use super::anthropic;
use super::embedding;
use super::exchange::{self, Reply};
use super::prompt::count_words;
use super::seed::{stable_hash, stable_id};
use super::server::RequestContext;
use super::state::Shared;
use super::stream::{SseEvent, split_chars, split_words};
use super::wire::{Api, ApiError};

/// Sent as `system_fingerprint`, which clients record as-is.
const SYSTEM_FINGERPRINT: &str = "fp_reprisefake";

/// Characters per streamed tool-argument fragment.
const ARGUMENT_FRAGMENT_CHARS: usize = 8;

/// Largest `dimensions` an embeddings request may ask for.
const MAX_EMBEDDING_DIMENSIONS: u64 = 8192;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
}

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    exchange::answer_chat(&shared, &context, Api::OpenAi, &headers, &body).await
}

fn finish_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCall => "tool_calls",
    }
}

fn tool_call_id(reply: &Reply) -> String {
    stable_id("call_", reply.seed ^ 2, 24)
}

fn usage_json(usage: &TokenUsage) -> Json {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_input_tokens,
            "audio_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    })
}

/// A non-streamed `chat.completion`.
pub(crate) fn chat_json(reply: &Reply) -> Json {
    let message = match &reply.answer.content {
        Content::Text(text) => json!({
            "role": "assistant",
            "content": text,
            "refusal": null,
            "annotations": [],
        }),
        Content::ToolCall(call) => json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": tool_call_id(reply),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }],
            "refusal": null,
            "annotations": [],
        }),
    };
    json!({
        "id": reply.id,
        "object": "chat.completion",
        "created": reply.created_unix_s,
        "model": reply.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(reply.answer.finish),
        }],
        "usage": usage_json(&reply.answer.usage),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    })
}

/// The events of a streamed `chat.completion.chunk` sequence.
pub(crate) fn chat_events(reply: &Reply, include_usage: bool, chunk_words: usize) -> Vec<SseEvent> {
    let chunk = |delta: Json, finish: Option<&str>| -> String {
        let mut object = Map::new();
        object.insert("id".to_string(), json!(reply.id));
        object.insert("object".to_string(), json!("chat.completion.chunk"));
        object.insert("created".to_string(), json!(reply.created_unix_s));
        object.insert("model".to_string(), json!(reply.model));
        object.insert("service_tier".to_string(), json!("default"));
        object.insert("system_fingerprint".to_string(), json!(SYSTEM_FINGERPRINT));
        object.insert(
            "choices".to_string(),
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]),
        );
        // With include_usage, the API puts `usage: null` on every chunk
        // but the last.
        if include_usage {
            object.insert("usage".to_string(), Json::Null);
        }
        Json::Object(object).to_string()
    };

    let mut events = Vec::new();
    match &reply.answer.content {
        Content::Text(text) => {
            events.push(SseEvent::data(chunk(
                json!({"role": "assistant", "content": "", "refusal": null}),
                None,
            )));
            for piece in split_words(text, chunk_words) {
                events.push(SseEvent::data(chunk(json!({"content": piece}), None)).content());
            }
        }
        Content::ToolCall(call) => {
            let opening = json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "index": 0,
                    "id": tool_call_id(reply),
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }],
                "refusal": null,
            });
            events.push(SseEvent::data(chunk(opening, None)));
            for fragment in split_chars(&call.arguments, ARGUMENT_FRAGMENT_CHARS) {
                let delta =
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]});
                events.push(SseEvent::data(chunk(delta, None)).content());
            }
        }
    }
    events.push(SseEvent::data(chunk(
        json!({}),
        Some(finish_reason(reply.answer.finish)),
    )));
    if include_usage {
        let usage_chunk = json!({
            "id": reply.id,
            "object": "chat.completion.chunk",
            "created": reply.created_unix_s,
            "model": reply.model,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [],
            "usage": usage_json(&reply.answer.usage),
        });
        events.push(SseEvent::data(usage_chunk.to_string()));
    }
    events.push(SseEvent::data("[DONE]".to_string()));
    events
}

/// `GET /v1/models`, in Anthropic's shape for Anthropic clients (they
/// always send `anthropic-version`).
async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let config = shared.config();
    let mut names: Vec<String> = config.models.keys().cloned().collect();
    if names.is_empty() {
        names.push("fake-model".to_string());
    }
    let body = if headers.contains_key("anthropic-version") {
        anthropic::models_json(&names)
    } else {
        let mut data = Vec::with_capacity(names.len());
        for name in &names {
            data.push(
                json!({"id": name, "object": "model", "created": 0, "owned_by": "reprise-fake"}),
            );
        }
        json!({"object": "list", "data": data})
    };
    axum::response::IntoResponse::into_response(axum::Json(body))
}

async fn embeddings(
    State(shared): State<Arc<Shared>>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let api = Api::OpenAi;
    let config = shared.config();
    if let Err(error) = exchange::check_api_key(&config, api, &headers) {
        return api.error_response(&error);
    }
    let request =
        match exchange::parse_body(api, &body).and_then(|parsed| EmbeddingRequest::read(&parsed)) {
            Ok(request) => request,
            Err(error) => return api.error_response(&error),
        };
    let behavior = config.behavior_for(&request.model);
    let joined = request.inputs.join("\n");
    let failure =
        match exchange::before_answer(&shared, &context, api, behavior, &request.model, &joined)
            .await
        {
            Ok(failure) => failure,
            Err(response) => return response,
        };
    let dimensions = request
        .dimensions
        .unwrap_or(behavior.embedding_dimensions)
        .max(1);
    let mut data = Vec::with_capacity(request.inputs.len());
    let mut prompt_tokens = 0;
    for (index, input) in request.inputs.iter().enumerate() {
        prompt_tokens += count_words(input);
        let vector = embedding::embed(input, dimensions);
        let encoded = if request.base64 {
            json!(base64::engine::general_purpose::STANDARD.encode(embedding::to_le_bytes(&vector)))
        } else {
            json!(vector)
        };
        data.push(json!({"object": "embedding", "index": index, "embedding": encoded}));
    }
    let model = behavior.response_model.clone().unwrap_or(request.model);
    let response_body = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    });
    let request_id = stable_id(
        "req_",
        stable_hash(&[&context.seq.to_le_bytes(), joined.as_bytes()]),
        24,
    );
    exchange::json_response(api, &context, &request_id, &response_body, failure)
}

/// An embeddings request, checked as the API checks it.
struct EmbeddingRequest {
    model: String,
    /// One text per vector; token-id inputs become `t<id>` words.
    inputs: Vec<String>,
    dimensions: Option<usize>,
    /// `encoding_format: "base64"` (what the official SDKs ask for).
    base64: bool,
}

impl EmbeddingRequest {
    fn read(body: &Json) -> Result<Self, ApiError> {
        let model = match body.get("model") {
            Some(Json::String(model)) => model.clone(),
            _ => return Err(ApiError::invalid("you must provide a model parameter")),
        };
        let inputs = match body.get("input") {
            Some(input) => embedding_inputs(input)?,
            None => {
                return Err(ApiError::invalid("Missing required parameter: 'input'.")
                    .with_param("input")
                    .with_code("missing_required_parameter"));
            }
        };
        let dimensions = match body.get("dimensions") {
            None | Some(Json::Null) => None,
            Some(value) => match value.as_u64() {
                Some(count @ 1..=MAX_EMBEDDING_DIMENSIONS) => Some(count as usize),
                _ => {
                    return Err(ApiError::invalid(format!(
                        "Invalid 'dimensions': expected an integer between 1 and {MAX_EMBEDDING_DIMENSIONS}."
                    ))
                    .with_param("dimensions"));
                }
            },
        };
        let base64 = match body.get("encoding_format").and_then(Json::as_str) {
            None | Some("float") => false,
            Some("base64") => true,
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "Invalid 'encoding_format': '{other}'. Expected 'float' or 'base64'."
                ))
                .with_param("encoding_format"));
            }
        };
        Ok(Self {
            model,
            inputs,
            dimensions,
            base64,
        })
    }
}

fn invalid_input() -> ApiError {
    ApiError::invalid("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
        .with_param("input")
}

/// `input` as texts: a string, an array of strings, an array of token ids,
/// or an array of token-id arrays. Empty texts are refused as the API does.
fn embedding_inputs(input: &Json) -> Result<Vec<String>, ApiError> {
    let mut texts = Vec::new();
    match input {
        Json::String(text) => texts.push(text.clone()),
        Json::Array(items) if items.iter().all(Json::is_u64) => texts.push(token_words(items)),
        Json::Array(items) => {
            for item in items {
                match item {
                    Json::String(text) => texts.push(text.clone()),
                    Json::Array(tokens) if tokens.iter().all(Json::is_u64) => {
                        texts.push(token_words(tokens))
                    }
                    _ => return Err(invalid_input()),
                }
            }
        }
        _ => return Err(invalid_input()),
    }
    if texts.is_empty() || texts.iter().any(String::is_empty) {
        return Err(invalid_input());
    }
    Ok(texts)
}

fn token_words(tokens: &[Json]) -> String {
    let mut words = Vec::with_capacity(tokens.len());
    for token in tokens {
        words.push(format!("t{token}"));
    }
    words.join(" ")
}
