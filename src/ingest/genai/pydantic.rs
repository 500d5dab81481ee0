//! Pydantic AI / Logfire (genai-conventions.md §4.3). Model requests are
//! OTel spans named `chat {model}`; the content depends on
//! `InstrumentationSettings.version`:
//!
//! - version 1 writes the 1.28–1.36 per-message events, as log records
//!   (read by [`super::events`]) or packed into ONE span attribute `events`
//!   (a JSON array of event objects: the body's fields plus the event's
//!   attributes), which is read here;
//! - versions 2 and 3 write the OTel 1.37 content attributes, with Pydantic's
//!   part spellings (`result`, `thinking`) that [`super::messages`] accepts.
//!
//! Tool definitions come from `model_request_parameters`.

use serde_json::{Map, Value as Json};

use super::attrs::{AttrReader, json_str};
use super::events::{self, GenAiEvent};
use super::messages;
use super::otel;
use crate::model::{Call, Scope, Span};

/// Pydantic AI's own keys (pydantic_ai/models/instrumented.py).
pub(crate) mod keys {
    pub const SCOPE_NAME: &str = "pydantic-ai";
    /// Version 1, `event_mode="attributes"`: all events as one JSON string.
    pub const EVENTS: &str = "events";
    /// JSON of the request's parameters: `function_tools`, `output_tools`, …
    pub const MODEL_REQUEST_PARAMETERS: &str = "model_request_parameters";
    /// Keys inside an event object that are event attributes, not content.
    pub const EVENT_NAME: &str = super::events::keys::EVENT_NAME_ATTRIBUTE;
    pub const MESSAGE_INDEX: &str = "gen_ai.message.index";
}

pub(crate) fn owns(scope: &Scope, span: &Span) -> bool {
    scope.name == keys::SCOPE_NAME
        || scope.name.starts_with("logfire")
        || span.attributes.get(keys::EVENTS).is_some()
        || span
            .attributes
            .get(keys::MODEL_REQUEST_PARAMETERS)
            .is_some()
}

pub(crate) fn fill(call: &mut Call, reader: &mut AttrReader<'_>, scope: &Scope, span: &Span) {
    otel::fill_span(call, reader, scope, span);
    if let Some(Json::Array(items)) = reader.take_json(keys::EVENTS) {
        let packed = packed_events(span, &items);
        events::apply(call, &packed);
    }
    if call.tool_definitions.is_none()
        && let Some(Json::Object(parameters)) = reader.take_json(keys::MODEL_REQUEST_PARAMETERS)
    {
        call.tool_definitions = tool_definitions(&parameters);
    }
}

/// The `events` attribute's objects as events of this span. Their order in
/// the array is the message order, so each gets the span start plus its
/// position as time: canonical event ordering then keeps that order.
fn packed_events(span: &Span, items: &[Json]) -> Vec<GenAiEvent> {
    let mut out = Vec::new();
    for (position, item) in items.iter().enumerate() {
        let Some(object) = item.as_object() else {
            continue;
        };
        let Some(name) = event_name(object) else {
            continue;
        };
        let mut body = object.clone();
        for key in [keys::EVENT_NAME, keys::MESSAGE_INDEX, otel::keys::SYSTEM] {
            body.remove(key);
        }
        let Some(kind) = events::message_kind(&name, Some(&Json::Object(body))) else {
            continue;
        };
        out.push(GenAiEvent {
            trace_id: Some(span.trace_id),
            span_id: Some(span.span_id),
            time_unix_nano: span.start_time_unix_nano.saturating_add(position as u64),
            provider: None,
            kind,
        });
    }
    out
}

/// The event name an object carries, or the one its shape implies (newer
/// versions leave `event.name` out of the packed objects): a `message`
/// field makes a choice, else the role names the message event.
fn event_name(object: &Map<String, Json>) -> Option<String> {
    if let Some(name) = json_str(object, keys::EVENT_NAME) {
        return Some(name);
    }
    if object.contains_key("message") {
        return Some(events::keys::CHOICE.to_owned());
    }
    let role = json_str(object, "role")?;
    Some(format!("gen_ai.{role}.message"))
}

/// `function_tools` and `output_tools` of `model_request_parameters`.
fn tool_definitions(parameters: &Map<String, Json>) -> Option<Vec<Json>> {
    let mut out = Vec::new();
    let mut found = false;
    for key in ["function_tools", "output_tools"] {
        if let Some(Json::Array(tools)) = parameters.get(key) {
            found = true;
            for tool in tools {
                out.push(messages::tool_definition(tool.clone()));
            }
        }
    }
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::call_from_span;
    use super::super::test_support::{resource, scope, span};
    use crate::model::{Call, Part};

    fn model_span(content: serde_json::Value) -> crate::model::Span {
        let mut attrs = json!({
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 20,
            "gen_ai.usage.output_tokens": 8,
            "model_request_parameters": json!({
                "function_tools": [{"name": "weather", "description": "Weather now",
                                    "parameters_json_schema": {"type": "object"}}],
                "output_tools": [],
                "allow_text_output": true,
            }).to_string(),
        });
        if let (Some(target), serde_json::Value::Object(extra)) = (attrs.as_object_mut(), content) {
            target.extend(extra);
        }
        span("chat gpt-4o", attrs)
    }

    fn assert_weather_conversation(call: &Call) {
        let inputs = call.input_messages.as_ref().expect("input messages");
        let roles: Vec<&str> = inputs.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool"]);
        assert_eq!(
            inputs[2].parts,
            vec![Part::ToolCall {
                id: Some("c1".into()),
                name: "weather".into(),
                arguments: json!({"city": "Tokyo"}),
            }]
        );
        assert_eq!(
            inputs[3].parts,
            vec![Part::ToolCallResponse {
                id: Some("c1".into()),
                response: json!("18C"),
            }]
        );
        assert_eq!(call.output_text().as_deref(), Some("It is 18C."));
        assert_eq!(
            call.tool_definitions,
            Some(vec![
                json!({"type": "function", "name": "weather", "description": "Weather now",
                             "parameters": {"type": "object"}})
            ])
        );
    }

    /// Version 1 with `event_mode="attributes"`: the events packed into one
    /// `events` attribute, each carrying `event.name`.
    #[test]
    fn v1_events_attribute_is_read_in_order() {
        let events = json!([
            {"content": "Be brief.", "role": "system", "gen_ai.system": "openai",
             "event.name": "gen_ai.system.message"},
            {"content": "Weather in Tokyo?", "role": "user", "gen_ai.message.index": 0,
             "gen_ai.system": "openai", "event.name": "gen_ai.user.message"},
            {"role": "assistant", "gen_ai.message.index": 1, "event.name": "gen_ai.assistant.message",
             "tool_calls": [{"id": "c1", "type": "function",
                             "function": {"name": "weather", "arguments": "{\"city\": \"Tokyo\"}"}}]},
            {"content": "18C", "role": "tool", "id": "c1", "name": "weather",
             "gen_ai.message.index": 2, "event.name": "gen_ai.tool.message"},
            {"index": 0, "message": {"role": "assistant", "content": "It is 18C."},
             "event.name": "gen_ai.choice"},
        ]);
        let span = model_span(json!({"events": events.to_string()}));
        let call = call_from_span(&resource(), &scope("pydantic-ai"), &span).expect("an LLM call");
        assert_eq!(call.provider.as_deref(), Some("openai"));
        assert_eq!(call.usage.input_tokens, Some(20));
        assert_weather_conversation(&call);
    }

    /// Newer version-1 output leaves `event.name` out; the shape says it.
    #[test]
    fn v1_events_without_names_are_recognised_by_shape() {
        let events = json!([
            {"content": "Be brief.", "role": "system"},
            {"content": "Weather in Tokyo?", "role": "user"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "weather", "arguments": {"city": "Tokyo"}}}]},
            {"content": "18C", "role": "tool", "id": "c1", "name": "weather"},
            {"index": 0, "message": {"role": "assistant", "content": "It is 18C."}},
        ]);
        let span = model_span(json!({"events": events.to_string()}));
        let call = call_from_span(&resource(), &scope("pydantic-ai"), &span).expect("an LLM call");
        assert_weather_conversation(&call);
    }

    /// Version 2: OTel 1.37 content attributes with Pydantic's part
    /// spellings (`result`, `thinking`) and tool results under role `user`.
    #[test]
    fn v2_content_attributes_with_pydantic_part_spellings() {
        let inputs = json!([
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Tokyo?"}]},
            {"role": "assistant", "parts": [
                {"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Tokyo"}}]},
            {"role": "user", "parts": [
                {"type": "tool_call_response", "id": "c1", "name": "weather", "result": "18C"}]},
        ]);
        let outputs = json!([{"role": "assistant", "finish_reason": "stop", "parts": [
            {"type": "thinking", "content": "Tool said 18C."},
            {"type": "text", "content": "It is 18C."}]}]);
        let span = model_span(json!({
            "gen_ai.input.messages": inputs.to_string(),
            "gen_ai.output.messages": outputs.to_string(),
            "gen_ai.system_instructions": r#"[{"type":"text","content":"Be brief."}]"#,
        }));
        let call = call_from_span(&resource(), &scope("pydantic-ai"), &span).expect("an LLM call");
        assert_weather_conversation(&call);
        let output = &call.output_messages.as_ref().expect("outputs")[0];
        assert_eq!(
            output.parts[0],
            Part::Reasoning {
                content: "Tool said 18C.".into()
            }
        );
        assert_eq!(call.finish_reasons, Some(vec!["stop".to_owned()]));
    }

    #[test]
    fn agent_and_tool_spans_are_not_llm_calls() {
        let agent = span(
            "invoke_agent weather_agent",
            json!({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "weather_agent"}),
        );
        assert_eq!(
            call_from_span(&resource(), &scope("pydantic-ai"), &agent),
            None
        );
        let tool = span(
            "execute_tool weather",
            json!({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather"}),
        );
        assert_eq!(
            call_from_span(&resource(), &scope("pydantic-ai"), &tool),
            None
        );
        let running_tool = span(
            "running tool",
            json!({"gen_ai.tool.name": "weather", "tool_arguments": "{}", "tool_response": "18C"}),
        );
        assert_eq!(
            call_from_span(&resource(), &scope("pydantic-ai"), &running_tool),
            None
        );
    }
}
