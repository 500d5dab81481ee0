//! One view of a chat request, whichever API it came in on.
//!
//! [`Prompt::from_openai`] and [`Prompt::from_anthropic`] check the request
//! the way the real APIs do (same required fields, same error messages as
//! far as they are documented) and flatten every message to text: that is
//! all the fake provider needs to derive answers and count tokens.

use serde_json::{Map, Value as Json};

use super::seed::stable_hash;
use super::wire::ApiError;

/// A chat request, reduced to what answers are derived from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Prompt {
    pub model: String,
    /// System instructions first (as role `system`), then the messages.
    pub messages: Vec<PromptMessage>,
    pub tools: Vec<ToolSpec>,
    pub tool_choice: ToolChoice,
    /// `max_completion_tokens`/`max_tokens`: answers are cut to this many words.
    pub max_output_tokens: Option<u64>,
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`; Anthropic streams always carry usage.
    pub include_usage: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PromptMessage {
    pub role: String,
    /// Text parts, tool call names and arguments, and tool results, joined
    /// by newlines.
    pub text: String,
}

/// A tool the model may call, with its JSON schema for the arguments.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ToolSpec {
    pub name: String,
    pub schema: Json,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ToolChoice {
    Auto,
    None,
    Required,
    Named(String),
}

/// Whitespace-separated words: the fake provider's token count, the same
/// for prompts and answers, JSON and streams.
pub(crate) fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

impl Prompt {
    /// The text of the last `user` message ("" when there is none).
    pub(crate) fn last_user_text(&self) -> &str {
        for message in self.messages.iter().rev() {
            if message.role == "user" {
                return &message.text;
            }
        }
        ""
    }

    /// Every message's text, in order, one per line.
    pub(crate) fn full_text(&self) -> String {
        let mut text = String::new();
        for message in &self.messages {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&message.text);
        }
        text
    }

    pub(crate) fn input_tokens(&self) -> u64 {
        let mut total = 0;
        for message in &self.messages {
            total += count_words(&message.text);
        }
        total
    }

    /// A stable hash of the conversation (roles and texts, not the model),
    /// used to seed answers and to recognise a retried prompt.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(self.messages.len() * 2);
        for message in &self.messages {
            parts.push(message.role.as_bytes());
            parts.push(message.text.as_bytes());
        }
        stable_hash(&parts)
    }

    /// Reads an OpenAI Chat Completions request body.
    pub(crate) fn from_openai(body: &Json) -> Result<Prompt, ApiError> {
        let Some(object) = body.as_object() else {
            return Err(ApiError::invalid("The request body must be a JSON object."));
        };
        let model = match object.get("model") {
            Some(Json::String(model)) => model.clone(),
            Some(_) => return Err(openai_invalid_type("model", "a string")),
            None => return Err(ApiError::invalid("you must provide a model parameter")),
        };
        let items = match object.get("messages") {
            Some(Json::Array(items)) => items,
            Some(_) => return Err(openai_invalid_type("messages", "an array of objects")),
            None => {
                return Err(ApiError::invalid("Missing required parameter: 'messages'.")
                    .with_param("messages")
                    .with_code("missing_required_parameter"));
            }
        };
        if items.is_empty() {
            return Err(ApiError::invalid(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, \
                 but got an empty array instead.",
            )
            .with_param("messages")
            .with_code("empty_array"));
        }
        let mut messages = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            messages.push(openai_message(index, item)?);
        }
        let tools = openai_tools(object.get("tools"))?;
        let tool_choice = openai_tool_choice(object.get("tool_choice"))?;
        let max_output_tokens = optional_u64(object, "max_completion_tokens")
            .or_else(|| optional_u64(object, "max_tokens"));
        let stream = object
            .get("stream")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let include_usage = object
            .get("stream_options")
            .and_then(|options| options.get("include_usage"))
            .and_then(Json::as_bool)
            .unwrap_or(false);
        Ok(Prompt {
            model,
            messages,
            tools,
            tool_choice,
            max_output_tokens,
            stream,
            include_usage,
        })
    }

    /// Reads an Anthropic Messages request body.
    pub(crate) fn from_anthropic(body: &Json) -> Result<Prompt, ApiError> {
        let Some(object) = body.as_object() else {
            return Err(ApiError::invalid("Input should be a valid dictionary"));
        };
        let model = match object.get("model") {
            Some(Json::String(model)) => model.clone(),
            Some(_) => return Err(ApiError::invalid("model: Input should be a valid string")),
            None => return Err(ApiError::invalid("model: Field required")),
        };
        let max_tokens = match object.get("max_tokens") {
            Some(value) => match value.as_u64() {
                Some(0) => {
                    return Err(ApiError::invalid(
                        "max_tokens: Input should be greater than or equal to 1",
                    ));
                }
                Some(count) => count,
                None => {
                    return Err(ApiError::invalid(
                        "max_tokens: Input should be a valid integer",
                    ));
                }
            },
            None => return Err(ApiError::invalid("max_tokens: Field required")),
        };
        let items = match object.get("messages") {
            Some(Json::Array(items)) => items,
            Some(_) => return Err(ApiError::invalid("messages: Input should be a valid list")),
            None => return Err(ApiError::invalid("messages: Field required")),
        };
        if items.is_empty() {
            return Err(ApiError::invalid(
                "messages: at least one message is required",
            ));
        }
        let mut messages = Vec::with_capacity(items.len() + 1);
        if let Some(system) = object.get("system") {
            messages.push(PromptMessage {
                role: "system".to_string(),
                text: anthropic_system_text(system)?,
            });
        }
        for (index, item) in items.iter().enumerate() {
            messages.push(anthropic_message(index, item)?);
        }
        let tools = anthropic_tools(object.get("tools"))?;
        let tool_choice = anthropic_tool_choice(object.get("tool_choice"))?;
        let stream = object
            .get("stream")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        Ok(Prompt {
            model,
            messages,
            tools,
            tool_choice,
            max_output_tokens: Some(max_tokens),
            stream,
            include_usage: true,
        })
    }
}

fn openai_invalid_type(field: &str, expected: &str) -> ApiError {
    ApiError::invalid(format!("Invalid type for '{field}': expected {expected}."))
        .with_param(field)
        .with_code("invalid_type")
}

fn optional_u64(object: &Map<String, Json>, key: &str) -> Option<u64> {
    object.get(key).and_then(Json::as_u64)
}

fn openai_message(index: usize, item: &Json) -> Result<PromptMessage, ApiError> {
    let Some(role) = item.get("role").and_then(Json::as_str) else {
        return Err(ApiError::invalid(format!(
            "Missing required parameter: 'messages[{index}].role'."
        ))
        .with_param(format!("messages[{index}].role"))
        .with_code("missing_required_parameter"));
    };
    let mut pieces: Vec<String> = Vec::new();
    match item.get("content") {
        Some(Json::String(text)) => pieces.push(text.clone()),
        Some(Json::Array(parts)) => {
            for part in parts {
                // Text and refusal parts carry text; images and audio do not
                // count toward the fake's word-based token counts.
                for key in ["text", "refusal"] {
                    if let Some(text) = part.get(key).and_then(Json::as_str) {
                        pieces.push(text.to_string());
                    }
                }
            }
        }
        _ => {}
    }
    if let Some(Json::Array(calls)) = item.get("tool_calls") {
        for call in calls {
            let function = call.get("function");
            let name = function.and_then(|f| f.get("name")).and_then(Json::as_str);
            let arguments = function
                .and_then(|f| f.get("arguments"))
                .and_then(Json::as_str);
            pieces.push(format!(
                "{} {}",
                name.unwrap_or(""),
                arguments.unwrap_or("")
            ));
        }
    }
    Ok(PromptMessage {
        role: role.to_string(),
        text: pieces.join("\n"),
    })
}

fn openai_tools(tools: Option<&Json>) -> Result<Vec<ToolSpec>, ApiError> {
    let mut specs = Vec::new();
    let Some(Json::Array(items)) = tools else {
        return Ok(specs);
    };
    for (index, item) in items.iter().enumerate() {
        let function = item.get("function");
        let Some(name) = function.and_then(|f| f.get("name")).and_then(Json::as_str) else {
            return Err(ApiError::invalid(format!(
                "Missing required parameter: 'tools[{index}].function.name'."
            ))
            .with_param(format!("tools[{index}].function.name"))
            .with_code("missing_required_parameter"));
        };
        let schema = function
            .and_then(|f| f.get("parameters"))
            .cloned()
            .unwrap_or(Json::Null);
        specs.push(ToolSpec {
            name: name.to_string(),
            schema,
        });
    }
    Ok(specs)
}

/// OpenAI's shapes: `"none"`, `"auto"`, `"required"`, or
/// `{"type": "function", "function": {"name": …}}`; anything else is
/// refused as OpenAI refuses it (Anthropic's `{"type": "auto"}` included).
fn openai_tool_choice(choice: Option<&Json>) -> Result<ToolChoice, ApiError> {
    let invalid = |value: &Json| {
        ApiError::invalid(format!(
            "Invalid value for 'tool_choice': {value}. Expected 'none', 'auto', 'required', \
             or an object naming a function."
        ))
        .with_param("tool_choice")
    };
    match choice {
        None | Some(Json::Null) => Ok(ToolChoice::Auto),
        Some(Json::String(mode)) => match mode.as_str() {
            "none" => Ok(ToolChoice::None),
            "auto" => Ok(ToolChoice::Auto),
            "required" => Ok(ToolChoice::Required),
            _ => Err(invalid(choice.unwrap_or(&Json::Null))),
        },
        Some(value @ Json::Object(object)) => {
            let name = object
                .get("function")
                .and_then(|function| function.get("name"))
                .and_then(Json::as_str);
            match (object.get("type").and_then(Json::as_str), name) {
                (Some("function"), Some(name)) => Ok(ToolChoice::Named(name.to_string())),
                _ => Err(invalid(value)),
            }
        }
        Some(value) => Err(invalid(value)),
    }
}

fn anthropic_system_text(system: &Json) -> Result<String, ApiError> {
    match system {
        Json::String(text) => Ok(text.clone()),
        Json::Array(blocks) => Ok(anthropic_blocks_text(blocks)),
        _ => Err(ApiError::invalid(
            "system: Input should be a valid string or a valid list",
        )),
    }
}

fn anthropic_message(index: usize, item: &Json) -> Result<PromptMessage, ApiError> {
    let role = match item.get("role").and_then(Json::as_str) {
        Some(role @ ("user" | "assistant")) => role,
        Some(_) => {
            return Err(ApiError::invalid(format!(
                "messages.{index}.role: Input should be 'user' or 'assistant'"
            )));
        }
        None => {
            return Err(ApiError::invalid(format!(
                "messages.{index}.role: Field required"
            )));
        }
    };
    let text = match item.get("content") {
        Some(Json::String(text)) => text.clone(),
        Some(Json::Array(blocks)) => anthropic_blocks_text(blocks),
        Some(_) => {
            return Err(ApiError::invalid(format!(
                "messages.{index}.content: Input should be a valid string or a valid list"
            )));
        }
        None => {
            return Err(ApiError::invalid(format!(
                "messages.{index}.content: Field required"
            )));
        }
    };
    Ok(PromptMessage {
        role: role.to_string(),
        text,
    })
}

fn anthropic_blocks_text(blocks: &[Json]) -> String {
    let mut pieces: Vec<String> = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Json::as_str) {
            Some("text") => {
                if let Some(text) = block.get("text").and_then(Json::as_str) {
                    pieces.push(text.to_string());
                }
            }
            Some("tool_use") => {
                let name = block.get("name").and_then(Json::as_str).unwrap_or("");
                let input = block.get("input").map(Json::to_string).unwrap_or_default();
                pieces.push(format!("{name} {input}"));
            }
            Some("tool_result") => match block.get("content") {
                Some(Json::String(text)) => pieces.push(text.clone()),
                Some(Json::Array(inner)) => pieces.push(anthropic_blocks_text(inner)),
                _ => {}
            },
            _ => {}
        }
    }
    pieces.join("\n")
}

fn anthropic_tools(tools: Option<&Json>) -> Result<Vec<ToolSpec>, ApiError> {
    let mut specs = Vec::new();
    let Some(Json::Array(items)) = tools else {
        return Ok(specs);
    };
    for (index, item) in items.iter().enumerate() {
        let Some(name) = item.get("name").and_then(Json::as_str) else {
            return Err(ApiError::invalid(format!(
                "tools.{index}.name: Field required"
            )));
        };
        let schema = item.get("input_schema").cloned().unwrap_or(Json::Null);
        specs.push(ToolSpec {
            name: name.to_string(),
            schema,
        });
    }
    Ok(specs)
}

/// Anthropic's shapes: `{"type": "auto" | "any" | "none"}` or
/// `{"type": "tool", "name": …}`; anything else (OpenAI's `"auto"`
/// string included) is refused as Anthropic refuses it.
fn anthropic_tool_choice(choice: Option<&Json>) -> Result<ToolChoice, ApiError> {
    let Some(choice) = choice else {
        return Ok(ToolChoice::Auto);
    };
    let invalid = || {
        ApiError::invalid(format!(
            "tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', \
             'tool', 'none' (got {choice})"
        ))
    };
    match choice.get("type").and_then(Json::as_str) {
        Some("auto") => Ok(ToolChoice::Auto),
        Some("none") => Ok(ToolChoice::None),
        Some("any") => Ok(ToolChoice::Required),
        Some("tool") => match choice.get("name").and_then(Json::as_str) {
            Some(name) => Ok(ToolChoice::Named(name.to_string())),
            None => Err(ApiError::invalid("tool_choice.tool.name: Field required")),
        },
        _ => Err(invalid()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_request_flattens_parts_and_tool_calls() {
        let prompt = Prompt::from_openai(&json!({
            "model": "gpt-test",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
            ],
            "max_completion_tokens": 9,
            "stream": true,
            "stream_options": {"include_usage": true}
        }))
        .unwrap();
        assert_eq!(prompt.last_user_text(), "Weather in Paris?");
        assert_eq!(prompt.messages[2].text, "get_weather {\"city\":\"Paris\"}");
        assert_eq!(prompt.input_tokens(), 2 + 3 + 2 + 1);
        assert_eq!(prompt.max_output_tokens, Some(9));
        assert!(prompt.stream && prompt.include_usage);
    }

    #[test]
    fn openai_missing_messages_names_the_parameter() {
        let error = Prompt::from_openai(&json!({"model": "m"})).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("messages"));
        assert_eq!(error.code.as_deref(), Some("missing_required_parameter"));
    }

    #[test]
    fn anthropic_request_requires_max_tokens_and_list_messages() {
        let missing = Prompt::from_anthropic(&json!({"model": "c", "messages": []})).unwrap_err();
        assert_eq!(missing.message, "max_tokens: Field required");
        let not_list =
            Prompt::from_anthropic(&json!({"model": "c", "max_tokens": 5, "messages": "hi"}))
                .unwrap_err();
        assert_eq!(not_list.message, "messages: Input should be a valid list");
    }

    #[test]
    fn anthropic_request_reads_system_blocks_and_tool_results() {
        let prompt = Prompt::from_anthropic(&json!({
            "model": "claude-test",
            "max_tokens": 100,
            "system": [{"type": "text", "text": "You judge."}],
            "messages": [
                {"role": "user", "content": "hello there"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "done"}]}
            ],
            "tool_choice": {"type": "tool", "name": "f"}
        }))
        .unwrap();
        assert_eq!(prompt.messages[0].role, "system");
        assert_eq!(prompt.messages[0].text, "You judge.");
        assert_eq!(prompt.messages[2].text, "f {\"a\":1}");
        assert_eq!(prompt.last_user_text(), "done");
        assert_eq!(prompt.tool_choice, ToolChoice::Named("f".to_string()));
        assert_eq!(prompt.max_output_tokens, Some(100));
    }

    #[test]
    fn fingerprint_ignores_the_model() {
        let body =
            |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "x"}]});
        let first = Prompt::from_openai(&body("a")).unwrap();
        let second = Prompt::from_openai(&body("b")).unwrap();
        assert_eq!(first.fingerprint(), second.fingerprint());
    }

    #[test]
    fn tool_choice_is_refused_in_the_other_providers_shape() {
        let openai = |choice: Json| {
            Prompt::from_openai(&json!({
                "model": "m", "messages": [{"role": "user", "content": "hi"}], "tool_choice": choice
            }))
            .map(|p| p.tool_choice)
        };
        assert_eq!(openai(json!("auto")).unwrap(), ToolChoice::Auto);
        assert_eq!(openai(json!("required")).unwrap(), ToolChoice::Required);
        assert_eq!(
            openai(json!({"type": "function", "function": {"name": "f"}})).unwrap(),
            ToolChoice::Named("f".into())
        );
        assert!(openai(json!({"type": "auto"})).is_err());
        assert!(openai(json!("any")).is_err());

        let anthropic = |choice: Json| {
            Prompt::from_anthropic(&json!({
                "model": "m", "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}], "tool_choice": choice
            }))
            .map(|p| p.tool_choice)
        };
        assert_eq!(
            anthropic(json!({"type": "any"})).unwrap(),
            ToolChoice::Required
        );
        assert_eq!(
            anthropic(json!({"type": "tool", "name": "f"})).unwrap(),
            ToolChoice::Named("f".into())
        );
        assert!(anthropic(json!("auto")).is_err());
        assert!(anthropic(json!({"type": "function", "function": {"name": "f"}})).is_err());
    }
}
