//! Which provider API a body is in: its name, its aliases and a guess from
//! the fields only one API has.

use serde_json::Value as Json;

/// The provider APIs whose bodies reprise reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// OpenAI Chat Completions (`/chat/completions`) and compatible servers.
    OpenAiChat,
    /// OpenAI Responses API (`/responses`).
    OpenAiResponses,
    /// Anthropic Messages (`/messages`).
    Anthropic,
}

impl WireFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WireFormat::OpenAiChat => "openai.chat",
            WireFormat::OpenAiResponses => "openai.responses",
            WireFormat::Anthropic => "anthropic.messages",
        }
    }

    /// Accepts the names of [`WireFormat::as_str`] and a few obvious aliases.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "openai.chat" | "openai" | "chat_completions" | "chat.completions" => {
                Some(WireFormat::OpenAiChat)
            }
            "openai.responses" | "responses" => Some(WireFormat::OpenAiResponses),
            "anthropic.messages" | "anthropic" | "messages" => Some(WireFormat::Anthropic),
            _ => None,
        }
    }

    /// Guesses the format of a request body from fields only one API has.
    /// `None` when the body fits more than one (a bare `{model, messages}`
    /// is valid for both OpenAI and Anthropic): ask the user then.
    pub fn detect(request: &Json) -> Option<Self> {
        let object = request.as_object()?;
        if object.contains_key("input") || object.contains_key("instructions") {
            return Some(WireFormat::OpenAiResponses);
        }
        let anthropic_only = ["system", "stop_sequences", "top_k", "thinking"];
        let openai_only = [
            "functions",
            "n",
            "seed",
            "frequency_penalty",
            "presence_penalty",
            "response_format",
            "max_completion_tokens",
            "stream_options",
            "stop",
            "logprobs",
        ];
        let has_any = |keys: &[&str]| keys.iter().any(|key| object.contains_key(*key));
        if has_any(&anthropic_only) {
            return Some(WireFormat::Anthropic);
        }
        if has_any(&openai_only) {
            return Some(WireFormat::OpenAiChat);
        }
        let messages = object.get("messages")?.as_array()?;
        for message in messages {
            if let Some("system" | "developer" | "tool" | "function") =
                message.get("role").and_then(Json::as_str)
            {
                return Some(WireFormat::OpenAiChat);
            }
            if let Some(blocks) = message.get("content").and_then(Json::as_array) {
                for block in blocks {
                    match block.get("type").and_then(Json::as_str) {
                        Some("tool_use" | "tool_result" | "image" | "thinking" | "document") => {
                            return Some(WireFormat::Anthropic);
                        }
                        Some("image_url" | "input_audio") => return Some(WireFormat::OpenAiChat),
                        _ => {}
                    }
                }
            }
            if message.get("tool_calls").is_some() {
                return Some(WireFormat::OpenAiChat);
            }
        }
        None
    }
}
