//! Tool choice: whether the model may, must or must not call a tool, or
//! which one it must call. Every source spells it its own way, so a
//! recorded choice is read from any of the shapes below and written in the
//! shape of the API a replay talks to.
//!
//! | API | shapes |
//! |---|---|
//! | OpenAI Chat Completions | `"auto"`, `"none"`, `"required"`, `{"type":"function","function":{"name":N}}`; legacy `function_call`: `"auto"`, `"none"`, `{"name":N}` |
//! | OpenAI Responses | `"auto"`, `"none"`, `"required"`, `{"type":"function","name":N}` |
//! | Anthropic Messages | `{"type":"auto"}`, `{"type":"any"}`, `{"type":"none"}`, `{"type":"tool","name":N}` (each may add `disable_parallel_tool_use`) |
//! | Vercel AI SDK (`ai.prompt.toolChoice`) | `{"type":"auto"}`, `{"type":"none"}`, `{"type":"required"}`, `{"type":"tool","toolName":N}` |
//!
//! Anthropic's `any` and the others' `required` are one meaning. The
//! canonical call stores the flat shape (`"auto" | "none" | "required" |
//! {"type":"function","name":N}`, which is also OpenAI Responses'). Shapes
//! none of these APIs share (OpenAI's `allowed_tools`, hosted tools such as
//! `{"type":"file_search"}`) are not a [`ToolChoice`] and stay as recorded.

use serde_json::{Value as Json, json};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool call.
    None,
    /// Some tool call (Anthropic: `any`).
    Required,
    /// A call of this tool.
    Tool(String),
}

impl ToolChoice {
    /// Reads a choice in any of the shapes of the module table; `None` for
    /// anything else.
    pub fn from_json(choice: &Json) -> Option<ToolChoice> {
        match choice {
            Json::String(word) => Self::from_word(word),
            Json::Object(object) => {
                let kind = object.get("type").and_then(Json::as_str);
                let name = object
                    .get("function")
                    .and_then(|function| function.get("name"))
                    .or_else(|| object.get("name"))
                    .or_else(|| object.get("toolName"))
                    .and_then(Json::as_str);
                match (kind, name) {
                    (Some("function" | "tool") | None, Some(name)) => {
                        Some(ToolChoice::Tool(name.to_owned()))
                    }
                    (Some(word), None) => Self::from_word(word),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn from_word(word: &str) -> Option<ToolChoice> {
        match word {
            "auto" => Some(ToolChoice::Auto),
            "none" => Some(ToolChoice::None),
            "required" | "any" => Some(ToolChoice::Required),
            _ => None,
        }
    }

    fn word(&self) -> Option<&'static str> {
        match self {
            ToolChoice::Auto => Some("auto"),
            ToolChoice::None => Some("none"),
            ToolChoice::Required => Some("required"),
            ToolChoice::Tool(_) => None,
        }
    }

    /// The canonical call's flat shape (the same as OpenAI Responses').
    pub fn to_canonical(&self) -> Json {
        self.to_openai_responses()
    }

    pub fn to_openai_chat(&self) -> Json {
        match self {
            ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
            other => json!(other.word()),
        }
    }

    pub fn to_openai_responses(&self) -> Json {
        match self {
            ToolChoice::Tool(name) => json!({"type": "function", "name": name}),
            other => json!(other.word()),
        }
    }

    pub fn to_anthropic(&self) -> Json {
        match self {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
        }
    }

    pub fn to_vercel(&self) -> Json {
        match self {
            ToolChoice::Tool(name) => json!({"type": "tool", "toolName": name}),
            other => json!({"type": other.word()}),
        }
    }
}

/// A recorded choice in the canonical shape; one that is not a
/// [`ToolChoice`] is kept as it was.
pub fn canonical_tool_choice(choice: &Json) -> Json {
    match ToolChoice::from_json(choice) {
        Some(choice) => choice.to_canonical(),
        None => choice.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str) -> ToolChoice {
        ToolChoice::Tool(name.to_owned())
    }

    /// Each API's documented shapes, read and written back the same.
    fn documented() -> Vec<(&'static str, Json, ToolChoice)> {
        vec![
            ("openai.chat", json!("auto"), ToolChoice::Auto),
            ("openai.chat", json!("none"), ToolChoice::None),
            ("openai.chat", json!("required"), ToolChoice::Required),
            (
                "openai.chat",
                json!({"type": "function", "function": {"name": "get_weather"}}),
                tool("get_weather"),
            ),
            ("openai.responses", json!("auto"), ToolChoice::Auto),
            ("openai.responses", json!("none"), ToolChoice::None),
            ("openai.responses", json!("required"), ToolChoice::Required),
            (
                "openai.responses",
                json!({"type": "function", "name": "get_weather"}),
                tool("get_weather"),
            ),
            ("anthropic", json!({"type": "auto"}), ToolChoice::Auto),
            ("anthropic", json!({"type": "any"}), ToolChoice::Required),
            ("anthropic", json!({"type": "none"}), ToolChoice::None),
            (
                "anthropic",
                json!({"type": "tool", "name": "get_weather"}),
                tool("get_weather"),
            ),
            ("vercel", json!({"type": "auto"}), ToolChoice::Auto),
            ("vercel", json!({"type": "none"}), ToolChoice::None),
            ("vercel", json!({"type": "required"}), ToolChoice::Required),
            (
                "vercel",
                json!({"type": "tool", "toolName": "get_weather"}),
                tool("get_weather"),
            ),
        ]
    }

    fn write(api: &str, choice: &ToolChoice) -> Json {
        match api {
            "openai.chat" => choice.to_openai_chat(),
            "openai.responses" => choice.to_openai_responses(),
            "anthropic" => choice.to_anthropic(),
            "vercel" => choice.to_vercel(),
            other => panic!("no API {other}"),
        }
    }

    #[test]
    fn every_documented_shape_reads_and_writes_back_the_same() {
        for (api, shape, expected) in documented() {
            let read = ToolChoice::from_json(&shape);
            assert_eq!(read.as_ref(), Some(&expected), "{api}: {shape}");
            assert_eq!(write(api, &expected), shape, "{api}: {expected:?}");
        }
    }

    #[test]
    fn every_shape_translates_to_every_api() {
        let apis = ["openai.chat", "openai.responses", "anthropic", "vercel"];
        for (from, shape, meaning) in documented() {
            for to in apis {
                let written = write(to, &ToolChoice::from_json(&shape).expect("read"));
                let expected = documented()
                    .into_iter()
                    .find(|(api, _, m)| *api == to && *m == meaning)
                    .map(|(_, shape, _)| shape)
                    .expect("documented");
                assert_eq!(written, expected, "{from} {shape} → {to}");
            }
        }
    }

    #[test]
    fn the_ai_sdk_and_anthropic_auto_object_becomes_the_openai_word() {
        let auto = ToolChoice::from_json(&json!({"type": "auto"})).expect("auto");
        assert_eq!(auto.to_openai_chat(), json!("auto"));
        assert_eq!(auto.to_anthropic(), json!({"type": "auto"}));
        let required = ToolChoice::from_json(&json!("required")).expect("required");
        assert_eq!(required.to_anthropic(), json!({"type": "any"}));
        let any = ToolChoice::from_json(&json!({"type": "any"})).expect("any");
        assert_eq!(any.to_openai_chat(), json!("required"));
    }

    #[test]
    fn legacy_function_call_and_parallel_flags_are_read() {
        assert_eq!(
            ToolChoice::from_json(&json!({"name": "f"})),
            Some(tool("f"))
        );
        assert_eq!(
            ToolChoice::from_json(&json!({"type": "any", "disable_parallel_tool_use": true})),
            Some(ToolChoice::Required)
        );
    }

    #[test]
    fn shapes_no_api_shares_are_kept_as_recorded() {
        for other in [
            json!({"type": "file_search"}),
            json!({"type": "allowed_tools", "mode": "auto", "tools": []}),
            json!("sometimes"),
            json!(3),
        ] {
            assert_eq!(ToolChoice::from_json(&other), None, "{other}");
            assert_eq!(canonical_tool_choice(&other), other);
        }
        assert_eq!(
            canonical_tool_choice(&json!({"type": "tool", "toolName": "f"})),
            json!({"type": "function", "name": "f"})
        );
    }
}
