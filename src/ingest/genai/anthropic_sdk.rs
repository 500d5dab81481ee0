//! The Anthropic Python SDK's own spans (anthropic ≥ 2.x, scope
//! `com.anthropic.sdk.python`; genai-conventions.md §4.2): OTel 1.40-style
//! attributes with the stop reason in `anthropic.message.stop_reason`. The
//! SDK sets `gen_ai.request.stream` only on streamed requests, so without it
//! the request was not streamed. These spans often duplicate a third-party
//! instrumentation's span of the same request; see [`super::same_call`].

use super::attrs::AttrReader;
use super::common::set_if_none;
use super::otel;
use crate::model::{Call, Scope, Span};

/// The SDK's own keys (genai-conventions.md §4.2).
pub(crate) mod keys {
    pub const SCOPE_PREFIX: &str = "com.anthropic.sdk";
    /// Anthropic's own words: `end_turn`, `tool_use`, `max_tokens`, …
    pub const STOP_REASON: &str = "anthropic.message.stop_reason";
}

pub(crate) fn owns(scope: &Scope) -> bool {
    scope.name.starts_with(keys::SCOPE_PREFIX)
}

pub(crate) fn fill(call: &mut Call, reader: &mut AttrReader<'_>, scope: &Scope, span: &Span) {
    otel::fill_span(call, reader, scope, span);
    if call.finish_reasons.is_none() {
        call.finish_reasons = reader.take_str(keys::STOP_REASON).map(|r| vec![r]);
    }
    set_if_none(&mut call.streaming, Some(false));
}
