//! One provider API call recorded twice. The Anthropic Python SDK emits its
//! own span for every request even when a third-party instrumentation also
//! records it (genai-conventions.md §0, §4.2); the two spans may be parent
//! and child, or unrelated — in our capture even in different traces. Both
//! become calls, and these functions let the writer recognise and fold them.

use super::common;
use crate::model::{Call, Span, SpanId, TraceId};

/// Slack allowed between the time ranges of two records of one request:
/// an event may be stamped just after the span it belongs to has ended.
const TIME_SLACK_NANOS: u64 = 1_000_000_000;

/// The few facts needed to tell whether two calls are one API call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallFacts {
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub parent_span_id: Option<SpanId>,
    pub response_id: Option<String>,
    pub request_model: Option<String>,
    pub service: Option<String>,
    /// When the record says the request ran; 0 when unknown. An event-only
    /// call is a point in time (start = end).
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
}

impl CallFacts {
    /// Facts of a call built from `span` (which knows the parent span).
    pub fn from_span(span: &Span, call: &Call) -> Self {
        Self {
            parent_span_id: span.parent_span_id,
            start_time_unix_nano: span.start_time_unix_nano,
            end_time_unix_nano: span.end_time_unix_nano.max(span.start_time_unix_nano),
            ..Self::from_call(call)
        }
    }

    /// Facts of a call alone: without the parent span id, only equal
    /// response ids can match it to another call.
    pub fn from_call(call: &Call) -> Self {
        let duration_nanos = call
            .duration_ms
            .map_or(0, |ms| (ms * 1_000_000.0).max(0.0) as u64);
        Self {
            trace_id: call.trace_id,
            span_id: call.span_id,
            parent_span_id: None,
            response_id: call.response_id.clone(),
            request_model: call.request_model.clone(),
            service: call.service.clone(),
            start_time_unix_nano: call.start_time_unix_nano,
            end_time_unix_nano: call.start_time_unix_nano.saturating_add(duration_nanos),
        }
    }
}

/// See [`super::describe_same_call`].
pub(crate) fn describe_same_call(a: &CallFacts, b: &CallFacts) -> bool {
    if a.trace_id.is_some()
        && a.trace_id == b.trace_id
        && a.span_id.is_some()
        && a.span_id == b.span_id
    {
        return true;
    }
    // A response id is unique per provider response, across traces too; the
    // time and service checks keep apart records that only share an id by
    // accident (a mock server, replayed recordings).
    if let (Some(left), Some(right)) = (&a.response_id, &b.response_id) {
        return left == right && overlap_in_time(a, b) && !different_services(a, b);
    }
    let same_trace = a.trace_id.is_some() && a.trace_id == b.trace_id;
    let related = (a.parent_span_id.is_some() && a.parent_span_id == b.span_id)
        || (b.parent_span_id.is_some() && b.parent_span_id == a.span_id);
    let same_model = a.request_model.is_some() && a.request_model == b.request_model;
    same_trace && related && same_model
}

/// Whether the two records' time ranges overlap, give or take the slack;
/// true when either time is unknown.
fn overlap_in_time(a: &CallFacts, b: &CallFacts) -> bool {
    if a.start_time_unix_nano == 0 || b.start_time_unix_nano == 0 {
        return true;
    }
    let a_end = a.end_time_unix_nano.max(a.start_time_unix_nano);
    let b_end = b.end_time_unix_nano.max(b.start_time_unix_nano);
    a.start_time_unix_nano <= b_end.saturating_add(TIME_SLACK_NANOS)
        && b.start_time_unix_nano <= a_end.saturating_add(TIME_SLACK_NANOS)
}

fn different_services(a: &CallFacts, b: &CallFacts) -> bool {
    matches!((&a.service, &b.service), (Some(x), Some(y)) if x != y)
}

/// See [`super::merge_same_call`]. The base is the call tied to a span
/// over an event-only one (it keeps the trace and span ids), then the richer
/// one, then the smaller call id, whichever argument it is: merging is
/// symmetric and does not depend on which record arrived first.
pub(crate) fn merge_same_call(primary: Call, other: Call) -> Call {
    let primary_first = rank(&primary) >= rank(&other);
    let (mut base, filler) = if primary_first {
        (primary, other)
    } else {
        (other, primary)
    };
    common::fill_gaps(&mut base, &filler);
    common::finish(&mut base);
    base
}

fn rank(
    call: &Call,
) -> (
    bool,
    (usize, usize),
    std::cmp::Reverse<crate::model::CallId>,
) {
    (
        call.span_id.is_some(),
        common::content_score(call),
        std::cmp::Reverse(call.id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallId, Message, Source};

    const START: u64 = 1_700_000_000_000_000_000;

    fn facts(span: u8, parent: Option<u8>, response: Option<&str>, model: &str) -> CallFacts {
        CallFacts {
            trace_id: Some(TraceId([1; 16])),
            span_id: Some(SpanId([span; 8])),
            parent_span_id: parent.map(|p| SpanId([p; 8])),
            response_id: response.map(str::to_owned),
            request_model: Some(model.to_owned()),
            service: Some("app".to_owned()),
            start_time_unix_nano: START,
            end_time_unix_nano: START + 50_000_000,
        }
    }

    #[test]
    fn equal_response_ids_far_apart_in_time_or_from_other_services_are_different_calls() {
        let first = facts(1, None, Some("msg_1"), "m");
        let mut later = facts(2, None, Some("msg_1"), "m");
        later.start_time_unix_nano = START + 120_000_000_000;
        later.end_time_unix_nano = later.start_time_unix_nano + 50_000_000;
        assert!(!describe_same_call(&first, &later));
        let mut elsewhere = facts(2, None, Some("msg_1"), "m");
        elsewhere.service = Some("other".to_owned());
        assert!(!describe_same_call(&first, &elsewhere));
        // An event stamped just after its span ended is still the same call.
        let mut event_only = facts(3, None, Some("msg_1"), "m");
        event_only.trace_id = None;
        event_only.span_id = None;
        event_only.start_time_unix_nano = START + 50_000_100;
        event_only.end_time_unix_nano = event_only.start_time_unix_nano;
        assert!(describe_same_call(&first, &event_only));
    }

    #[test]
    fn equal_response_ids_are_the_same_call_and_different_ones_are_not() {
        assert!(describe_same_call(
            &facts(1, None, Some("msg_1"), "m"),
            &facts(2, None, Some("msg_1"), "m")
        ));
        assert!(!describe_same_call(
            &facts(1, Some(2), Some("msg_1"), "m"),
            &facts(2, None, Some("msg_2"), "m")
        ));
    }

    #[test]
    fn parent_and_child_with_the_same_model_are_the_same_call() {
        assert!(describe_same_call(
            &facts(1, Some(2), None, "m"),
            &facts(2, None, None, "m")
        ));
        assert!(!describe_same_call(
            &facts(1, Some(2), None, "m"),
            &facts(2, None, None, "n")
        ));
        assert!(!describe_same_call(
            &facts(1, None, None, "m"),
            &facts(2, None, None, "m")
        ));
    }

    #[test]
    fn merging_keeps_the_richer_call_and_fills_its_gaps_either_way_round() {
        let mut rich = Call::new(CallId(2), Source::Otlp, 10);
        rich.input_messages = Some(vec![Message::text("user", "hi")]);
        let mut sparse = Call::new(CallId(1), Source::Otlp, 5);
        sparse.usage.cached_input_tokens = Some(3);
        let merged = merge_same_call(sparse.clone(), rich.clone());
        assert_eq!(merged.id, CallId(2));
        assert_eq!(merged.usage.cached_input_tokens, Some(3));
        assert_eq!(merged, merge_same_call(rich, sparse));
    }

    #[test]
    fn a_span_call_stays_the_base_over_a_richer_event_only_call() {
        let mut from_span = Call::new(CallId(2), Source::Otlp, 10);
        from_span.trace_id = Some(TraceId([1; 16]));
        from_span.span_id = Some(SpanId([1; 8]));
        let mut from_events = Call::new(CallId(1), Source::Otlp, 12);
        from_events.input_messages = Some(vec![Message::text("user", "hi")]);
        let merged = merge_same_call(from_events, from_span);
        assert_eq!(merged.id, CallId(2));
        assert_eq!(merged.span_id, Some(SpanId([1; 8])));
        assert_eq!(merged.input_messages.map(|m| m.len()), Some(1));
    }
}
