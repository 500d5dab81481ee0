//! The request body an item sends.
//!
//! When the original call kept its recorded request (a raw record) in the
//! target's own wire format, that request is sent as it was, with only the
//! model, the streaming fields and the overrides changed: nothing is lost
//! to a round trip through the canonical form. Otherwise the canonical call
//! is translated by the target's writer ([`to_openai_chat`],
//! [`to_anthropic`]); what the target cannot express fails the item with
//! the translator's error, which says what and how to go on.
//!
//! A call that was one step of an agent loop is replayed as that step: its
//! recorded input (earlier tool calls and their results included) is the
//! context, and the target's answer to it is the result.

use serde_json::Value as Json;

use crate::model::Call;
use crate::providers::wire::anthropic::to_anthropic;
use crate::providers::wire::openai_chat::to_openai_chat;
use crate::providers::{
    ProviderKind, TargetParams, TranslateError, WireFormat, rewrite_raw_request,
};

/// The wire format a target speaks.
pub fn wire_format(kind: ProviderKind) -> WireFormat {
    match kind {
        ProviderKind::OpenAi => WireFormat::OpenAiChat,
        ProviderKind::Anthropic => WireFormat::Anthropic,
    }
}

/// How the body was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodySource {
    /// The recorded request, rewritten.
    Recorded,
    /// The canonical call, translated.
    Translated,
}

/// The body to send for `call` to a target of `kind`.
pub fn request_body(
    call: &Call,
    kind: ProviderKind,
    params: &TargetParams,
) -> Result<(Json, BodySource), TranslateError> {
    let format = wire_format(kind);
    if let Some(raw) = &call.raw
        && WireFormat::parse(&raw.format) == Some(format)
    {
        let body = rewrite_raw_request(&raw.request, format, params)?;
        return Ok((body, BodySource::Recorded));
    }
    let stripped;
    let call = if STREAMING_PARAMS
        .iter()
        .any(|key| call.request_params.extra.contains_key(*key))
    {
        stripped = without_streaming_params(call);
        &stripped
    } else {
        call
    };
    let body = match kind {
        ProviderKind::OpenAi => to_openai_chat(call, params)?,
        ProviderKind::Anthropic => to_anthropic(call, params)?,
    };
    Ok((body, BodySource::Translated))
}

/// Recorded parameters about streaming: whether a replay streams is the
/// replay's choice (`stream` of the run), not the recorded call's, so they
/// are not translated.
const STREAMING_PARAMS: [&str; 2] = ["stream", "stream_options"];

fn without_streaming_params(call: &Call) -> Call {
    let mut call = call.clone();
    for key in STREAMING_PARAMS {
        call.request_params.extra.shift_remove(key);
    }
    call
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallId, Message, RawExchange, Source};
    use serde_json::json;

    fn call_with_raw(format: &str) -> Call {
        let mut call = Call::new(CallId(1), Source::Raw, 0);
        call.input_messages = Some(vec![Message::text("user", "hello")]);
        call.raw = Some(RawExchange {
            format: format.to_owned(),
            request: json!({
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "hello"}],
                "logit_bias": {"50256": -100},
            }),
            response: None,
        });
        call
    }

    #[test]
    fn a_recorded_request_in_the_target_format_is_sent_as_recorded() {
        let call = call_with_raw("openai.chat");
        let mut params = TargetParams::new("local-model");
        params.stream = false;
        let (body, source) = request_body(&call, ProviderKind::OpenAi, &params).expect("body");
        assert_eq!(source, BodySource::Recorded);
        assert_eq!(body["model"], "local-model");
        // A field the canonical call has no place for survives.
        assert_eq!(body["logit_bias"], json!({"50256": -100}));
    }

    #[test]
    fn another_format_is_translated_from_the_canonical_call() {
        let call = call_with_raw("openai.chat");
        let mut params = TargetParams::new("claude");
        params.default_max_tokens = Some(32);
        let (body, source) = request_body(&call, ProviderKind::Anthropic, &params).expect("body");
        assert_eq!(source, BodySource::Translated);
        assert_eq!(body["model"], "claude");
        assert_eq!(body["max_tokens"], 32);
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": "hello"}])
        );
        assert_eq!(body["stream"], true);
    }

    #[test]
    fn recorded_streaming_parameters_give_way_to_the_run() {
        let mut call = call_with_raw("anthropic.messages");
        call.request_params
            .extra
            .insert("stream_options".into(), json!({"include_usage": true}));
        let mut params = TargetParams::new("m");
        params.stream = false;
        let (body, source) = request_body(&call, ProviderKind::OpenAi, &params).expect("body");
        assert_eq!(source, BodySource::Translated);
        assert!(
            body.get("stream_options").is_none() && body.get("stream").is_none(),
            "{body}"
        );
    }

    #[test]
    fn an_untranslatable_call_fails_with_the_translator_error() {
        let call = Call::new(CallId(1), Source::Otlp, 0);
        let params = TargetParams::new("m");
        let error = request_body(&call, ProviderKind::OpenAi, &params).expect_err("no input");
        assert_eq!(error, TranslateError::NoInput);
    }
}
