//! What a call contributes to the indexes beside its row: its tags, the
//! attributes it can be filtered on, its full-text entry, and log-scale
//! buckets of its latencies for percentile stats. Computed on the ingest
//! workers, so the writer only inserts.

use serde_json::Value as Json;

use crate::model::{Call, Part, Source};

/// Attribute namespaces apps use for their own context. Span attributes in
/// them can be filtered on; raw records' metadata always can.
pub const FILTERABLE_PREFIXES: &[&str] = &[
    "app.",
    "user.",
    "session.",
    "tenant.",
    "customer.",
    "feature.",
    "metadata.",
    "tag.",
    "deployment.",
    "traceloop.association.properties.",
    "ai.telemetry.metadata.",
];

/// Longest attribute value that is indexed for filtering.
const MAX_INDEXED_VALUE_BYTES: usize = 256;
/// Longest full-text entry per call.
const MAX_TEXT_BYTES: usize = 64 << 10;

/// Relative width of a latency bucket: 2%, so a percentile read from
/// buckets is within about 1% of the exact value.
const BUCKET_GAMMA: f64 = 1.02;
/// Bucket of a zero (or negative) latency.
const ZERO_BUCKET: i64 = -100_000;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallIndex {
    pub tags: Vec<String>,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub duration_bucket: Option<i64>,
    pub ttft_bucket: Option<i64>,
}

impl CallIndex {
    pub fn of(call: &Call) -> Self {
        let mut tags = call.tags.clone();
        tags.sort();
        tags.dedup();
        Self {
            tags,
            attributes: filterable_attributes(call),
            text: search_text(call),
            duration_bucket: call.duration_ms.map(bucket),
            ttft_bucket: call.ttft_ms.map(bucket),
        }
    }
}

/// The log-scale bucket of a latency in milliseconds.
pub fn bucket(ms: f64) -> i64 {
    if ms.is_nan() || ms <= 0.0 || ms.is_infinite() {
        return ZERO_BUCKET;
    }
    (ms.ln() / BUCKET_GAMMA.ln()).floor() as i64
}

/// A representative latency of a bucket: the middle of its range.
pub fn bucket_value(bucket: i64) -> f64 {
    if bucket == ZERO_BUCKET {
        return 0.0;
    }
    let low = BUCKET_GAMMA.powi(bucket as i32);
    low * (1.0 + BUCKET_GAMMA) / 2.0
}

fn filterable_attributes(call: &Call) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, value) in &call.attributes {
        let wanted = call.source == Source::Raw
            || FILTERABLE_PREFIXES
                .iter()
                .any(|prefix| key.starts_with(prefix));
        if !wanted {
            continue;
        }
        let text = match value {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            _ => continue,
        };
        if text.len() <= MAX_INDEXED_VALUE_BYTES {
            out.push((key.clone(), text));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What is new in a call: the input messages after the last assistant
/// message (the turn the user just sent, or the tool results the model
/// asked for) and every output message. Earlier turns were new in earlier
/// calls, so a chat's history is indexed once, not once per turn.
pub fn search_text(call: &Call) -> String {
    let mut text = String::new();
    if let Some(input) = &call.input_messages {
        let start = input
            .iter()
            .rposition(|m| m.role == "assistant")
            .map_or(0, |i| i + 1);
        for message in &input[start..] {
            if message.role != "system" {
                push_parts(&mut text, &message.parts);
            }
        }
    }
    for message in call.output_messages.iter().flatten() {
        push_parts(&mut text, &message.parts);
    }
    if text.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn push_parts(text: &mut String, parts: &[Part]) {
    for part in parts {
        let piece = match part {
            Part::Text { content } | Part::Reasoning { content } => content.clone(),
            Part::ToolCall {
                name, arguments, ..
            } => format!("{name} {}", json_text(arguments)),
            Part::ToolCallResponse { response, .. } => json_text(response),
            Part::Other(_) => continue,
        };
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&piece);
    }
}

fn json_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallId, Message};

    #[test]
    fn only_the_new_turn_and_the_answer_are_searchable() {
        let mut call = Call::new(CallId::derived(1, b"x"), Source::Otlp, 1);
        call.input_messages = Some(vec![
            Message::text("system", "be brief"),
            Message::text("user", "first question"),
            Message::text("assistant", "first answer"),
            Message::text("user", "second question"),
        ]);
        call.output_messages = Some(vec![Message::text("assistant", "second answer")]);
        assert_eq!(search_text(&call), "second question\nsecond answer");
    }

    #[test]
    fn buckets_are_within_two_percent() {
        for ms in [0.5, 1.0, 12.3, 250.0, 9_876.0, 1_000_000.0] {
            let value = bucket_value(bucket(ms));
            assert!((value - ms).abs() / ms < 0.02, "{ms} → {value}");
        }
        assert_eq!(bucket_value(bucket(0.0)), 0.0);
        assert!(bucket(10.0) < bucket(11.0));
    }

    #[test]
    fn raw_metadata_is_filterable_but_span_attributes_only_in_app_namespaces() {
        let mut call = Call::new(CallId::derived(1, b"x"), Source::Otlp, 1);
        call.attributes
            .insert("server.address".into(), "10.0.0.1".into());
        call.attributes.insert("app.tenant".into(), "acme".into());
        call.attributes.insert("user.tier".into(), 3.into());
        assert_eq!(
            filterable_attributes(&call),
            vec![
                ("app.tenant".to_string(), "acme".to_string()),
                ("user.tier".to_string(), "3".to_string())
            ]
        );
        call.source = Source::Raw;
        assert_eq!(filterable_attributes(&call).len(), 3);
    }
}
