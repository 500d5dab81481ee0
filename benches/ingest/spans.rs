//! OTLP spans in the OpenTelemetry GenAI 1.37+ convention, built from one
//! simulated turn: the `chat {model}` CLIENT span with its content
//! attributes (`gen_ai.input.messages` and co. as JSON strings in the OTel
//! part schema), the `execute_tool` span, and the trace's root (an HTTP
//! server span or an `invoke_agent` span). Also the resources and scopes the
//! spans are exported under.

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span, status};
use serde_json::{Value, json};

use crate::catalog::{Model, Root, Service};

pub const KIND_INTERNAL: i32 = span::SpanKind::Internal as i32;
pub const KIND_SERVER: i32 = span::SpanKind::Server as i32;
pub const KIND_CLIENT: i32 = span::SpanKind::Client as i32;

/// Which instrumentation reported a span; with the resource it decides how
/// spans are grouped in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Root,
    GenAi,
    Tool,
}

pub fn string(key: &str, value: impl Into<String>) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.into()))
}

pub fn int(key: &str, value: i64) -> KeyValue {
    attribute(key, any_value::Value::IntValue(value))
}

pub fn double(key: &str, value: f64) -> KeyValue {
    attribute(key, any_value::Value::DoubleValue(value))
}

pub fn strings(key: &str, values: &[&str]) -> KeyValue {
    let mut array = Vec::with_capacity(values.len());
    for value in values {
        array.push(AnyValue {
            value: Some(any_value::Value::StringValue((*value).to_owned())),
        });
    }
    attribute(
        key,
        any_value::Value::ArrayValue(ArrayValue { values: array }),
    )
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub fn resource(service: &Service, instance_id: &str, host: &str) -> Resource {
    Resource {
        attributes: vec![
            string("service.name", service.name),
            string("service.version", service.version),
            string("service.instance.id", instance_id),
            string("deployment.environment.name", "production"),
            string("host.name", host),
            string("process.runtime.name", "cpython"),
            string("process.runtime.version", "3.12.11"),
            string("telemetry.sdk.language", "python"),
            string("telemetry.sdk.name", "opentelemetry"),
            string("telemetry.sdk.version", "1.38.0"),
        ],
        ..Default::default()
    }
}

pub fn scope(service: &Service, kind: ScopeKind) -> InstrumentationScope {
    let (name, version) = match (kind, service.root) {
        (ScopeKind::GenAi, _) => service.genai_scope,
        (ScopeKind::Root, Root::Http { .. }) => ("opentelemetry.instrumentation.fastapi", "0.59b0"),
        (ScopeKind::Root, Root::Agent { .. }) | (ScopeKind::Tool, _) => {
            ("opentelemetry.instrumentation.openai_agents", "0.2.1")
        }
    };
    InstrumentationScope {
        name: name.to_owned(),
        version: version.to_owned(),
        ..Default::default()
    }
}

/// Ids and times shared by every span builder.
pub struct SpanFrame {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: Option<[u8; 8]>,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
}

pub fn base_span(frame: &SpanFrame, name: String, kind: i32, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: frame.trace_id.to_vec(),
        span_id: frame.span_id.to_vec(),
        parent_span_id: frame
            .parent_span_id
            .map(|id| id.to_vec())
            .unwrap_or_default(),
        name,
        kind,
        start_time_unix_nano: frame.start_time_unix_nano,
        end_time_unix_nano: frame.end_time_unix_nano,
        attributes,
        flags: 0x100 | 0x01,
        ..Default::default()
    }
}

/// Everything a `chat {model}` span says about one model call.
pub struct ChatCall<'a> {
    pub service: &'a Service,
    pub model: &'a Model,
    pub conversation_id: &'a str,
    /// `gen_ai.system_instructions`, already serialized; `None` when the
    /// system prompt travels in the input messages.
    pub system_instructions_json: Option<&'a str>,
    /// `gen_ai.input.messages`, already serialized.
    pub input_messages_json: &'a str,
    /// `gen_ai.output.messages`, already serialized; `None` for a failed call.
    pub output_messages_json: Option<&'a str>,
    pub tool_definitions_json: Option<&'a str>,
    /// The provider's own finish reason, for `gen_ai.response.finish_reasons`.
    pub finish_reason: &'a str,
    pub response_id: &'a str,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_input_tokens: i64,
    pub max_tokens: i64,
    pub temperature: f64,
    /// `error.type` of a failed call.
    pub error_type: Option<&'a str>,
}

pub fn chat_span(frame: &SpanFrame, call: &ChatCall<'_>) -> Span {
    let mut attributes = vec![
        string("gen_ai.operation.name", "chat"),
        string("gen_ai.provider.name", call.service.provider),
        string("gen_ai.request.model", call.model.request),
        int("gen_ai.request.max_tokens", call.max_tokens),
        double("gen_ai.request.temperature", call.temperature),
        string("gen_ai.conversation.id", call.conversation_id),
        string("server.address", call.service.server_address),
        int("server.port", 443),
    ];
    let mut status = None;
    match call.error_type {
        Some(error_type) => {
            attributes.push(string("error.type", error_type));
            status = Some(Status {
                code: status::StatusCode::Error as i32,
                message: format!("{error_type}: the provider did not answer"),
            });
        }
        None => {
            attributes.push(string("gen_ai.response.model", call.model.response));
            attributes.push(string("gen_ai.response.id", call.response_id));
            attributes.push(strings(
                "gen_ai.response.finish_reasons",
                &[call.finish_reason],
            ));
            attributes.push(int("gen_ai.usage.input_tokens", call.input_tokens));
            attributes.push(int("gen_ai.usage.output_tokens", call.output_tokens));
            if call.cache_read_input_tokens > 0 {
                attributes.push(int(
                    "gen_ai.usage.cache_read.input_tokens",
                    call.cache_read_input_tokens,
                ));
            }
        }
    }
    if let Some(system) = call.system_instructions_json {
        attributes.push(string("gen_ai.system_instructions", system));
    }
    if let Some(tools) = call.tool_definitions_json {
        attributes.push(string("gen_ai.tool.definitions", tools));
    }
    attributes.push(string("gen_ai.input.messages", call.input_messages_json));
    if let Some(output) = call.output_messages_json {
        attributes.push(string("gen_ai.output.messages", output));
    }
    let name = format!("chat {}", call.model.request);
    let mut span = base_span(frame, name, KIND_CLIENT, attributes);
    span.status = status;
    span
}

pub struct ToolExecution<'a> {
    pub name: &'a str,
    pub call_id: &'a str,
    pub arguments_json: &'a str,
    pub result_json: &'a str,
}

pub fn tool_span(frame: &SpanFrame, tool: &ToolExecution<'_>) -> Span {
    let attributes = vec![
        string("gen_ai.operation.name", "execute_tool"),
        string("gen_ai.tool.name", tool.name),
        string("gen_ai.tool.type", "function"),
        string("gen_ai.tool.call.id", tool.call_id),
        string("gen_ai.tool.call.arguments", tool.arguments_json),
        string("gen_ai.tool.call.result", tool.result_json),
    ];
    base_span(
        frame,
        format!("execute_tool {}", tool.name),
        KIND_INTERNAL,
        attributes,
    )
}

pub struct RootRequest<'a> {
    pub service: &'a Service,
    pub model: &'a Model,
    pub conversation_id: &'a str,
    pub user_id: &'a str,
    pub client_address: &'a str,
    pub user_agent: &'a str,
}

pub fn root_span(frame: &SpanFrame, request: &RootRequest<'_>) -> Span {
    match request.service.root {
        Root::Http { route } => {
            let attributes = vec![
                string("http.request.method", "POST"),
                string("http.route", route),
                string("url.scheme", "https"),
                string("url.path", route),
                string(
                    "server.address",
                    format!("{}.internal.example.com", request.service.name),
                ),
                int("server.port", 443),
                string("network.protocol.version", "1.1"),
                string("client.address", request.client_address),
                string("user_agent.original", request.user_agent),
                int("http.response.status_code", 200),
                string("user.id", request.user_id),
                string("session.id", request.conversation_id),
            ];
            base_span(frame, format!("POST {route}"), KIND_SERVER, attributes)
        }
        Root::Agent { agent } => {
            let attributes = vec![
                string("gen_ai.operation.name", "invoke_agent"),
                string("gen_ai.provider.name", request.service.provider),
                string("gen_ai.agent.name", agent),
                string("gen_ai.agent.id", format!("agent_{agent}_v1")),
                string("gen_ai.request.model", request.model.request),
                string("gen_ai.conversation.id", request.conversation_id),
                string("user.id", request.user_id),
            ];
            base_span(
                frame,
                format!("invoke_agent {agent}"),
                KIND_INTERNAL,
                attributes,
            )
        }
    }
}

/// `gen_ai.tool.definitions` for a service, serialized once: every call of
/// that service sends the same definitions.
pub fn tool_definitions_json(service: &Service) -> Option<String> {
    if service.tools.is_empty() {
        return None;
    }
    let mut definitions = Vec::new();
    for tool in service.tools {
        let mut properties = serde_json::Map::new();
        for parameter in tool.parameters {
            properties.insert(
                (*parameter).to_owned(),
                json!({"type": "string", "description": format!("The {}.", parameter.replace('_', " "))}),
            );
        }
        definitions.push(json!({
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": tool.parameters,
            },
        }));
    }
    Some(Value::Array(definitions).to_string())
}

/// A chat message in the OTel part schema with one text part.
pub fn text_message(role: &str, content: &str) -> Value {
    json!({"role": role, "parts": [{"type": "text", "content": content}]})
}

pub fn tool_call_message(call_id: &str, name: &str, arguments: &Value) -> Value {
    json!({"role": "assistant", "parts": [{
        "type": "tool_call", "id": call_id, "name": name, "arguments": arguments,
    }]})
}

pub fn tool_response_message(call_id: &str, response_json: &str) -> Value {
    json!({"role": "tool", "parts": [{
        "type": "tool_call_response", "id": call_id, "response": response_json,
    }]})
}

/// `gen_ai.output.messages` for one choice.
pub fn output_messages_json(mut message: Value, finish_reason: &str) -> String {
    if let Value::Object(fields) = &mut message {
        fields.insert("finish_reason".into(), json!(finish_reason));
    }
    Value::Array(vec![message]).to_string()
}

/// A JSON array from already-serialized elements, so a conversation's
/// history is serialized once and not again on every turn.
pub fn join_json_array(elements: &[&str]) -> String {
    let mut length = 2;
    for element in elements {
        length += element.len() + 1;
    }
    let mut out = String::with_capacity(length);
    out.push('[');
    for (index, element) in elements.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(element);
    }
    out.push(']');
    out
}
