//! Checks of the workload itself, run in smoke mode (the run `cargo test
//! --benches` makes): the same seed must give the same bytes, or results
//! of two runs are not comparable; and the content attributes must be the
//! JSON the GenAI conventions describe (or, for the OpenInference workload,
//! say the same thing flattened and as the provider request), or the
//! benchmark would measure the server's handling of garbage.

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::common::v1::any_value;
use serde_json::Value;

use crate::batches::Request;
use crate::error::BenchError;
use crate::traffic::{Convention, Workload};

/// BLAKE3 of the request bodies in send order, shortened to 16 bytes of
/// hex: names the workload in reports.
pub fn digest(requests: &[Request]) -> String {
    let mut hasher = blake3::Hasher::new();
    for request in requests {
        hasher.update(&(request.body.len() as u64).to_le_bytes());
        hasher.update(&request.body);
    }
    let hash = hasher.finalize();
    crate::traffic::hex(&hash.as_bytes()[..16])
}

pub fn same_digest(first: &str, second: &str) -> Result<(), BenchError> {
    if first != second {
        return Err(BenchError::SelfCheck(format!(
            "two generations with the same seed differ ({first} vs {second})"
        )));
    }
    Ok(())
}

const JSON_ARRAY_ATTRIBUTES: &[&str] = &[
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
];

/// The content attributes of the workload's convention are valid.
pub fn content_is_valid(workload: &Workload) -> Result<(), BenchError> {
    match workload.convention {
        Convention::GenAi => genai_content_is_valid(workload),
        Convention::OpenInference => openinference_content_is_valid(workload),
    }
}

/// Every LLM call has input messages, and every content attribute is a
/// JSON array whose messages have a role and parts with a type.
fn genai_content_is_valid(workload: &Workload) -> Result<(), BenchError> {
    for generated in &workload.spans {
        if !generated.llm_call {
            continue;
        }
        let mut has_input = false;
        for attribute in &generated.span.attributes {
            if !JSON_ARRAY_ATTRIBUTES.contains(&attribute.key.as_str()) {
                continue;
            }
            let text = match attribute.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(text)) => text,
                _ => return Err(invalid(&attribute.key, "is not a string")),
            };
            let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) else {
                return Err(invalid(&attribute.key, "is not a JSON array"));
            };
            if attribute.key.ends_with("messages") {
                check_messages(&attribute.key, &items)?;
            }
            has_input |= attribute.key == "gen_ai.input.messages";
        }
        if !has_input {
            return Err(invalid("gen_ai.input.messages", "is missing"));
        }
    }
    Ok(())
}

fn check_messages(key: &str, messages: &[Value]) -> Result<(), BenchError> {
    if messages.is_empty() {
        return Err(invalid(key, "is empty"));
    }
    for message in messages {
        if message.get("role").and_then(Value::as_str).is_none() {
            return Err(invalid(key, "has a message without a role"));
        }
        let Some(parts) = message.get("parts").and_then(Value::as_array) else {
            return Err(invalid(key, "has a message without parts"));
        };
        for part in parts {
            if part.get("type").and_then(Value::as_str).is_none() {
                return Err(invalid(key, "has a part without a type"));
            }
        }
    }
    Ok(())
}

fn invalid(key: &str, what: &str) -> BenchError {
    BenchError::SelfCheck(format!("an LLM span's {key} {what}"))
}

const INPUT_MESSAGES: &str = "llm.input_messages.";
/// OpenInference attributes that hold JSON text.
const OPENINFERENCE_JSON: &[&str] = &["input.value", "output.value", "llm.invocation_parameters"];

/// Every model call is an `LLM` span whose `input.value` is the provider
/// request holding as many messages as `llm.input_messages.N` flattens
/// (the Anthropic request's top-level `system` is message 0 there), each
/// flattened message has a role, and every JSON attribute parses.
fn openinference_content_is_valid(workload: &Workload) -> Result<(), BenchError> {
    for generated in &workload.spans {
        if !generated.llm_call {
            continue;
        }
        let mut strings = HashMap::new();
        for attribute in &generated.span.attributes {
            if let Some(any_value::Value::StringValue(text)) =
                attribute.value.as_ref().and_then(|v| v.value.as_ref())
            {
                strings.insert(attribute.key.as_str(), text.as_str());
            }
        }
        if strings.get("openinference.span.kind") != Some(&"LLM") {
            return Err(invalid("openinference.span.kind", "is not LLM"));
        }
        for (key, text) in &strings {
            let is_json = OPENINFERENCE_JSON.contains(key) || key.ends_with(".tool.json_schema");
            if is_json && serde_json::from_str::<Value>(text).is_err() {
                return Err(invalid(key, "is not JSON"));
            }
        }
        let request: Value = strings
            .get("input.value")
            .and_then(|text| serde_json::from_str(text).ok())
            .ok_or_else(|| invalid("input.value", "is missing"))?;
        let Some(messages) = request.get("messages").and_then(Value::as_array) else {
            return Err(invalid("input.value", "has no messages"));
        };
        let expected = messages.len() + usize::from(request.get("system").is_some());
        let roles = flattened_roles(&strings)?;
        if roles.len() != expected {
            return Err(invalid(
                INPUT_MESSAGES,
                &format!(
                    "flattens {} messages, input.value has {expected}",
                    roles.len()
                ),
            ));
        }
    }
    Ok(())
}

/// The role of each `llm.input_messages.N`, by N; every N from 0 up must
/// have one.
fn flattened_roles<'a>(
    strings: &HashMap<&str, &'a str>,
) -> Result<BTreeMap<usize, &'a str>, BenchError> {
    let mut roles = BTreeMap::new();
    for (key, value) in strings {
        let Some(rest) = key.strip_prefix(INPUT_MESSAGES) else {
            continue;
        };
        let Some((index, field)) = rest.split_once('.') else {
            return Err(invalid(key, "has no message index"));
        };
        let index: usize = index
            .parse()
            .map_err(|_| invalid(key, "has no message index"))?;
        if field == "message.role" {
            roles.insert(index, *value);
        }
    }
    if roles
        .keys()
        .enumerate()
        .any(|(position, index)| position != *index)
    {
        return Err(invalid(INPUT_MESSAGES, "skips an index or a role"));
    }
    Ok(roles)
}
