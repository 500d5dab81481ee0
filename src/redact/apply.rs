//! The walk: every string a policy must see, in spans (attributes, event
//! and link attributes, status message), log records (body, attributes),
//! resources and scopes (attributes), and calls from outside OTLP (message
//! parts, tool arguments and results, attributes, the recorded provider
//! request and response, error message, user and session ids, tags).
//!
//! Names (span, event, attribute keys, models, providers) are left alone:
//! they come from instrumentation code, not from users. Byte values are
//! left alone too: they are opaque.

use std::sync::Arc;

use serde_json::Value as Json;

use super::rule::Policy;
use crate::model::telemetry::{LogGroup, SpanGroup};
use crate::model::{Attributes, Call, LogRecord, Message, Part, Span, Value};

impl Policy {
    /// Redacts every span group in place; returns how many strings changed.
    pub fn redact_span_groups(&self, groups: &mut [SpanGroup]) -> usize {
        if self.is_empty() {
            return 0;
        }
        let mut changed = 0;
        for group in groups {
            changed += self.redact_resource_and_scope(&mut group.resource, &mut group.scope);
            for span in &mut group.spans {
                changed += self.redact_span(span);
            }
        }
        changed
    }

    /// Redacts every log group in place; returns how many strings changed.
    pub fn redact_log_groups(&self, groups: &mut [LogGroup]) -> usize {
        if self.is_empty() {
            return 0;
        }
        let mut changed = 0;
        for group in groups {
            changed += self.redact_resource_and_scope(&mut group.resource, &mut group.scope);
            for record in &mut group.records {
                changed += self.redact_log_record(record);
            }
        }
        changed
    }

    pub fn redact_span(&self, span: &mut Span) -> usize {
        let mut changed = self.redact_attributes(&mut span.attributes);
        for event in &mut span.events {
            changed += self.redact_attributes(&mut event.attributes);
        }
        for link in &mut span.links {
            changed += self.redact_attributes(&mut link.attributes);
        }
        changed += usize::from(self.redact_string(&mut span.status.message));
        changed
    }

    pub fn redact_log_record(&self, record: &mut LogRecord) -> usize {
        let mut changed = self.redact_attributes(&mut record.attributes);
        if let Some(body) = &mut record.body {
            changed += self.redact_value(body);
        }
        changed
    }

    /// Resources and scopes are shared between groups (`Arc`); a copy is
    /// made only when something in it changes.
    fn redact_resource_and_scope(
        &self,
        resource: &mut Arc<crate::model::Resource>,
        scope: &mut Arc<crate::model::Scope>,
    ) -> usize {
        let mut changed = 0;
        let mut attributes = resource.attributes.clone();
        let count = self.redact_attributes(&mut attributes);
        if count > 0 {
            Arc::make_mut(resource).attributes = attributes;
            changed += count;
        }
        let mut attributes = scope.attributes.clone();
        let count = self.redact_attributes(&mut attributes);
        if count > 0 {
            Arc::make_mut(scope).attributes = attributes;
            changed += count;
        }
        changed
    }

    pub fn redact_attributes(&self, attributes: &mut Attributes) -> usize {
        let mut changed = 0;
        for attribute in &mut attributes.0 {
            changed += self.redact_value(&mut attribute.value);
        }
        changed
    }

    pub fn redact_value(&self, value: &mut Value) -> usize {
        match value {
            Value::String(text) => usize::from(self.redact_string(text)),
            Value::Array(values) => {
                let mut changed = 0;
                for value in values {
                    changed += self.redact_value(value);
                }
                changed
            }
            Value::KvList(list) => {
                let mut changed = 0;
                for kv in list {
                    changed += self.redact_value(&mut kv.value);
                }
                changed
            }
            Value::Empty | Value::Bool(_) | Value::Int(_) | Value::Double(_) | Value::Bytes(_) => 0,
        }
    }

    pub fn redact_json(&self, json: &mut Json) -> usize {
        match json {
            Json::String(text) => usize::from(self.redact_string(text)),
            Json::Array(values) => {
                let mut changed = 0;
                for value in values {
                    changed += self.redact_json(value);
                }
                changed
            }
            Json::Object(map) => {
                let mut changed = 0;
                for (_, value) in map.iter_mut() {
                    changed += self.redact_json(value);
                }
                changed
            }
            Json::Null | Json::Bool(_) | Json::Number(_) => 0,
        }
    }

    /// Redacts a call that did not come from OTLP (raw records, imports).
    pub fn redact_call(&self, call: &mut Call) -> usize {
        if self.is_empty() {
            return 0;
        }
        let mut changed = 0;
        if let Some(parts) = &mut call.system_instructions {
            changed += self.redact_parts(parts);
        }
        for messages in [&mut call.input_messages, &mut call.output_messages]
            .into_iter()
            .flatten()
        {
            changed += self.redact_messages(messages);
        }
        if let Some(tools) = &mut call.tool_definitions {
            for tool in tools {
                changed += self.redact_json(tool);
            }
        }
        for value in call.request_params.extra.values_mut() {
            changed += self.redact_json(value);
        }
        if let Some(error) = &mut call.error
            && let Some(message) = &mut error.message
        {
            changed += usize::from(self.redact_string(message));
        }
        for text in [&mut call.session_id, &mut call.user_id]
            .into_iter()
            .flatten()
        {
            changed += usize::from(self.redact_string(text));
        }
        for tag in &mut call.tags {
            changed += usize::from(self.redact_string(tag));
        }
        for value in call.attributes.values_mut() {
            changed += self.redact_json(value);
        }
        if let Some(raw) = &mut call.raw {
            changed += self.redact_json(&mut raw.request);
            if let Some(response) = &mut raw.response {
                changed += self.redact_json(response);
            }
        }
        changed
    }

    fn redact_messages(&self, messages: &mut [Message]) -> usize {
        let mut changed = 0;
        for message in messages {
            changed += self.redact_parts(&mut message.parts);
        }
        changed
    }

    fn redact_parts(&self, parts: &mut [Part]) -> usize {
        let mut changed = 0;
        for part in parts {
            changed += match part {
                Part::Text { content } | Part::Reasoning { content } => {
                    usize::from(self.redact_string(content))
                }
                Part::ToolCall { arguments, .. } => self.redact_json(arguments),
                Part::ToolCallResponse { response, .. } => self.redact_json(response),
                Part::Other(map) => {
                    let mut changed = 0;
                    for (_, value) in map.iter_mut() {
                        changed += self.redact_json(value);
                    }
                    changed
                }
            };
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KeyValue, Source};
    use crate::redact::Redactor;

    const OPENAI_KEY: &str = "sk-proj-Zx81bQ2mN4vR7tY0uI3oP6aS9dF5gH1jK";

    fn policy() -> Arc<Policy> {
        Redactor::built_in().policy_for("default")
    }

    #[test]
    fn nested_attribute_values_are_redacted_and_other_types_kept() {
        let mut attributes = Attributes::new(vec![
            KeyValue::new("a", Value::String(format!("key {OPENAI_KEY}"))),
            KeyValue::new(
                "b",
                Value::Array(vec![Value::Int(4), Value::String(OPENAI_KEY.into())]),
            ),
            KeyValue::new(
                "c",
                Value::KvList(vec![KeyValue::new("d", Value::String(OPENAI_KEY.into()))]),
            ),
        ]);
        assert_eq!(policy().redact_attributes(&mut attributes), 3);
        assert_eq!(attributes.str("a"), Some("key [REDACTED:openai_key]"));
        assert_eq!(
            attributes.get("b"),
            Some(&Value::Array(vec![
                Value::Int(4),
                Value::String("[REDACTED:openai_key]".into())
            ]))
        );
    }

    #[test]
    fn a_raw_call_is_redacted_in_content_and_in_the_recorded_exchange() {
        let mut call = Call::new(crate::model::CallId::derived(1, b"t"), Source::Raw, 1);
        call.input_messages = Some(vec![Message::new(
            "user",
            vec![Part::text(format!("use {OPENAI_KEY}"))],
        )]);
        call.raw = Some(crate::model::RawExchange {
            format: "openai.chat".into(),
            request: serde_json::json!({"messages": [{"content": OPENAI_KEY}]}),
            response: None,
        });
        assert_eq!(policy().redact_call(&mut call), 2);
        let stored = serde_json::to_string(&call).expect("json");
        assert!(!stored.contains(OPENAI_KEY));
        assert!(stored.contains("[REDACTED:openai_key]"));
    }
}
