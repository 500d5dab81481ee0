//! What an answer is, for scoring, and how its text is normalized.
//!
//! An [`Answer`] is read from a call's output messages: the first message
//! (choice 0, the same one `Call::output_text` shows), its text parts joined
//! with `\n`, its tool calls, and whether the provider sent an explicit
//! `refusal` part. Reasoning parts are left out on purpose: two models reason
//! differently on the way to the same answer, and the answer is what the
//! application consumed.
//!
//! Normalization, used by normalized match, token F1 and ROUGE-L, is:
//! Unicode NFKC (so full-width letters, ligatures and compatibility forms
//! compare equal to their plain forms), then Unicode lower-casing, then
//! splitting on whitespace, then stripping non-alphanumeric characters from
//! both ends of each token (`"Paris."` → `paris`, `"(hi)"` → `hi`, while
//! `3.14` and `don't` keep their inner punctuation), dropping tokens that were
//! only punctuation. Unlike the SQuAD script it does not delete English
//! articles, because replayed traffic is in any language.

use serde_json::Value as Json;
use unicode_normalization::UnicodeNormalization;

use crate::model::{Message, Part};

/// One tool call as the model asked for it.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Json,
}

/// The scoreable content of one side of a pair.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Answer {
    /// Text parts of the first output message joined with `\n`; empty when
    /// there were none.
    pub text: String,
    /// Whether the message had at least one text part (an empty string part
    /// counts: the model answered with nothing).
    pub has_text: bool,
    pub tool_calls: Vec<ToolCall>,
    /// The provider marked the answer as a refusal with a `refusal` part
    /// (OpenAI structured outputs do this).
    pub refusal_part: bool,
}

impl Answer {
    /// Reads choice 0 of a call's output messages. No messages at all gives
    /// an empty answer, which the refusal scorer reports as empty.
    pub fn from_messages(messages: &[Message]) -> Answer {
        let Some(first) = messages.first() else {
            return Answer::default();
        };
        let mut answer = Answer::default();
        let mut texts: Vec<&str> = Vec::new();
        for part in &first.parts {
            match part {
                Part::Text { content } => texts.push(content),
                Part::ToolCall {
                    name, arguments, ..
                } => answer.tool_calls.push(ToolCall {
                    name: name.clone(),
                    arguments: arguments.clone(),
                }),
                Part::Other(map) => {
                    if map.get("type").and_then(Json::as_str) == Some("refusal") {
                        answer.refusal_part = true;
                    }
                }
                Part::ToolCallResponse { .. } | Part::Reasoning { .. } => {}
            }
        }
        answer.has_text = !texts.is_empty();
        answer.text = texts.join("\n");
        answer
    }

    /// Nothing to read: no text (or only whitespace) and no tool call.
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty() && self.tool_calls.is_empty()
    }
}

/// The normalized tokens of `text` (see the module docs for the steps).
pub fn normalized_tokens(text: &str) -> Vec<String> {
    let folded: String = text.nfkc().collect::<String>().to_lowercase();
    let mut tokens = Vec::new();
    for word in folded.split_whitespace() {
        let token = word.trim_matches(|c: char| !c.is_alphanumeric());
        if !token.is_empty() {
            tokens.push(token.to_owned());
        }
    }
    tokens
}

/// The normalized form of `text`: its normalized tokens joined by one space.
pub fn normalize(text: &str) -> String {
    normalized_tokens(text).join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalization_folds_case_width_and_surrounding_punctuation() {
        // Full-width "ＰＡＲＩＳ" is NFKC-equivalent to "PARIS".
        assert_eq!(
            normalize("  The capital is ＰＡＲＩＳ!!  "),
            "the capital is paris"
        );
        assert_eq!(normalize("(hi) — don't stop: 3.14."), "hi don't stop 3.14");
        assert_eq!(normalize("... --- !!!"), "");
    }

    #[test]
    fn answer_reads_first_message_text_tools_and_refusal_part() {
        let refusal: serde_json::Map<String, Json> =
            serde_json::from_value(json!({"type": "refusal", "content": "no"})).expect("map");
        let messages = vec![
            Message::new(
                "assistant",
                vec![
                    Part::Reasoning {
                        content: "thinking".into(),
                    },
                    Part::text("a"),
                    Part::ToolCall {
                        id: Some("1".into()),
                        name: "f".into(),
                        arguments: json!({"x": 1}),
                    },
                    Part::text("b"),
                    Part::Other(refusal),
                ],
            ),
            Message::text("assistant", "second choice is ignored"),
        ];
        let answer = Answer::from_messages(&messages);
        assert_eq!(answer.text, "a\nb");
        assert!(answer.has_text);
        assert_eq!(answer.tool_calls.len(), 1);
        assert_eq!(answer.tool_calls[0].name, "f");
        assert!(answer.refusal_part);
    }

    #[test]
    fn no_messages_is_an_empty_answer() {
        let answer = Answer::from_messages(&[]);
        assert!(answer.is_empty());
        assert!(!answer.has_text);
        let whitespace = Answer::from_messages(&[Message::text("assistant", " \n ")]);
        assert!(whitespace.is_empty());
        assert!(whitespace.has_text);
    }
}
