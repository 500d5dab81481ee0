//! JSON answers: finding the JSON document in an answer, and how closely a
//! candidate's document agrees with the original's.
//!
//! An answer "is JSON" when its whole trimmed text parses as a JSON object
//! or array, or when it contains a fenced code block (```` ```json ```` or a
//! bare ```` ``` ````) whose body does. Bare scalars (`42`, `true`, `"yes"`)
//! are ordinary short answers and do not count: agreement on a one-word
//! answer is what exact match is for.
//!
//! Agreement flattens both documents into JSON Pointer paths (RFC 6901, so a
//! key containing `/` or `.` cannot collide with a nested one), each node but
//! the root labelled with its type. Structure agreement is the share of the
//! union of paths that are present in both with the same type; value
//! agreement is the share of the union of leaf paths (scalars and empty
//! containers) that are present in both with equal values. Both are 1 for
//! identical documents and symmetric. Arrays are compared by index, so a
//! reordered list counts as disagreement: for most JSON outputs (ranked
//! results, extracted items in document order) order is part of the answer.

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// The JSON document an answer holds, if any (see the module docs).
pub fn extract_json(text: &str) -> Option<Json> {
    if let Some(document) = parse_document(text) {
        return Some(document);
    }
    let mut rest = text;
    while let Some(body) = next_fenced_block(&mut rest) {
        if let Some(document) = parse_document(body) {
            return Some(document);
        }
    }
    None
}

fn parse_document(text: &str) -> Option<Json> {
    let value: Json = serde_json::from_str(text.trim()).ok()?;
    if value.is_object() || value.is_array() {
        Some(value)
    } else {
        None
    }
}

/// The body of the next ```` ``` ```` fenced block in `rest`, advancing
/// `rest` past it. The info string (`json`, `JSON`, …) after the opening
/// fence is skipped, whatever it says.
fn next_fenced_block<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let open = rest.find("```")?;
    let after_fence = &rest[open + 3..];
    let body_start = after_fence.find('\n')? + 1;
    let body = &after_fence[body_start..];
    let Some(close) = body.find("```") else {
        *rest = "";
        return None;
    };
    *rest = &body[close + 3..];
    Some(&body[..close])
}

/// Fraction of paths present in both documents with the same type.
pub fn structure_agreement(original: &Json, candidate: &Json) -> f64 {
    let original_paths = flatten(original);
    let candidate_paths = flatten(candidate);
    let mut union = 0usize;
    let mut matching = 0usize;
    for (path, node) in &original_paths {
        union += 1;
        if let Some(other) = candidate_paths.get(path)
            && type_name(node) == type_name(other)
        {
            matching += 1;
        }
    }
    for path in candidate_paths.keys() {
        if !original_paths.contains_key(path) {
            union += 1;
        }
    }
    if union == 0 {
        // Two empty containers: they agree when they are the same kind.
        return if type_name(original) == type_name(candidate) {
            1.0
        } else {
            0.0
        };
    }
    matching as f64 / union as f64
}

/// Fraction of leaf paths present in both documents with equal values.
pub fn value_agreement(original: &Json, candidate: &Json) -> f64 {
    let original_leaves = leaves(original);
    let candidate_leaves = leaves(candidate);
    let mut union = 0usize;
    let mut matching = 0usize;
    for (path, node) in &original_leaves {
        union += 1;
        if let Some(other) = candidate_leaves.get(path)
            && json_equal(node, other)
        {
            matching += 1;
        }
    }
    for path in candidate_leaves.keys() {
        if !original_leaves.contains_key(path) {
            union += 1;
        }
    }
    if union == 0 {
        return 0.0;
    }
    matching as f64 / union as f64
}

/// JSON equality where key order does not matter and numbers compare by
/// value (`1` equals `1.0`).
pub fn json_equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                return x == y;
            }
            if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                return x == y;
            }
            x.as_f64() == y.as_f64()
        }
        (Json::Array(xs), Json::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| json_equal(x, y))
        }
        (Json::Object(xs), Json::Object(ys)) => {
            if xs.len() != ys.len() {
                return false;
            }
            for (key, x) in xs {
                match ys.get(key) {
                    Some(y) if json_equal(x, y) => {}
                    _ => return false,
                }
            }
            true
        }
        _ => a == b,
    }
}

fn type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// Every node below the root, by JSON Pointer.
fn flatten(root: &Json) -> BTreeMap<String, &Json> {
    let mut out = BTreeMap::new();
    visit_children(root, "", &mut |path, node| {
        out.insert(path.to_owned(), node);
    });
    out
}

/// Scalars and empty containers, by JSON Pointer; a scalar root is its own
/// leaf at `""`.
fn leaves(root: &Json) -> BTreeMap<String, &Json> {
    let mut out = BTreeMap::new();
    if is_leaf(root) {
        out.insert(String::new(), root);
        return out;
    }
    visit_children(root, "", &mut |path, node| {
        if is_leaf(node) {
            out.insert(path.to_owned(), node);
        }
    });
    out
}

fn is_leaf(value: &Json) -> bool {
    match value {
        Json::Array(items) => items.is_empty(),
        Json::Object(map) => map.is_empty(),
        _ => true,
    }
}

// Recursion depth is bounded by serde_json's own parse limit (128 levels).
fn visit_children<'a>(node: &'a Json, path: &str, visit: &mut dyn FnMut(&str, &'a Json)) {
    match node {
        Json::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let child = format!("{path}/{index}");
                visit(&child, item);
                visit_children(item, &child, visit);
            }
        }
        Json::Object(map) => {
            for (key, item) in map {
                let child = format!("{path}/{}", escape_pointer(key));
                visit(&child, item);
                visit_children(item, &child, visit);
            }
        }
        _ => {}
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_json_whole_or_fenced() {
        assert_eq!(extract_json(" {\"a\": 1} "), Some(json!({"a": 1})));
        let fenced = "Here you go:\n```json\n{\"a\": [1, 2]}\n```\nAnything else?";
        assert_eq!(extract_json(fenced), Some(json!({"a": [1, 2]})));
        let bare_fence = "```\n[true]\n```";
        assert_eq!(extract_json(bare_fence), Some(json!([true])));
        // The first fence is prose, the second holds the document.
        let two = "```text\nnot json\n```\n```json\n{\"b\": null}\n```";
        assert_eq!(extract_json(two), Some(json!({"b": null})));
    }

    #[test]
    fn scalars_broken_json_and_unclosed_fences_are_not_json() {
        assert_eq!(extract_json("42"), None);
        assert_eq!(extract_json("\"yes\""), None);
        assert_eq!(extract_json("{\"a\": }"), None);
        assert_eq!(extract_json("```json\n{\"a\": 1}"), None);
        assert_eq!(extract_json("The answer is {a: 1}."), None);
    }

    #[test]
    fn structure_agreement_counts_matching_paths() {
        // original paths: /a number, /b string, /c object, /c/d boolean
        // candidate paths: /a number, /b number, /c object, /c/d boolean, /e null
        // union 5, same type: /a /c /c/d → 3/5
        let original = json!({"a": 1, "b": "x", "c": {"d": true}});
        let candidate = json!({"a": 2, "b": 3, "c": {"d": false}, "e": null});
        assert!((structure_agreement(&original, &candidate) - 0.6).abs() < 1e-12);
        assert!((structure_agreement(&candidate, &original) - 0.6).abs() < 1e-12);
    }

    #[test]
    fn value_agreement_counts_equal_leaves() {
        // leaves original: /a=1 /b="x" /c/d=true; candidate: /a=1.0 /b="y" /c/d=true /e=null
        // union 4, equal: /a (1 == 1.0) and /c/d → 2/4
        let original = json!({"a": 1, "b": "x", "c": {"d": true}});
        let candidate = json!({"c": {"d": true}, "b": "y", "a": 1.0, "e": null});
        assert!((value_agreement(&original, &candidate) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn identical_documents_agree_fully_whatever_the_key_order() {
        let a = json!({"x": [1, {"y": "z"}], "w": {}});
        let b: Json = serde_json::from_str(r#"{"w": {}, "x": [1, {"y": "z"}]}"#).expect("json");
        assert!((structure_agreement(&a, &b) - 1.0).abs() < 1e-12);
        assert!((value_agreement(&a, &b) - 1.0).abs() < 1e-12);
        assert!(json_equal(&a, &b));
    }

    #[test]
    fn keys_with_slashes_do_not_collide_with_nesting() {
        let flat = json!({"a/b": 1});
        let nested = json!({"a": {"b": 1}});
        assert!(value_agreement(&flat, &nested) < 1e-12);
    }

    #[test]
    fn empty_containers() {
        assert!((structure_agreement(&json!({}), &json!({})) - 1.0).abs() < 1e-12);
        assert!(structure_agreement(&json!({}), &json!([])) < 1e-12);
        assert!((value_agreement(&json!([]), &json!([])) - 1.0).abs() < 1e-12);
    }
}
