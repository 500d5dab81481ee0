//! OTLP spans in the OpenInference convention (Arize / Phoenix), built from
//! the same simulated turns as the GenAI spans of [`spans`](crate::spans),
//! in the shapes the OpenInference OpenAI and Anthropic instrumentations
//! really write (tests/fixtures/otlp/openinference-*):
//!
//! - `LLM` spans (`ChatCompletion`, `messages.create`): the messages
//!   flattened into `llm.input_messages.N.message.*` and
//!   `llm.output_messages.N.message.*`, and the same conversation again in
//!   `input.value` as the provider request JSON, with the provider response
//!   JSON in `output.value`: every call carries its content twice.
//! - `RETRIEVER` spans with `retrieval.documents.N.document.*`, `TOOL`
//!   spans, and a `CHAIN` span as each turn's root, as an app that traces
//!   its own pipeline with OpenInference writes them.
//!
//! Anthropic services go through the Anthropic SDK; every other service
//! through the OpenAI SDK (Mistral and Gemini have OpenAI-compatible
//! endpoints), so all calls take one of the two shapes the fixtures show.

use std::io;

use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span, status};
use serde::Serialize as _;
use serde_json::{Map, Value, json};

use crate::catalog::{Service, Tool};
use crate::knowledge::Retrieved;
use crate::spans::{ChatCall, KIND_INTERNAL, ScopeKind, SpanFrame, base_span, double, int, string};

const SPAN_KIND: &str = "openinference.span.kind";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain";

/// Which SDK, and so which instrumentation, made a service's calls.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    OpenAi,
    Anthropic,
}

impl Shape {
    fn of(service: &Service) -> Shape {
        if service.provider == "anthropic" {
            Shape::Anthropic
        } else {
            Shape::OpenAi
        }
    }
}

pub fn scope(service: &Service, kind: ScopeKind) -> InstrumentationScope {
    let (name, version) = match (kind, Shape::of(service)) {
        (ScopeKind::GenAi, Shape::Anthropic) => (
            "openinference.instrumentation.anthropic".to_owned(),
            "3.1.0",
        ),
        (ScopeKind::GenAi, Shape::OpenAi) => {
            ("openinference.instrumentation.openai".to_owned(), "0.1.66")
        }
        // The app's own spans come from `trace.get_tracer(__name__)`.
        (ScopeKind::Root | ScopeKind::Tool, _) => (
            format!("{}.pipeline", service.name.replace('-', "_")),
            service.version,
        ),
    };
    InstrumentationScope {
        name,
        version: version.to_owned(),
        ..Default::default()
    }
}

/// Who the span is for. `using_session` and `using_user` put these on
/// every span of the turn, the model calls included.
pub struct Session<'a> {
    pub conversation_id: &'a str,
    pub user_id: &'a str,
}

fn session_attributes(session: &Session<'_>) -> Vec<KeyValue> {
    vec![
        string("session.id", session.conversation_id),
        string("user.id", session.user_id),
    ]
}

/// Everything an `LLM` span says about one model call.
pub struct LlmCall<'a> {
    /// Provider, models, ids, usage and error, as for the GenAI span.
    pub chat: &'a ChatCall<'a>,
    pub session: Session<'a>,
    /// The system prompt as sent, retrieved passages included.
    pub system_prompt: &'a str,
    /// The conversation so far in the OTel part schema, without the
    /// system prompt.
    pub input: &'a [Value],
    /// The answer in the OTel part schema; `None` for a failed call.
    pub output: Option<&'a Value>,
    /// The service's tools in its provider's request shape.
    pub tools: &'a [Value],
}

pub fn llm_span(frame: &SpanFrame, call: &LlmCall<'_>) -> Span {
    let shape = Shape::of(call.chat.service);
    let turns: Vec<Message<'_>> = call.input.iter().map(Message::read).collect();
    let answer = call.output.map(Message::read);
    let mut attributes = session_attributes(&call.session);
    attributes.extend(provider_attributes(call.chat.service));
    match shape {
        Shape::OpenAi => {
            let created = frame.start_time_unix_nano / 1_000_000_000;
            openai_attributes(call, &turns, answer.as_ref(), created, &mut attributes);
        }
        Shape::Anthropic => anthropic_attributes(call, &turns, answer.as_ref(), &mut attributes),
    }
    attributes.push(string(SPAN_KIND, "LLM"));
    let name = match shape {
        Shape::OpenAi => "ChatCompletion",
        Shape::Anthropic => "messages.create",
    };
    let mut span = base_span(frame, name.to_owned(), KIND_INTERNAL, attributes);
    match call.chat.error_type {
        Some(error_type) => fail(&mut span, shape, error_type),
        None => {
            span.status = Some(Status {
                code: status::StatusCode::Ok as i32,
                message: String::new(),
            });
        }
    }
    span
}

/// `llm.provider` (the host) and `llm.system` (the SDK).
fn provider_attributes(service: &Service) -> Vec<KeyValue> {
    match service.provider {
        "anthropic" => vec![
            string("llm.provider", "anthropic"),
            string("llm.system", "anthropic"),
        ],
        // The OpenAI instrumentation leaves the provider out for OpenAI itself.
        "openai" => vec![string("llm.system", "openai")],
        "mistral_ai" => vec![
            string("llm.provider", "mistralai"),
            string("llm.system", "openai"),
        ],
        "gcp.gemini" => vec![
            string("llm.provider", "google"),
            string("llm.system", "openai"),
        ],
        other => vec![
            string("llm.provider", other),
            string("llm.system", "openai"),
        ],
    }
}

/// One message of the conversation, read from the OTel part schema the
/// generator keeps it in (it writes one part per message).
enum Message<'a> {
    Text {
        role: &'a str,
        text: &'a str,
    },
    ToolCall {
        id: &'a str,
        name: &'a str,
        arguments: &'a Value,
    },
    ToolResult {
        id: &'a str,
        content: &'a str,
    },
}

impl<'a> Message<'a> {
    fn read(message: &'a Value) -> Message<'a> {
        let text = |value: &'a Value, key: &str| value.get(key).and_then(Value::as_str);
        let role = text(message, "role").unwrap_or("user");
        let part = message
            .get("parts")
            .and_then(|parts| parts.get(0))
            .unwrap_or(&Value::Null);
        match text(part, "type") {
            Some("tool_call") => Message::ToolCall {
                id: text(part, "id").unwrap_or_default(),
                name: text(part, "name").unwrap_or_default(),
                arguments: part.get("arguments").unwrap_or(&Value::Null),
            },
            Some("tool_call_response") => Message::ToolResult {
                id: text(part, "id").unwrap_or_default(),
                content: text(part, "response").unwrap_or_default(),
            },
            _ => Message::Text {
                role,
                text: text(part, "content").unwrap_or_default(),
            },
        }
    }

    fn is_tool_call(&self) -> bool {
        matches!(self, Message::ToolCall { .. })
    }
}

fn openai_attributes(
    call: &LlmCall<'_>,
    turns: &[Message<'_>],
    answer: Option<&Message<'_>>,
    created: u64,
    out: &mut Vec<KeyValue>,
) {
    let chat = call.chat;
    let mut messages = vec![json!({"role": "system", "content": call.system_prompt})];
    messages.extend(turns.iter().map(openai_message));
    let mut request = Map::new();
    request.insert("model".into(), json!(chat.model.request));
    request.insert("messages".into(), Value::Array(messages));
    if !call.tools.is_empty() {
        request.insert("tools".into(), json!(call.tools));
    }
    request.insert("max_tokens".into(), json!(chat.max_tokens));
    request.insert("temperature".into(), json!(chat.temperature));
    out.push(string("input.value", python_json(&Value::Object(request))));
    out.push(string("input.mime_type", JSON));
    if let Some(answer) = answer {
        out.push(string(
            "output.value",
            openai_response(chat, answer, created).to_string(),
        ));
        out.push(string("output.mime_type", JSON));
    }
    push_tools(call.tools, out);
    let invocation = json!({
        "model": chat.model.request,
        "max_tokens": chat.max_tokens,
        "temperature": chat.temperature,
    });
    out.push(string(
        "llm.invocation_parameters",
        python_json(&invocation),
    ));
    let system = Message::Text {
        role: "system",
        text: call.system_prompt,
    };
    for (index, message) in std::iter::once(&system).chain(turns).enumerate() {
        flatten_openai(
            &format!("llm.input_messages.{index}.message."),
            message,
            out,
        );
    }
    let Some(answer) = answer else {
        return;
    };
    out.push(string("llm.model_name", chat.model.response));
    out.push(int(
        "llm.token_count.total",
        chat.input_tokens + chat.output_tokens,
    ));
    out.push(int("llm.token_count.prompt", chat.input_tokens));
    out.push(int("llm.token_count.completion", chat.output_tokens));
    out.push(int(
        "llm.token_count.prompt_details.cache_read",
        chat.cache_read_input_tokens,
    ));
    out.push(int("llm.token_count.prompt_details.audio", 0));
    out.push(int("llm.token_count.completion_details.reasoning", 0));
    out.push(int("llm.token_count.completion_details.audio", 0));
    flatten_openai("llm.output_messages.0.message.", answer, out);
    out.push(string(
        "llm.finish_reason",
        finish_reason(Shape::OpenAi, answer),
    ));
}

/// A message of a Chat Completions request.
fn openai_message(message: &Message<'_>) -> Value {
    match message {
        Message::Text { role, text } => json!({"role": role, "content": text}),
        Message::ToolCall {
            id,
            name,
            arguments,
        } => json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": id, "type": "function",
            "function": {"name": name, "arguments": arguments.to_string()},
        }]}),
        Message::ToolResult { id, content } => {
            json!({"role": "tool", "tool_call_id": id, "content": content})
        }
    }
}

/// A Chat Completions response as the SDK's `model_dump_json` writes it.
fn openai_response(chat: &ChatCall<'_>, answer: &Message<'_>, created: u64) -> Value {
    let message = match answer {
        Message::ToolCall {
            id,
            name,
            arguments,
        } => json!({"content": null, "role": "assistant", "tool_calls": [{
            "id": id,
            "function": {"arguments": arguments.to_string(), "name": name},
            "type": "function",
        }]}),
        Message::Text { text, .. } => json!({"content": text, "role": "assistant"}),
        Message::ToolResult { content, .. } => json!({"content": content, "role": "assistant"}),
    };
    json!({
        "id": chat.response_id,
        "choices": [{
            "finish_reason": finish_reason(Shape::OpenAi, answer),
            "index": 0,
            "logprobs": null,
            "message": message,
        }],
        "created": created,
        "model": chat.model.response,
        "object": "chat.completion",
        "service_tier": "default",
        "system_fingerprint": "fp_3f5c2a1b9e",
        "usage": {
            "completion_tokens": chat.output_tokens,
            "prompt_tokens": chat.input_tokens,
            "total_tokens": chat.input_tokens + chat.output_tokens,
            "completion_tokens_details": {
                "accepted_prediction_tokens": 0,
                "audio_tokens": 0,
                "reasoning_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
            "prompt_tokens_details": {
                "audio_tokens": 0,
                "cached_tokens": chat.cache_read_input_tokens,
            },
        },
    })
}

fn flatten_openai(prefix: &str, message: &Message<'_>, out: &mut Vec<KeyValue>) {
    let key = |suffix: &str| format!("{prefix}{suffix}");
    match message {
        Message::Text { role, text } => {
            out.push(string(&key("role"), *role));
            out.push(string(&key("content"), *text));
        }
        Message::ToolCall {
            id,
            name,
            arguments,
        } => {
            out.push(string(&key("role"), "assistant"));
            push_tool_call(&key("tool_calls.0.tool_call."), id, name, arguments, out);
        }
        Message::ToolResult { id, content } => {
            out.push(string(&key("role"), "tool"));
            out.push(string(&key("tool_call_id"), *id));
            out.push(string(&key("content"), *content));
        }
    }
}

fn push_tool_call(prefix: &str, id: &str, name: &str, arguments: &Value, out: &mut Vec<KeyValue>) {
    out.push(string(&format!("{prefix}id"), id));
    out.push(string(&format!("{prefix}function.name"), name));
    out.push(string(
        &format!("{prefix}function.arguments"),
        arguments.to_string(),
    ));
}

fn anthropic_attributes(
    call: &LlmCall<'_>,
    turns: &[Message<'_>],
    answer: Option<&Message<'_>>,
    out: &mut Vec<KeyValue>,
) {
    let chat = call.chat;
    let mut request = Map::new();
    request.insert("model".into(), json!(chat.model.request));
    request.insert("system".into(), json!(call.system_prompt));
    request.insert(
        "messages".into(),
        Value::Array(turns.iter().map(anthropic_message).collect()),
    );
    if !call.tools.is_empty() {
        request.insert("tools".into(), json!(call.tools));
    }
    request.insert("max_tokens".into(), json!(chat.max_tokens));
    request.insert("temperature".into(), json!(chat.temperature));
    out.push(string("input.value", python_json(&Value::Object(request))));
    out.push(string("input.mime_type", JSON));
    out.push(string("llm.request.model_name", chat.model.request));
    // The instrumentation lists the top-level system prompt as message 0.
    let system = Message::Text {
        role: "system",
        text: call.system_prompt,
    };
    for (index, message) in std::iter::once(&system).chain(turns).enumerate() {
        flatten_anthropic(
            &format!("llm.input_messages.{index}.message."),
            message,
            false,
            out,
        );
    }
    push_tools(call.tools, out);
    let invocation = json!({"max_tokens": chat.max_tokens, "temperature": chat.temperature});
    out.push(string(
        "llm.invocation_parameters",
        python_json(&invocation),
    ));
    let Some(answer) = answer else {
        // Without a response the request model stands in for the model name.
        out.push(string("llm.model_name", chat.model.request));
        return;
    };
    out.push(string("llm.model_name", chat.model.response));
    out.push(string("llm.response.model_name", chat.model.response));
    out.push(string("llm.output_messages.0.message.role", "assistant"));
    out.push(string(
        "llm.finish_reason",
        finish_reason(Shape::Anthropic, answer),
    ));
    flatten_anthropic("llm.output_messages.0.message.", answer, true, out);
    out.push(int("llm.token_count.prompt", chat.input_tokens));
    out.push(int("llm.token_count.completion", chat.output_tokens));
    out.push(int(
        "llm.token_count.total",
        chat.input_tokens + chat.output_tokens,
    ));
    if chat.cache_read_input_tokens > 0 {
        out.push(int(
            "llm.token_count.prompt_details.cache_read",
            chat.cache_read_input_tokens,
        ));
    }
    out.push(string(
        "output.value",
        anthropic_response(chat, answer).to_string(),
    ));
    out.push(string("output.mime_type", JSON));
}

/// A message of a Messages API request: tool results travel as a user
/// message's `tool_result` block.
fn anthropic_message(message: &Message<'_>) -> Value {
    match message {
        Message::Text { role, text } => json!({"role": role, "content": text}),
        Message::ToolCall {
            id,
            name,
            arguments,
        } => json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": id, "name": name, "input": arguments},
        ]}),
        Message::ToolResult { id, content } => json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": content},
        ]}),
    }
}

/// A Messages API response as the SDK's `model_dump_json` writes it.
fn anthropic_response(chat: &ChatCall<'_>, answer: &Message<'_>) -> Value {
    let block = match answer {
        Message::ToolCall {
            id,
            name,
            arguments,
        } => json!({"id": id, "caller": null, "input": arguments, "name": name,
            "type": "tool_use", "toolset_name": null}),
        Message::Text { text, .. } => json!({"citations": null, "text": text, "type": "text"}),
        Message::ToolResult { content, .. } => {
            json!({"citations": null, "text": content, "type": "text"})
        }
    };
    json!({
        "id": chat.response_id,
        "container": null,
        "content": [block],
        "diagnostics": null,
        "model": chat.model.response,
        "role": "assistant",
        "stop_details": null,
        "stop_reason": finish_reason(Shape::Anthropic, answer),
        "stop_sequence": null,
        "type": "message",
        "usage": {
            "cache_creation": null,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": chat.cache_read_input_tokens,
            "inference_geo": null,
            "input_tokens": chat.input_tokens,
            "output_tokens": chat.output_tokens,
            "output_tokens_details": null,
            "server_tool_use": null,
            "service_tier": "standard",
            "speed": null,
        },
    })
}

/// Anthropic messages flattened: a string content as `content`, content
/// blocks as `contents.N.*` (the answer is always blocks), and a tool use
/// both in `tool_calls` and as a `tool_use` block, as the instrumentation
/// records it.
fn flatten_anthropic(prefix: &str, message: &Message<'_>, output: bool, out: &mut Vec<KeyValue>) {
    let key = |suffix: &str| format!("{prefix}{suffix}");
    match message {
        Message::Text { role, text } => {
            if !output {
                out.push(string(&key("role"), *role));
                out.push(string(&key("content"), *text));
                return;
            }
            out.push(string(&key("contents.0.message_content.type"), "text"));
            out.push(string(&key("contents.0.message_content.text"), *text));
        }
        Message::ToolCall {
            id,
            name,
            arguments,
        } => {
            if !output {
                out.push(string(&key("role"), "assistant"));
            }
            push_tool_call(&key("tool_calls.0.tool_call."), id, name, arguments, out);
            out.push(string(&key("contents.0.message_content.type"), "tool_use"));
            push_tool_call(&key("contents.0.tool_call."), id, name, arguments, out);
        }
        Message::ToolResult { id, content } => {
            out.push(string(&key("role"), "tool"));
            out.push(string(&key("tool_call_id"), *id));
            out.push(string(&key("content"), *content));
        }
    }
}

fn finish_reason(shape: Shape, answer: &Message<'_>) -> &'static str {
    match (shape, answer.is_tool_call()) {
        (Shape::OpenAi, true) => "tool_calls",
        (Shape::OpenAi, false) => "stop",
        (Shape::Anthropic, true) => "tool_use",
        (Shape::Anthropic, false) => "end_turn",
    }
}

fn push_tools(tools: &[Value], out: &mut Vec<KeyValue>) {
    for (index, tool) in tools.iter().enumerate() {
        out.push(string(
            &format!("llm.tools.{index}.tool.json_schema"),
            python_json(tool),
        ));
    }
}

/// The span of a failed call: status ERROR and the `exception` event the
/// instrumentations record, with the SDK's exception and traceback.
fn fail(span: &mut Span, shape: Shape, error_type: &str) {
    let (exception, message) = exception(shape, error_type);
    let class = exception.rsplit('.').next().unwrap_or(exception);
    let (sdk, wrapper) = match shape {
        Shape::OpenAi => ("openai", "openai/_request.py\", line 383"),
        Shape::Anthropic => ("anthropic", "anthropic/_wrappers.py\", line 294"),
    };
    let stacktrace = format!(
        "Traceback (most recent call last):\n  File \"/srv/app/.venv/lib/python3.12/site-packages/openinference/instrumentation/{wrapper}, in __call__\n    response = wrapped(*args, **kwargs)\n               ^^^^^^^^^^^^^^^^^^^^^^^^\n  File \"/srv/app/.venv/lib/python3.12/site-packages/{sdk}/_base_client.py\", line 1248, in request\n    raise self._make_status_error_from_response(err.response) from None\n{exception}: {message}\n"
    );
    span.events.push(span::Event {
        time_unix_nano: span.end_time_unix_nano.saturating_sub(100_000),
        name: "exception".to_owned(),
        attributes: vec![
            string("exception.type", exception),
            string("exception.message", message.clone()),
            string("exception.stacktrace", stacktrace),
            string("exception.escaped", "False"),
        ],
        dropped_attributes_count: 0,
    });
    let status_message = match shape {
        Shape::OpenAi => format!("{class}: {message}"),
        Shape::Anthropic => message,
    };
    span.status = Some(Status {
        code: status::StatusCode::Error as i32,
        message: status_message,
    });
}

/// The SDK exception for the generator's error types, with its message.
fn exception(shape: Shape, error_type: &str) -> (&'static str, String) {
    match (shape, error_type) {
        (Shape::Anthropic, _) => (
            "anthropic.OverloadedError",
            "Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}".to_owned(),
        ),
        (Shape::OpenAi, "APITimeoutError") => ("openai.APITimeoutError", "Request timed out.".to_owned()),
        (Shape::OpenAi, "503") => (
            "openai.InternalServerError",
            "Error code: 503 - The server is overloaded or not ready yet.".to_owned(),
        ),
        (Shape::OpenAi, _) => (
            "openai.RateLimitError",
            "Error code: 429 - Rate limit reached for requests. Please try again in 2s.".to_owned(),
        ),
    }
}

/// The service's tools as its provider's request takes them, for
/// `input.value` and `llm.tools.N.tool.json_schema`.
pub fn tool_schemas(service: &Service) -> Vec<Value> {
    let mut out = Vec::with_capacity(service.tools.len());
    for tool in service.tools {
        out.push(match Shape::of(service) {
            Shape::OpenAi => json!({"type": "function", "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": parameters_schema(tool),
            }}),
            Shape::Anthropic => json!({
                "name": tool.name,
                "description": tool.description,
                "input_schema": parameters_schema(tool),
            }),
        });
    }
    out
}

fn parameters_schema(tool: &Tool) -> Value {
    let mut properties = Map::new();
    for parameter in tool.parameters {
        properties.insert(
            (*parameter).to_owned(),
            json!({"type": "string", "description": format!("The {}.", parameter.replace('_', " "))}),
        );
    }
    json!({"type": "object", "properties": properties, "required": tool.parameters})
}

/// The `CHAIN` span at the root of a turn: the question in, the answer out.
pub fn chain_span(frame: &SpanFrame, session: &Session<'_>, question: &str, answer: &str) -> Span {
    let mut attributes = session_attributes(session);
    attributes.extend([
        string(SPAN_KIND, "CHAIN"),
        string("input.value", question),
        string("input.mime_type", TEXT),
        string("output.value", answer),
        string("output.mime_type", TEXT),
    ]);
    let mut span = base_span(frame, "chat_turn".to_owned(), KIND_INTERNAL, attributes);
    span.status = Some(Status {
        code: status::StatusCode::Ok as i32,
        message: String::new(),
    });
    span
}

/// A `RETRIEVER` span: the question in, the passages out.
pub fn retriever_span(
    frame: &SpanFrame,
    session: &Session<'_>,
    question: &str,
    retrieved: &[Retrieved<'_>],
) -> Span {
    let mut attributes = session_attributes(session);
    attributes.push(string(SPAN_KIND, "RETRIEVER"));
    attributes.push(string("input.value", question));
    for (index, item) in retrieved.iter().enumerate() {
        let prefix = format!("retrieval.documents.{index}.document.");
        attributes.push(string(&format!("{prefix}id"), item.document.id.as_str()));
        attributes.push(string(
            &format!("{prefix}content"),
            item.document.content.as_str(),
        ));
        attributes.push(double(&format!("{prefix}score"), item.score));
    }
    base_span(frame, "retrieve".to_owned(), KIND_INTERNAL, attributes)
}

/// A `TOOL` span: the app running the function the model asked for.
pub fn tool_span(
    frame: &SpanFrame,
    session: &Session<'_>,
    tool: &Tool,
    arguments_json: &str,
    result_json: &str,
) -> Span {
    let mut attributes = session_attributes(session);
    attributes.extend([
        string(SPAN_KIND, "TOOL"),
        string("tool.name", tool.name),
        string("tool.description", tool.description),
        string("tool.parameters", python_json(&parameters_schema(tool))),
        string("input.value", arguments_json),
        string("input.mime_type", JSON),
        string("output.value", result_json),
        string("output.mime_type", JSON),
    ]);
    base_span(frame, tool.name.to_owned(), KIND_INTERNAL, attributes)
}

/// Python's `json.dumps`, which the instrumentations use for `input.value`
/// and `llm.invocation_parameters`: `", "` and `": "` between items. (The
/// response bodies are pydantic dumps, compact like serde's.) The text is
/// ASCII, so `ensure_ascii` changes nothing.
pub fn python_json(value: &Value) -> String {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    // Writing a `Value` into a `Vec` cannot fail.
    if value.serialize(&mut serializer).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

struct PythonFormatter;

/// Python's `json.dumps` puts ", " between items, of arrays and objects alike.
fn python_separator<W: ?Sized + io::Write>(writer: &mut W, first: bool) -> io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        python_separator(writer, first)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        python_separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}
