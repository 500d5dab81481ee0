//! OpenLIT (`openlit` 1.44; genai-conventions.md §4.1): the newest OTel
//! GenAI attributes plus a few of its own. Its quirks are absorbed
//! elsewhere: the OpenAI system message it repeats in
//! `gen_ai.system_instructions` is not prepended twice (normalization), its
//! error spans without attributes are read from the span name
//! (`SpanNameOnly` in [`super`]), and its operation-details log record
//! without span ids becomes an event-only call that matches the span's call
//! by response id.

use super::attrs::AttrReader;
use super::common::{self, set_if_none};
use super::otel;
use crate::model::{Call, Scope, Span};

/// OpenLIT's own attribute keys (genai-conventions.md §4.1).
pub(crate) mod keys {
    /// Seconds to the first token; also written for non-streamed calls,
    /// where it is the whole response time.
    pub const SERVER_TIME_TO_FIRST_TOKEN: &str = "gen_ai.server.time_to_first_token";
    /// OpenLIT copies the resource's SDK name onto every span.
    pub const TELEMETRY_SDK_NAME: &str = "telemetry.sdk.name";
    pub const SDK_NAME_VALUE: &str = "openlit";
}

pub(crate) fn owns(scope: &Scope, span: &Span) -> bool {
    scope.name.starts_with("openlit.")
        || span.attributes.str(keys::TELEMETRY_SDK_NAME) == Some(keys::SDK_NAME_VALUE)
}

pub(crate) fn fill(call: &mut Call, reader: &mut AttrReader<'_>, scope: &Scope, span: &Span) {
    otel::fill_span(call, reader, scope, span);
    // Time to first token means something only for streamed responses; for
    // the others the attribute stays among the leftovers.
    if call.streaming == Some(true)
        && let Some(seconds) = reader.take_f64(keys::SERVER_TIME_TO_FIRST_TOKEN)
    {
        set_if_none(&mut call.ttft_ms, common::seconds_to_ms(seconds));
    }
}
