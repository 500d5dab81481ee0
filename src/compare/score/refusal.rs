//! Refusal and empty-answer detection.
//!
//! A candidate that refuses where the original answered is a regression no
//! similarity score shows clearly, so it is detected on its own. An answer
//! is a refusal when the provider marked it with a `refusal` part, or when
//! one of [`DEFAULT_REFUSAL_PATTERNS`] matches within its first
//! [`REFUSAL_WINDOW_CHARS`] characters. Only the opening is searched because
//! refusals lead with the refusal, while a long helpful answer may well say
//! "I'm sorry, but" halfway through about something else.
//!
//! The default list is English only and errs towards phrasings that are
//! nearly always refusals; users can pass their own list (patterns use the
//! `regex` crate's syntax and are matched case-insensitively).

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use super::text::Answer;

/// How many leading characters of an answer the patterns are matched in.
pub const REFUSAL_WINDOW_CHARS: usize = 400;

/// The default refusal phrasings, as `(name, pattern)`. The name is what a
/// detection reports, so stored results say why an answer was flagged.
pub const DEFAULT_REFUSAL_PATTERNS: &[(&str, &str)] = &[
    (
        "cannot_help",
        r"\bI\s*(?:can(?:no|['’])t|can\s+not|am\s+(?:not\s+able|unable)|['’]m\s+(?:not\s+able|unable))\s+(?:to\s+)?(?:help|assist|comply|fulfill|provide|do\s+(?:that|this)|answer|support)\b",
    ),
    (
        "will_not",
        r"\bI\s*(?:won['’]t|will\s+not|must\s+decline|have\s+to\s+decline|['’]m\s+not\s+going\s+to)\s+(?:help|assist|comply|provide|do\s+that|answer|engage)\b",
    ),
    (
        "as_an_ai",
        r"\bAs\s+an\s+AI(?:\s+(?:language\s+model|assistant|model))?\s*,",
    ),
    (
        "sorry_but",
        r"\b(?:I['’]m|I\s+am)\s+(?:very\s+|really\s+)?sorry,?\s+but\s+I\b",
    ),
    (
        "apologize_but",
        r"\bI\s+apologi[sz]e,?\s+but\s+I\s+(?:can(?:no|['’])t|won['’]t|will\s+not|am\s+unable|['’]m\s+unable)",
    ),
    (
        "not_appropriate",
        r"\b(?:it(?:['’]s|\s+is)\s+not\s+appropriate\s+for\s+me|against\s+my\s+(?:guidelines|programming|policies))\b",
    ),
];

/// Why an answer was flagged, or that it was empty. Stored as `"empty"`,
/// `"refusal_part"` or `{"pattern": NAME}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// No text (or only whitespace) and no tool call.
    Empty,
    /// The provider sent a `refusal` part.
    RefusalPart,
    /// A pattern matched; holds the pattern's name.
    Pattern(String),
}

#[derive(Debug, thiserror::Error)]
#[error("refusal pattern {name:?} is not a valid regular expression: {source}; fix or remove it")]
pub struct RefusalPatternError {
    pub name: String,
    #[source]
    pub source: regex::Error,
}

/// A compiled list of refusal patterns.
#[derive(Clone, Debug)]
pub struct RefusalDetector {
    patterns: Vec<(String, Regex)>,
}

impl RefusalDetector {
    /// Compiles `(name, pattern)` pairs, case-insensitively.
    pub fn new<'a>(
        patterns: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, RefusalPatternError> {
        let mut compiled = Vec::new();
        for (name, pattern) in patterns {
            let regex = RegexBuilder::new(pattern)
                .case_insensitive(true)
                .build()
                .map_err(|source| RefusalPatternError {
                    name: name.to_owned(),
                    source,
                })?;
            compiled.push((name.to_owned(), regex));
        }
        Ok(Self { patterns: compiled })
    }

    /// The detector for [`DEFAULT_REFUSAL_PATTERNS`].
    pub fn english() -> Result<Self, RefusalPatternError> {
        Self::new(DEFAULT_REFUSAL_PATTERNS.iter().copied())
    }

    /// The name of the first pattern that matches the opening of `text`.
    pub fn matching_pattern(&self, text: &str) -> Option<&str> {
        let window = leading_chars(text, REFUSAL_WINDOW_CHARS);
        for (name, regex) in &self.patterns {
            if regex.is_match(window) {
                return Some(name);
            }
        }
        None
    }

    /// Whether `answer` is empty or a refusal, and which.
    pub fn detect(&self, answer: &Answer) -> Option<Refusal> {
        if answer.refusal_part {
            return Some(Refusal::RefusalPart);
        }
        if answer.is_empty() {
            return Some(Refusal::Empty);
        }
        self.matching_pattern(&answer.text)
            .map(|name| Refusal::Pattern(name.to_owned()))
    }
}

fn leading_chars(text: &str, count: usize) -> &str {
    match text.char_indices().nth(count) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Message;

    fn detector() -> RefusalDetector {
        RefusalDetector::english().expect("the default patterns compile")
    }

    #[test]
    fn common_refusals_are_detected_by_name() {
        let cases = [
            ("I can't help with that request.", "cannot_help"),
            ("I cannot assist with creating malware.", "cannot_help"),
            ("Sorry — I’m unable to provide that.", "cannot_help"),
            ("I'm unable to comply.", "cannot_help"),
            ("I won't help with this.", "will_not"),
            (
                "As an AI language model, I do not have opinions.",
                "as_an_ai",
            ),
            ("I'm sorry, but I can't share that.", "sorry_but"),
            (
                "I'm sorry, but I must point out the premise is false.",
                "sorry_but",
            ),
            ("I apologize, but I cannot do this.", "cannot_help"),
            (
                "It's not appropriate for me to speculate.",
                "not_appropriate",
            ),
        ];
        let detector = detector();
        for (text, name) in cases {
            assert_eq!(detector.matching_pattern(text), Some(name), "{text}");
        }
    }

    #[test]
    fn ordinary_answers_are_not_refusals() {
        let detector = detector();
        for text in [
            "The capital of France is Paris.",
            "You can't divide by zero, so the function returns None.",
            "Here is how I can help: first, install the package.",
            "The AI assistant feature is enabled in settings.",
            "As an AI researcher I disagree with the premise.",
        ] {
            assert_eq!(detector.matching_pattern(text), None, "{text}");
        }
    }

    #[test]
    fn only_the_opening_is_searched() {
        let detector = detector();
        let late = format!("{} I cannot help with that.", "word ".repeat(100));
        assert_eq!(detector.matching_pattern(&late), None);
        let early = format!("I cannot help with that. {}", "word ".repeat(100));
        assert_eq!(detector.matching_pattern(&early), Some("cannot_help"));
    }

    #[test]
    fn empty_answers_and_refusal_parts() {
        let detector = detector();
        let empty = Answer::from_messages(&[Message::text("assistant", "   ")]);
        assert_eq!(detector.detect(&empty), Some(Refusal::Empty));
        let answer = Answer {
            refusal_part: true,
            ..Answer::default()
        };
        assert_eq!(detector.detect(&answer), Some(Refusal::RefusalPart));
    }

    #[test]
    fn a_bad_user_pattern_is_a_typed_error() {
        let error = RefusalDetector::new([("broken", "(unclosed")]).expect_err("invalid regex");
        assert_eq!(error.name, "broken");
    }
}
