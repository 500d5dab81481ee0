//! Tool-call agreement: did the candidate ask for the same tools, with the
//! same arguments, as the original?
//!
//! Calls are paired by name as multisets (order does not matter: parallel
//! tool calls come in any order). Among calls of one name, pairs with equal
//! arguments are made first, so `[f(1), f(2)]` against `[f(2), f(1)]` agrees
//! fully. Arguments are compared as parsed JSON with key order ignored; an
//! argument string that holds JSON (sources that did not parse it) is
//! parsed first.
//!
//! The score gives each paired call half a point for the name and half for
//! equal arguments, divided by the larger of the two call counts, so missing
//! or extra calls pull it down: identical calls score 1, no common tool 0.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::json::json_equal;
use super::text::ToolCall;

/// The detail behind a tool-call agreement score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCallAgreement {
    /// In [0, 1]; see the module docs.
    pub score: f64,
    pub original_calls: usize,
    pub candidate_calls: usize,
    /// Calls paired by name.
    pub matched_names: usize,
    /// Paired calls whose arguments are equal too.
    pub matched_arguments: usize,
    /// The tool names are the same multiset.
    pub same_names: bool,
}

/// Agreement between two lists of tool calls; `None` when neither side
/// called a tool (nothing to agree on).
pub fn tool_call_agreement(
    original: &[ToolCall],
    candidate: &[ToolCall],
) -> Option<ToolCallAgreement> {
    if original.is_empty() && candidate.is_empty() {
        return None;
    }
    let mut unmatched: Vec<Option<&ToolCall>> = candidate.iter().map(Some).collect();
    let mut matched_names = 0usize;
    let mut matched_arguments = 0usize;
    let mut unpaired_original: Vec<&ToolCall> = Vec::new();

    // First pass: same name and equal arguments.
    for call in original {
        match take_match(&mut unmatched, call, true) {
            Some(_) => {
                matched_names += 1;
                matched_arguments += 1;
            }
            None => unpaired_original.push(call),
        }
    }
    // Second pass: same name only.
    for call in unpaired_original {
        if take_match(&mut unmatched, call, false).is_some() {
            matched_names += 1;
        }
    }

    let larger = original.len().max(candidate.len());
    let score = (matched_names + matched_arguments) as f64 / (2 * larger) as f64;
    Some(ToolCallAgreement {
        score,
        original_calls: original.len(),
        candidate_calls: candidate.len(),
        matched_names,
        matched_arguments,
        same_names: matched_names == original.len() && matched_names == candidate.len(),
    })
}

fn take_match<'a>(
    unmatched: &mut [Option<&'a ToolCall>],
    call: &ToolCall,
    require_equal_arguments: bool,
) -> Option<&'a ToolCall> {
    for slot in unmatched.iter_mut() {
        let Some(other) = *slot else { continue };
        if other.name != call.name {
            continue;
        }
        if require_equal_arguments && !arguments_equal(&call.arguments, &other.arguments) {
            continue;
        }
        *slot = None;
        return Some(other);
    }
    None
}

/// Arguments equal as JSON, parsing JSON held in strings first.
pub fn arguments_equal(a: &Json, b: &Json) -> bool {
    json_equal(&parsed(a), &parsed(b))
}

fn parsed(arguments: &Json) -> Json {
    if let Json::String(text) = arguments
        && let Ok(value) = serde_json::from_str::<Json>(text)
    {
        return value;
    }
    arguments.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(name: &str, arguments: Json) -> ToolCall {
        ToolCall {
            name: name.into(),
            arguments,
        }
    }

    #[test]
    fn identical_calls_in_any_order_agree_fully() {
        let original = [
            call("f", json!({"x": 1})),
            call("f", json!({"x": 2})),
            call("g", json!({})),
        ];
        let candidate = [
            call("g", json!({})),
            call("f", json!({"x": 2})),
            call("f", json!({"x": 1})),
        ];
        let agreement = tool_call_agreement(&original, &candidate).expect("applicable");
        assert!((agreement.score - 1.0).abs() < 1e-12);
        assert!(agreement.same_names);
        assert_eq!(agreement.matched_arguments, 3);
    }

    #[test]
    fn argument_strings_and_key_order_do_not_matter() {
        let original = [call("search", json!({"q": "rust", "limit": 5}))];
        let candidate = [call("search", json!("{\"limit\": 5.0, \"q\": \"rust\"}"))];
        let agreement = tool_call_agreement(&original, &candidate).expect("applicable");
        assert_eq!(agreement.matched_arguments, 1);
    }

    #[test]
    fn partial_agreement_is_scored_by_halves() {
        // original: f(1), g(1); candidate: f(2), h(1), i()
        // f pairs by name only (½), g is unmatched; larger count 3
        // score = (1 name + 0 args) / (2·3) = 1/6
        let original = [call("f", json!({"a": 1})), call("g", json!({"a": 1}))];
        let candidate = [
            call("f", json!({"a": 2})),
            call("h", json!({"a": 1})),
            call("i", json!({})),
        ];
        let agreement = tool_call_agreement(&original, &candidate).expect("applicable");
        assert!((agreement.score - 1.0 / 6.0).abs() < 1e-12);
        assert!(!agreement.same_names);
        assert_eq!(
            (agreement.matched_names, agreement.matched_arguments),
            (1, 0)
        );
    }

    #[test]
    fn missing_calls_score_zero_and_no_calls_is_not_applicable() {
        let original = [call("f", json!({}))];
        let agreement = tool_call_agreement(&original, &[]).expect("applicable");
        assert!(agreement.score.abs() < 1e-12);
        assert_eq!(tool_call_agreement(&[], &[]), None);
    }
}
