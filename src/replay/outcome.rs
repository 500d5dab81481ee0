//! What an item leaves behind: a canonical call with `source = replay`
//! holding the target's answer (or the error it ended in), and the item's
//! final state with the figures the run summary is made of.
//!
//! The result call keeps the original's prompt (system instructions,
//! messages, tools, parameters), so its content lands on the same
//! content-addressed blobs and costs a few bytes, plus the exact request
//! sent and the answer received as its raw exchange. Its attributes link
//! it back: `replay.run_id`, `replay.original_call_id`, `replay.target`,
//! `replay.repetition`, `replay.attempts`, and `replay.tools_missing` when
//! the original's tool definitions were not recorded.

use serde_json::{Map, Value as Json};

use crate::cost::PriceTable;
use crate::model::{Call, CallError, CallId, CallStatus, RawExchange, Source};
use crate::providers::{ProviderError, ProviderResponse, RecordedResponse};
use crate::targets::request::wire_format;
use crate::targets::spec::{Price, TargetSpec};

pub const ATTR_RUN_ID: &str = "replay.run_id";
pub const ATTR_ORIGINAL_CALL_ID: &str = "replay.original_call_id";
pub const ATTR_TARGET: &str = "replay.target";
pub const ATTR_REPETITION: &str = "replay.repetition";
pub const ATTR_ATTEMPTS: &str = "replay.attempts";
/// Present (true) when the original answered with a tool call but recorded
/// no tool definitions, so this replay was sent without tools.
pub const ATTR_TOOLS_MISSING: &str = "replay.tools_missing";

/// Identifies one item's replay.
#[derive(Clone, Copy, Debug)]
pub struct ReplayOf<'a> {
    pub run_id: &'a str,
    pub original: &'a Call,
    pub target: &'a TargetSpec,
    pub repetition: u32,
    pub attempts: u32,
    /// When the last attempt was sent.
    pub started_unix_nano: u64,
}

/// The result call of a successful answer, priced: at the target's own
/// price when it has one, else at the price table's for the model that
/// answered (what ingest would have charged for the same call).
pub fn answered(
    of: ReplayOf<'_>,
    body: &Json,
    response: ProviderResponse,
    prices: &PriceTable,
) -> Call {
    let mut call = base_call(of, body);
    call.raw = Some(RawExchange {
        format: wire_format(of.target.kind).as_str().to_owned(),
        request: body.clone(),
        response: Some(recorded_json(&response.raw)),
    });
    call.streaming = Some(response.streamed);
    call.duration_ms = Some(response.latency_ms);
    call.ttft_ms = response.ttft_ms;
    call.output_messages = Some(response.output_messages);
    call.finish_reasons = Some(response.finish_reasons);
    call.response_id = response.response_id;
    call.response_model = response.response_model;
    call.usage = response.usage;
    call.cost_usd = prices.cost_with(&call, of.target.price.as_ref().map(Price::rates));
    call
}

/// The result call of a request that failed for good.
pub fn failed(of: ReplayOf<'_>, body: &Json, error: &ProviderError, elapsed_ms: f64) -> Call {
    let mut call = base_call(of, body);
    call.raw = Some(RawExchange {
        format: wire_format(of.target.kind).as_str().to_owned(),
        request: body.clone(),
        response: None,
    });
    call.duration_ms = Some(elapsed_ms);
    call.status = CallStatus::Error;
    call.error = Some(CallError {
        error_type: Some(error_type(error)),
        message: Some(error.to_string()),
    });
    call
}

/// The error class of an item whose original call could not be read.
pub const ORIGINAL_UNAVAILABLE: &str = "original_unavailable";
/// The error class of an item whose call the target's format cannot express.
pub const UNTRANSLATABLE: &str = "untranslatable";

/// Whether a request was made at all: a missing key or a misconfigured
/// target fails before anything is sent, and leaves no result call.
pub fn was_sent(error: &ProviderError) -> bool {
    !matches!(
        error,
        ProviderError::MissingApiKey { .. } | ProviderError::InvalidTarget { .. }
    )
}

/// A short, low-cardinality name for an error, as call errors carry.
pub fn error_type(error: &ProviderError) -> String {
    match error {
        ProviderError::MissingApiKey { .. } => "missing_api_key".to_owned(),
        ProviderError::InvalidTarget { .. } => "invalid_target".to_owned(),
        ProviderError::Connect { .. } => "connect".to_owned(),
        ProviderError::Timeout { .. } => "timeout".to_owned(),
        ProviderError::Status {
            status, error_type, ..
        } => error_type.clone().unwrap_or_else(|| status.to_string()),
        ProviderError::StreamCut { .. } => "stream_cut".to_owned(),
        ProviderError::Provider { error_type, .. } => error_type
            .clone()
            .unwrap_or_else(|| "provider_error".to_owned()),
        ProviderError::Malformed { .. } => "malformed_response".to_owned(),
    }
}

fn recorded_json(recorded: &RecordedResponse) -> Json {
    match recorded {
        RecordedResponse::Body(body) => body.clone(),
        RecordedResponse::Stream(events) => Json::Array(events.clone()),
    }
}

fn base_call(of: ReplayOf<'_>, body: &Json) -> Call {
    let original = of.original;
    let mut call = Call::new(
        CallId::random(of.started_unix_nano),
        Source::Replay,
        of.started_unix_nano,
    );
    call.service = original.service.clone();
    call.provider = Some(of.target.kind.as_str().to_owned());
    call.operation = original.operation.clone().or_else(|| Some("chat".into()));
    call.request_model = Some(of.target.model.clone());
    call.streaming = Some(body.get("stream").and_then(Json::as_bool) == Some(true));
    call.system_instructions = original.system_instructions.clone();
    call.input_messages = original.input_messages.clone();
    call.tool_definitions = original.tool_definitions.clone();
    call.request_params = original.request_params.clone();
    call.attributes = link_attributes(of);
    call
}

fn link_attributes(of: ReplayOf<'_>) -> Map<String, Json> {
    let mut attributes = Map::new();
    attributes.insert(ATTR_RUN_ID.into(), of.run_id.into());
    attributes.insert(
        ATTR_ORIGINAL_CALL_ID.into(),
        of.original.id.to_string().into(),
    );
    attributes.insert(ATTR_TARGET.into(), of.target.name.clone().into());
    attributes.insert(ATTR_REPETITION.into(), of.repetition.into());
    attributes.insert(ATTR_ATTEMPTS.into(), of.attempts.into());
    if of.original.tools_missing() {
        attributes.insert(ATTR_TOOLS_MISSING.into(), true.into());
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Message, Usage};
    use crate::providers::ProviderKind;
    use crate::targets::spec::Price;
    use serde_json::json;

    fn original() -> Call {
        let mut call = Call::new(CallId(7), Source::Otlp, 1);
        call.service = Some("support-bot".into());
        call.input_messages = Some(vec![Message::text("user", "hi")]);
        call
    }

    fn target() -> TargetSpec {
        let mut target = TargetSpec::new("cheap", ProviderKind::OpenAi, "http://h/v1", "mini");
        target.price = Some(Price {
            input_per_1m: 1.0,
            output_per_1m: 4.0,
            cached_input_per_1m: None,
        });
        target
    }

    #[test]
    fn an_unpriced_target_is_charged_what_the_price_table_charges_its_model() {
        let original = original();
        let mut target = target();
        target.price = None;
        let of = ReplayOf {
            run_id: "RUN",
            original: &original,
            target: &target,
            repetition: 0,
            attempts: 1,
            started_unix_nano: 1_735_689_600_000_000_000,
        };
        let usage = Usage {
            input_tokens: Some(1000),
            output_tokens: Some(500),
            ..Usage::default()
        };
        let response = ProviderResponse {
            output_messages: vec![Message::text("assistant", "hello")],
            finish_reasons: vec!["stop".into()],
            usage,
            response_id: None,
            response_model: Some("gpt-4o-mini-2024-07-18".into()),
            latency_ms: 10.0,
            ttft_ms: None,
            streamed: false,
            raw: RecordedResponse::Body(json!({})),
        };
        let table = PriceTable::built_in();
        let call = answered(of, &json!({}), response, &table);
        assert!(call.cost_usd.is_some());
        assert_eq!(call.cost_usd, table.cost(&call));
    }

    #[test]
    fn an_answer_becomes_a_linked_replay_call_with_its_cost() {
        let original = original();
        let target = target();
        let of = ReplayOf {
            run_id: "RUN",
            original: &original,
            target: &target,
            repetition: 1,
            attempts: 2,
            started_unix_nano: 5_000_000_000,
        };
        let response = ProviderResponse {
            output_messages: vec![Message::text("assistant", "hello")],
            finish_reasons: vec!["stop".into()],
            usage: Usage {
                input_tokens: Some(1000),
                output_tokens: Some(500),
                ..Usage::default()
            },
            response_id: Some("chatcmpl-1".into()),
            response_model: Some("mini-2025".into()),
            latency_ms: 120.0,
            ttft_ms: Some(40.0),
            streamed: true,
            raw: RecordedResponse::Stream(vec![json!({"id": "chatcmpl-1"}), json!("[DONE]")]),
        };
        let body = json!({"model": "mini", "stream": true});
        let call = answered(of, &body, response, &PriceTable::default());
        assert_eq!(call.source, Source::Replay);
        assert_eq!(call.start_time_unix_nano, 5_000_000_000);
        assert_eq!(call.service.as_deref(), Some("support-bot"));
        assert_eq!(call.request_model.as_deref(), Some("mini"));
        assert_eq!(call.response_model.as_deref(), Some("mini-2025"));
        assert_eq!(call.input_messages, original.input_messages);
        assert_eq!(call.output_text().as_deref(), Some("hello"));
        assert_eq!((call.duration_ms, call.ttft_ms), (Some(120.0), Some(40.0)));
        assert_eq!(call.cost_usd, Some((1000.0 + 2000.0) / 1e6));
        assert_eq!(call.attributes[ATTR_RUN_ID], "RUN");
        assert_eq!(
            call.attributes[ATTR_ORIGINAL_CALL_ID],
            original.id.to_string()
        );
        assert_eq!(call.attributes[ATTR_TARGET], "cheap");
        assert_eq!(call.attributes[ATTR_ATTEMPTS], 2);
        let raw = call.raw.expect("raw exchange");
        assert_eq!(raw.format, "openai.chat");
        assert_eq!(raw.request, body);
        assert_eq!(raw.response, Some(json!([{"id": "chatcmpl-1"}, "[DONE]"])));
    }

    #[test]
    fn a_failure_becomes_an_error_call() {
        let original = original();
        let target = target();
        let of = ReplayOf {
            run_id: "RUN",
            original: &original,
            target: &target,
            repetition: 0,
            attempts: 5,
            started_unix_nano: 1,
        };
        let error = ProviderError::Status {
            url: "http://h/v1/chat/completions".into(),
            status: 503,
            error_type: None,
            message: "overloaded".into(),
            retry_after: None,
        };
        let call = failed(of, &json!({}), &error, 12.0);
        assert_eq!(call.status, CallStatus::Error);
        let recorded = call.error.expect("error");
        assert_eq!(recorded.error_type.as_deref(), Some("503"));
        assert!(recorded.message.unwrap_or_default().contains("overloaded"));
        assert!(was_sent(&error));
    }
}
