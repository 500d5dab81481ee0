//! What a judge answers: the structured output to ask for, a strict
//! verdict parser, and the combination of two judgements made in swapped
//! orders.
//!
//! Verdicts are parsed strictly: the judge's reply must hold exactly one JSON
//! object (alone, in a code fence, or after prose) with exactly the schema's
//! fields and values. Anything else is a typed error; no verdict is ever
//! guessed from prose, because a misread verdict silently biases the result
//! while an error is counted and retried.
//!
//! Position bias: judges favour one position, often the first. Each pair is
//! therefore judged twice, candidate as A and then candidate as B, and
//! [`combine_orders`] keeps an outcome only when both orders agree; any
//! disagreement is a tie flagged `position_inconsistent`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use super::template::{Position, TemplateKind};

/// The JSON schema of a pairwise verdict.
pub fn pairwise_verdict_schema() -> Json {
    json!({
        "type": "object",
        "properties": {
            "winner": {"type": "string", "enum": ["A", "B", "tie"]},
            "rationale": {"type": "string"}
        },
        "required": ["winner", "rationale"],
        "additionalProperties": false
    })
}

/// The JSON schema of a rubric score.
pub fn rubric_score_schema() -> Json {
    json!({
        "type": "object",
        "properties": {
            "score": {"type": "integer", "minimum": 1, "maximum": 10},
            "rationale": {"type": "string"}
        },
        "required": ["score", "rationale"],
        "additionalProperties": false
    })
}

/// The structured-output request for a template's verdict, in the OpenAI
/// `response_format` shape that `RequestParams::response_format` holds;
/// provider adapters translate it for other APIs.
pub fn response_format(kind: TemplateKind) -> Json {
    let (name, schema) = match kind {
        TemplateKind::Pairwise => ("pairwise_verdict", pairwise_verdict_schema()),
        TemplateKind::Rubric => ("rubric_score", rubric_score_schema()),
    };
    json!({
        "type": "json_schema",
        "json_schema": {"name": name, "strict": true, "schema": schema}
    })
}

/// The answer a pairwise judge preferred.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Winner {
    A,
    B,
    #[serde(rename = "tie")]
    Tie,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairwiseVerdict {
    pub winner: Winner,
    pub rationale: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RubricScore {
    /// 1 to 10.
    pub score: u8,
    pub rationale: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerdictError {
    #[error(
        "the judge reply holds no JSON object; ask the judge again with the structured output format"
    )]
    NoJson,
    #[error("the judge reply holds {0} JSON objects; exactly one verdict is required")]
    Ambiguous(usize),
    #[error("the judge verdict lacks the {0:?} field")]
    MissingField(&'static str),
    #[error(
        "the judge verdict has an unexpected field {0:?}; only the schema's fields are accepted"
    )]
    UnexpectedField(String),
    #[error("the judge verdict's {field:?} is {value}; expected {expected}")]
    InvalidValue {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// Parses a pairwise verdict strictly (see the module docs).
pub fn parse_pairwise_verdict(reply: &str) -> Result<PairwiseVerdict, VerdictError> {
    let object = single_object(reply)?;
    check_fields(&object, &["winner", "rationale"])?;
    let winner = match object.get("winner") {
        None => return Err(VerdictError::MissingField("winner")),
        Some(Json::String(text)) => parse_winner(text),
        Some(_) => None,
    };
    let Some(winner) = winner else {
        return Err(invalid(&object, "winner", "\"A\", \"B\" or \"tie\""));
    };
    Ok(PairwiseVerdict {
        winner,
        rationale: rationale(&object)?,
    })
}

/// Parses a rubric score strictly: an integer from 1 to 10 (`7.0` is
/// accepted as 7; `7.5` and `"7"` are not).
pub fn parse_rubric_score(reply: &str) -> Result<RubricScore, VerdictError> {
    let object = single_object(reply)?;
    check_fields(&object, &["score", "rationale"])?;
    let Some(value) = object.get("score") else {
        return Err(VerdictError::MissingField("score"));
    };
    let score = value
        .as_f64()
        .filter(|s| s.fract() == 0.0 && (1.0..=10.0).contains(s));
    let Some(score) = score else {
        return Err(invalid(&object, "score", "an integer from 1 to 10"));
    };
    Ok(RubricScore {
        score: score as u8,
        rationale: rationale(&object)?,
    })
}

fn parse_winner(text: &str) -> Option<Winner> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("a") {
        Some(Winner::A)
    } else if text.eq_ignore_ascii_case("b") {
        Some(Winner::B)
    } else if text.eq_ignore_ascii_case("tie") {
        Some(Winner::Tie)
    } else {
        None
    }
}

fn rationale(object: &Map<String, Json>) -> Result<String, VerdictError> {
    match object.get("rationale") {
        None => Err(VerdictError::MissingField("rationale")),
        Some(Json::String(text)) => Ok(text.clone()),
        Some(_) => Err(invalid(object, "rationale", "a string")),
    }
}

fn invalid(
    object: &Map<String, Json>,
    field: &'static str,
    expected: &'static str,
) -> VerdictError {
    let value = object.get(field).map(Json::to_string).unwrap_or_default();
    VerdictError::InvalidValue {
        field,
        value,
        expected,
    }
}

fn check_fields(object: &Map<String, Json>, allowed: &[&str]) -> Result<(), VerdictError> {
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(VerdictError::UnexpectedField(key.clone()));
        }
    }
    Ok(())
}

/// The one top-level JSON object in `reply`, wherever it sits in the text.
fn single_object(reply: &str) -> Result<Map<String, Json>, VerdictError> {
    let mut found: Vec<Map<String, Json>> = Vec::new();
    let mut offset = 0;
    while let Some(relative) = reply[offset..].find('{') {
        let start = offset + relative;
        let mut stream = serde_json::Deserializer::from_str(&reply[start..]).into_iter::<Json>();
        match stream.next() {
            Some(Ok(Json::Object(object))) => {
                found.push(object);
                offset = start + stream.byte_offset();
            }
            // Not JSON from this brace (prose like "{sic}"): try the next one.
            _ => offset = start + 1,
        }
    }
    match found.len() {
        0 => Err(VerdictError::NoJson),
        1 => Ok(found.remove(0)),
        count => Err(VerdictError::Ambiguous(count)),
    }
}

/// One pair's outcome from the candidate's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Win,
    Tie,
    Loss,
}

/// What a verdict means for the candidate, given where it was shown.
pub fn candidate_outcome(position: Position, winner: Winner) -> Outcome {
    match (position, winner) {
        (_, Winner::Tie) => Outcome::Tie,
        (Position::CandidateAsA, Winner::A) | (Position::CandidateAsB, Winner::B) => Outcome::Win,
        (Position::CandidateAsA, Winner::B) | (Position::CandidateAsB, Winner::A) => Outcome::Loss,
    }
}

/// Two judgements of one pair, combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairJudgement {
    pub outcome: Outcome,
    /// The two orders disagreed, so the outcome was set to a tie.
    pub position_inconsistent: bool,
}

/// Combines the verdict with the candidate as A and the verdict with the
/// candidate as B: equal outcomes stand, any disagreement is a tie.
pub fn combine_orders(candidate_as_a: Winner, candidate_as_b: Winner) -> PairJudgement {
    let first = candidate_outcome(Position::CandidateAsA, candidate_as_a);
    let second = candidate_outcome(Position::CandidateAsB, candidate_as_b);
    if first == second {
        PairJudgement {
            outcome: first,
            position_inconsistent: false,
        }
    } else {
        PairJudgement {
            outcome: Outcome::Tie,
            position_inconsistent: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_format_wraps_the_schema() {
        let format = response_format(TemplateKind::Pairwise);
        assert_eq!(format["type"], "json_schema");
        assert_eq!(format["json_schema"]["schema"], pairwise_verdict_schema());
        assert_eq!(
            response_format(TemplateKind::Rubric)["json_schema"]["schema"]["properties"]["score"]["maximum"],
            10
        );
    }

    #[test]
    fn verdicts_parse_alone_fenced_or_after_prose() {
        let expected = PairwiseVerdict {
            winner: Winner::B,
            rationale: "more precise".into(),
        };
        for reply in [
            r#"{"winner": "B", "rationale": "more precise"}"#,
            "```json\n{\"winner\": \"B\", \"rationale\": \"more precise\"}\n```",
            "After weighing both, my verdict:\n{\"rationale\": \"more precise\", \"winner\": \"b\"}",
        ] {
            assert_eq!(
                parse_pairwise_verdict(reply),
                Ok(expected.clone()),
                "{reply}"
            );
        }
        let tie = parse_pairwise_verdict(r#"{"winner": "tie", "rationale": ""}"#).expect("tie");
        assert_eq!(tie.winner, Winner::Tie);
    }

    #[test]
    fn verdicts_are_never_guessed_from_prose() {
        assert_eq!(
            parse_pairwise_verdict("Answer A is clearly better."),
            Err(VerdictError::NoJson)
        );
        assert_eq!(
            parse_pairwise_verdict(r#"{"winner": "Answer A", "rationale": "x"}"#),
            Err(VerdictError::InvalidValue {
                field: "winner",
                value: "\"Answer A\"".into(),
                expected: "\"A\", \"B\" or \"tie\""
            })
        );
        assert_eq!(
            parse_pairwise_verdict(r#"{"rationale": "x"}"#),
            Err(VerdictError::MissingField("winner"))
        );
        assert_eq!(
            parse_pairwise_verdict(r#"{"winner": "A"}"#),
            Err(VerdictError::MissingField("rationale"))
        );
        assert_eq!(
            parse_pairwise_verdict(r#"{"winner": "A", "rationale": "x", "confidence": 0.9}"#),
            Err(VerdictError::UnexpectedField("confidence".into()))
        );
        assert_eq!(
            parse_pairwise_verdict(
                r#"First {"winner": "A", "rationale": "x"} then {"winner": "B", "rationale": "y"}"#
            ),
            Err(VerdictError::Ambiguous(2))
        );
        assert_eq!(
            parse_pairwise_verdict(r#"["A"]"#),
            Err(VerdictError::NoJson)
        );
    }

    #[test]
    fn rubric_scores_parse_strictly() {
        let score = parse_rubric_score(r#"Score: {"score": 7, "rationale": "ok"}"#).expect("valid");
        assert_eq!(score.score, 7);
        assert_eq!(
            parse_rubric_score(r#"{"score": 10.0, "rationale": ""}"#).map(|s| s.score),
            Ok(10)
        );
        for bad in [
            r#"{"score": 0, "rationale": ""}"#,
            r#"{"score": 11, "rationale": ""}"#,
            r#"{"score": 7.5, "rationale": ""}"#,
            r#"{"score": "7", "rationale": ""}"#,
        ] {
            assert!(
                matches!(
                    parse_rubric_score(bad),
                    Err(VerdictError::InvalidValue { field: "score", .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_judge_that_always_prefers_the_first_answer_yields_flagged_ties() {
        // Candidate as A: A wins → candidate wins. Candidate as B: A wins →
        // the original wins. The orders disagree: tie, flagged.
        assert_eq!(
            combine_orders(Winner::A, Winner::A),
            PairJudgement {
                outcome: Outcome::Tie,
                position_inconsistent: true
            }
        );
        assert_eq!(
            combine_orders(Winner::B, Winner::B),
            PairJudgement {
                outcome: Outcome::Tie,
                position_inconsistent: true
            }
        );
    }

    #[test]
    fn consistent_orders_keep_their_outcome() {
        assert_eq!(combine_orders(Winner::A, Winner::B).outcome, Outcome::Win);
        assert_eq!(combine_orders(Winner::B, Winner::A).outcome, Outcome::Loss);
        let tie = combine_orders(Winner::Tie, Winner::Tie);
        assert_eq!(tie.outcome, Outcome::Tie);
        assert!(!tie.position_inconsistent);
        // A win in one order and a tie in the other is a disagreement too.
        assert!(combine_orders(Winner::A, Winner::Tie).position_inconsistent);
    }
}
