//! Finish reasons in OpenTelemetry's words.
//!
//! Each SDK spells why a model stopped its own way (`tool_calls`,
//! `tool-calls`, `tool_use`, `end_turn`, `max_tokens`, `STOP`, …), so
//! grouping or filtering by finish reason would split one meaning into
//! several. A call's finish reasons are stored as the values of the
//! [GenAI output messages schema](https://github.com/open-telemetry/semantic-conventions/blob/main/docs/gen-ai/gen-ai-output-messages.json)
//! (`stop`, `length`, `content_filter`, `tool_call`, `error`); a word
//! outside that list is kept as it was. The spelling the source used is
//! kept in the call's attributes under [`ORIGINAL_FINISH_REASONS`].

use serde_json::Value as Json;

use super::Call;

/// The call attribute holding the finish reasons as the source spelled
/// them, when normalizing changed any of them.
pub const ORIGINAL_FINISH_REASONS: &str = "original_finish_reasons";

/// The OpenTelemetry word for a finish reason, or `None` when the word is
/// not one whose meaning is known (it is then kept as it is).
pub fn otel_finish_reason(word: &str) -> Option<&'static str> {
    let key = word.trim().to_ascii_lowercase().replace('-', "_");
    let otel = match key.as_str() {
        // OpenAI, Anthropic (`end_turn`, `stop_sequence`), the Responses
        // API's status, Gemini (`STOP`), Bedrock (`end_turn`), Cohere.
        "stop" | "end_turn" | "stop_sequence" | "completed" | "complete" | "end" | "eos"
        | "complete_stop" => "stop",
        "length"
        | "max_tokens"
        | "max_output_tokens"
        | "model_context_window_exceeded"
        | "max_length"
        | "token_limit" => "length",
        "tool_call" | "tool_calls" | "tool_use" | "function_call" | "function_calls" => "tool_call",
        "content_filter"
        | "content_filtered"
        | "refusal"
        | "safety"
        | "recitation"
        | "blocklist"
        | "prohibited_content"
        | "spii"
        | "guardrail_intervened" => "content_filter",
        "error" | "failed" => "error",
        _ => return None,
    };
    Some(otel)
}

/// A finish reason in OpenTelemetry's words, or as it was.
pub fn normalized_finish_reason(word: &str) -> String {
    otel_finish_reason(word).map_or_else(|| word.to_owned(), str::to_owned)
}

impl Call {
    /// Puts the call's finish reasons, and those of its output messages, in
    /// OpenTelemetry's words, keeping the source's spelling in
    /// [`ORIGINAL_FINISH_REASONS`]. Normalizing twice changes nothing, and
    /// an original recorded earlier (a re-imported export, a call folded
    /// into another) is never overwritten.
    pub fn normalize_finish_reasons(&mut self) {
        let call_originals = self.finish_reasons.clone();
        let mut call_changed = false;
        for reason in self.finish_reasons.iter_mut().flatten() {
            call_changed |= normalize_in_place(reason);
        }
        let mut message_originals = Vec::new();
        let mut messages_changed = false;
        for message in self.output_messages.iter_mut().flatten() {
            if let Some(reason) = &mut message.finish_reason {
                message_originals.push(reason.clone());
                messages_changed |= normalize_in_place(reason);
            }
        }
        // The call's own list is what the source reported; the messages'
        // reasons stand in only when the source had no list.
        let originals = if call_changed {
            call_originals
        } else if self.finish_reasons.is_none() && messages_changed {
            Some(message_originals)
        } else {
            None
        };
        if let Some(originals) = originals {
            self.attributes
                .entry(ORIGINAL_FINISH_REASONS)
                .or_insert_with(|| Json::from(originals));
        }
    }
}

/// Rewrites `reason` in OpenTelemetry's words; says whether it changed.
fn normalize_in_place(reason: &mut String) -> bool {
    let normalized = normalized_finish_reason(reason);
    if normalized == *reason {
        return false;
    }
    *reason = normalized;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallId, Message, Source};

    #[test]
    fn each_sdk_spelling_maps_to_one_word() {
        for (word, otel) in [
            ("tool-calls", "tool_call"),
            ("tool_calls", "tool_call"),
            ("tool_call", "tool_call"),
            ("tool_use", "tool_call"),
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("STOP", "stop"),
            ("max_tokens", "length"),
            ("MAX_TOKENS", "length"),
            ("content-filter", "content_filter"),
            ("SAFETY", "content_filter"),
            ("error", "error"),
        ] {
            assert_eq!(normalized_finish_reason(word), otel, "{word}");
        }
        assert_eq!(normalized_finish_reason("pause_turn"), "pause_turn");
        assert_eq!(normalized_finish_reason("other"), "other");
    }

    #[test]
    fn the_original_spelling_is_kept_once() {
        let mut call = Call::new(CallId::derived(1, b"f"), Source::Raw, 1);
        call.finish_reasons = Some(vec!["tool-calls".into()]);
        let mut message = Message::new("assistant", Vec::new());
        message.finish_reason = Some("tool-calls".into());
        call.output_messages = Some(vec![message]);
        call.normalize_finish_reasons();
        assert_eq!(call.finish_reasons, Some(vec!["tool_call".to_owned()]));
        let messages = call.output_messages.as_ref().expect("messages");
        assert_eq!(messages[0].finish_reason.as_deref(), Some("tool_call"));
        assert_eq!(
            call.attributes[ORIGINAL_FINISH_REASONS],
            serde_json::json!(["tool-calls"])
        );
        let once = call.clone();
        call.normalize_finish_reasons();
        assert_eq!(call, once, "normalizing twice changes nothing");
    }

    #[test]
    fn words_already_in_otel_spelling_add_no_attribute() {
        let mut call = Call::new(CallId::derived(1, b"g"), Source::Raw, 1);
        call.finish_reasons = Some(vec!["stop".into(), "pause_turn".into()]);
        call.normalize_finish_reasons();
        assert!(!call.attributes.contains_key(ORIGINAL_FINISH_REASONS));
    }
}
