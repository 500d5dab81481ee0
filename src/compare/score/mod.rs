//! The one entry point that scores a pair: every applicable scorer run on an
//! original answer and a candidate answer, collected in a serializable
//! [`Scores`] record that storage keeps as JSON and aggregation reads back.
//!
//! A scorer that does not apply leaves its field `null`: text scorers when
//! neither answer has a text part (a pure tool-call exchange), JSON scorers
//! when the original was not JSON and the caller did not say JSON was
//! expected, tool-call agreement when neither side called a tool, cosine when
//! no embeddings were given. Aggregates count only the records where a score
//! applies, so `null` never turns into a zero.
//!
//! The scorers: text similarity ([`similarity`]), JSON agreement ([`json`]),
//! tool-call agreement ([`tools`]) and refusals ([`refusal`]), over answers
//! read once into [`text::Answer`].

pub mod json;
pub mod refusal;
pub mod similarity;
pub mod text;
pub mod tools;

use serde::{Deserialize, Serialize};

use self::json::{extract_json, structure_agreement, value_agreement};
use self::refusal::{Refusal, RefusalDetector, RefusalPatternError};
use self::similarity::{chrf, cosine_similarity, exact_match, normalized_match, rouge_l, token_f1};
use self::text::Answer;
use self::tools::{ToolCallAgreement, tool_call_agreement};
use crate::model::Message;

/// What to score: one original answer and one candidate answer.
#[derive(Clone, Copy, Debug, Default)]
pub struct PairInput<'a> {
    /// The original call's output messages.
    pub original: &'a [Message],
    /// The candidate's output messages.
    pub candidate: &'a [Message],
    /// The request asked for JSON (a `response_format`), so the candidate's
    /// JSON validity matters even when the original was not valid JSON.
    pub expect_json: bool,
    /// Embeddings of the original and candidate answer texts, when the
    /// caller computed them.
    pub embeddings: Option<(&'a [f32], &'a [f32])>,
}

/// Every score for one pair. Missing fields read as `null` so records
/// written before a scorer existed still load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Scores {
    pub exact_match: Option<bool>,
    pub normalized_match: Option<bool>,
    pub token_f1: Option<f64>,
    pub rouge_l: Option<f64>,
    pub chrf: Option<f64>,
    /// Candidate characters / original characters (Unicode scalar values).
    pub length_ratio: Option<f64>,
    pub json_valid: Option<bool>,
    pub json_structure: Option<f64>,
    pub json_values: Option<f64>,
    pub tool_calls: Option<ToolCallAgreement>,
    pub original_refusal: Option<Refusal>,
    pub candidate_refusal: Option<Refusal>,
    pub embedding_cosine: Option<f64>,
}

/// Which per-call score stands for "similarity" in aggregates and in the
/// worst-regressions list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SimilarityMetric {
    #[default]
    TokenF1,
    RougeL,
    Chrf,
    EmbeddingCosine,
    JsonValues,
    ToolCalls,
}

impl SimilarityMetric {
    /// The metric's value in `scores`, when it applied.
    pub fn pick(self, scores: &Scores) -> Option<f64> {
        match self {
            SimilarityMetric::TokenF1 => scores.token_f1,
            SimilarityMetric::RougeL => scores.rouge_l,
            SimilarityMetric::Chrf => scores.chrf,
            SimilarityMetric::EmbeddingCosine => scores.embedding_cosine,
            SimilarityMetric::JsonValues => scores.json_values,
            SimilarityMetric::ToolCalls => scores.tool_calls.as_ref().map(|t| t.score),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SimilarityMetric::TokenF1 => "token_f1",
            SimilarityMetric::RougeL => "rouge_l",
            SimilarityMetric::Chrf => "chrf",
            SimilarityMetric::EmbeddingCosine => "embedding_cosine",
            SimilarityMetric::JsonValues => "json_values",
            SimilarityMetric::ToolCalls => "tool_calls",
        }
    }
}

/// Runs the scorers. Built once (it holds compiled refusal patterns) and
/// shared across pairs.
#[derive(Clone, Debug)]
pub struct Scorer {
    refusals: RefusalDetector,
}

impl Scorer {
    pub fn new(refusals: RefusalDetector) -> Self {
        Self { refusals }
    }

    /// A scorer with the default English refusal patterns.
    pub fn english() -> Result<Self, RefusalPatternError> {
        Ok(Self::new(RefusalDetector::english()?))
    }

    /// Every applicable score for one pair.
    pub fn score_pair(&self, input: &PairInput<'_>) -> Scores {
        let original = Answer::from_messages(input.original);
        let candidate = Answer::from_messages(input.candidate);
        let mut scores = Scores {
            tool_calls: tool_call_agreement(&original.tool_calls, &candidate.tool_calls),
            original_refusal: self.refusals.detect(&original),
            candidate_refusal: self.refusals.detect(&candidate),
            embedding_cosine: input.embeddings.and_then(|(a, b)| cosine_similarity(a, b)),
            ..Scores::default()
        };
        if original.has_text || candidate.has_text {
            score_text(&original.text, &candidate.text, &mut scores);
            score_json(
                &original.text,
                &candidate.text,
                input.expect_json,
                &mut scores,
            );
        }
        scores
    }
}

fn score_text(original: &str, candidate: &str, scores: &mut Scores) {
    scores.exact_match = Some(exact_match(original, candidate));
    scores.normalized_match = Some(normalized_match(original, candidate));
    scores.token_f1 = Some(token_f1(original, candidate));
    scores.rouge_l = rouge_l(original, candidate);
    scores.chrf = Some(chrf(original, candidate));
    scores.length_ratio = length_ratio(original, candidate);
}

fn score_json(original: &str, candidate: &str, expect_json: bool, scores: &mut Scores) {
    let original_json = extract_json(original);
    let candidate_json = extract_json(candidate);
    if original_json.is_none() && !expect_json {
        return;
    }
    scores.json_valid = Some(candidate_json.is_some());
    let Some(original_json) = original_json else {
        return;
    };
    // An original JSON answer that the candidate did not reproduce as JSON
    // agrees on nothing.
    let (structure, values) = match &candidate_json {
        Some(candidate_json) => (
            structure_agreement(&original_json, candidate_json),
            value_agreement(&original_json, candidate_json),
        ),
        None => (0.0, 0.0),
    };
    scores.json_structure = Some(structure);
    scores.json_values = Some(values);
}

/// Candidate length over original length, in characters; `None` when the
/// original is empty (the ratio is undefined).
pub fn length_ratio(original: &str, candidate: &str) -> Option<f64> {
    let original_chars = original.chars().count();
    if original_chars == 0 {
        return None;
    }
    Some(candidate.chars().count() as f64 / original_chars as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Part;
    use serde_json::json;

    fn scorer() -> Scorer {
        Scorer::english().expect("default patterns compile")
    }

    fn text(content: &str) -> Vec<Message> {
        vec![Message::text("assistant", content)]
    }

    #[test]
    fn text_pair_gets_text_scores_only() {
        let original = text("Paris is the capital.");
        let candidate = text("paris is the capital");
        let scores = scorer().score_pair(&PairInput {
            original: &original,
            candidate: &candidate,
            ..PairInput::default()
        });
        assert_eq!(scores.exact_match, Some(false));
        assert_eq!(scores.normalized_match, Some(true));
        assert_eq!(scores.token_f1, Some(1.0));
        assert_eq!(scores.rouge_l, Some(1.0));
        // 20 characters over 21
        assert_eq!(scores.length_ratio, Some(20.0 / 21.0));
        assert_eq!(scores.json_valid, None);
        assert_eq!(scores.tool_calls, None);
        assert_eq!(scores.candidate_refusal, None);
        assert_eq!(scores.embedding_cosine, None);
    }

    #[test]
    fn json_original_scores_candidate_json() {
        let original = text(r#"{"name": "Ada", "age": 36}"#);
        let candidate = text("Sure!\n```json\n{\"age\": 36, \"name\": \"Ada L.\"}\n```");
        let scores = scorer().score_pair(&PairInput {
            original: &original,
            candidate: &candidate,
            ..PairInput::default()
        });
        assert_eq!(scores.json_valid, Some(true));
        assert_eq!(scores.json_structure, Some(1.0));
        // /age equal, /name differs: 1 of 2 leaves
        assert_eq!(scores.json_values, Some(0.5));

        let prose = text("Her name is Ada and she is 36.");
        let scores = scorer().score_pair(&PairInput {
            original: &original,
            candidate: &prose,
            ..PairInput::default()
        });
        assert_eq!(scores.json_valid, Some(false));
        assert_eq!(scores.json_structure, Some(0.0));
        assert_eq!(scores.json_values, Some(0.0));
    }

    #[test]
    fn expected_json_checks_validity_without_agreement() {
        let original = text("not json");
        let candidate = text("[1, 2]");
        let scores = scorer().score_pair(&PairInput {
            original: &original,
            candidate: &candidate,
            expect_json: true,
            ..PairInput::default()
        });
        assert_eq!(scores.json_valid, Some(true));
        assert_eq!(scores.json_structure, None);
    }

    #[test]
    fn tool_call_answers_skip_text_scores() {
        let call = |city: &str| {
            vec![Message::new(
                "assistant",
                vec![Part::ToolCall {
                    id: None,
                    name: "weather".into(),
                    arguments: json!({"city": city}),
                }],
            )]
        };
        let original = call("Tokyo");
        let candidate = call("Osaka");
        let scores = scorer().score_pair(&PairInput {
            original: &original,
            candidate: &candidate,
            ..PairInput::default()
        });
        assert_eq!(scores.token_f1, None);
        assert_eq!(scores.exact_match, None);
        let tools = scores.tool_calls.expect("tool calls scored");
        assert_eq!(tools.score, 0.5);
        assert_eq!(scores.candidate_refusal, None);
    }

    #[test]
    fn refusals_and_embeddings_are_recorded() {
        let original = text("Here is the recipe.");
        let candidate = text("I'm sorry, but I can't help with that.");
        let scores = scorer().score_pair(&PairInput {
            original: &original,
            candidate: &candidate,
            embeddings: Some((&[1.0, 0.0], &[1.0, 0.0])),
            ..PairInput::default()
        });
        assert_eq!(scores.original_refusal, None);
        assert_eq!(
            scores.candidate_refusal,
            Some(Refusal::Pattern("cannot_help".into()))
        );
        assert_eq!(scores.embedding_cosine, Some(1.0));
    }

    #[test]
    fn scores_round_trip_through_json_and_old_records_load() {
        let original = text("a b c");
        let candidate = text("a b d");
        let scores = scorer().score_pair(&PairInput {
            original: &original,
            candidate: &candidate,
            ..PairInput::default()
        });
        let stored = serde_json::to_string(&scores).expect("serialize");
        let loaded: Scores = serde_json::from_str(&stored).expect("deserialize");
        assert_eq!(loaded, scores);
        let old: Scores = serde_json::from_str(r#"{"token_f1": 0.5}"#).expect("partial record");
        assert_eq!(old.token_f1, Some(0.5));
        assert_eq!(old.chrf, None);
    }

    #[test]
    fn similarity_metric_picks_its_field() {
        let scores = Scores {
            token_f1: Some(0.25),
            chrf: Some(0.5),
            ..Scores::default()
        };
        assert_eq!(SimilarityMetric::TokenF1.pick(&scores), Some(0.25));
        assert_eq!(SimilarityMetric::Chrf.pick(&scores), Some(0.5));
        assert_eq!(SimilarityMetric::RougeL.pick(&scores), None);
    }
}
