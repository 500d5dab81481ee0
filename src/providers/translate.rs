//! What the outbound translators share: the target's parameters, the errors
//! a translation can end in, and the raw-request rewrite.
//!
//! The policy is simple to state: a translated request says everything the
//! recorded call said, or the translation fails with an error that names
//! what could not be said and how to go on. Nothing is dropped silently. A
//! user who accepts the loss names the parameter in
//! [`TargetParams::allow_drop`] (the word `reasoning` stands for reasoning
//! parts in the history, which no provider takes back from another); a user
//! who knows the target's own spelling puts it in
//! [`TargetParams::overrides`], and a parameter set there is never
//! translated at all, so it cannot fail.
//!
//! Overrides are applied last as a JSON merge patch (RFC 7386): objects are
//! merged key by key and `null` removes a key, so `{"max_tokens": null,
//! "max_completion_tokens": 1024}` switches an OpenAI request to the newer
//! spelling that reasoning models require.

use std::collections::BTreeSet;

use serde_json::{Map, Value as Json};

use super::wire::WireFormat;
use super::wire::common::type_name;
use crate::model::{Call, Message, Part};

/// How to shape requests for one target model.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TargetParams {
    /// The model to ask.
    pub model: String,
    /// Merged into the body last (JSON merge patch; `null` removes a key).
    pub overrides: Map<String, Json>,
    /// `max_tokens` to send when the call recorded none; Anthropic needs one.
    pub default_max_tokens: Option<i64>,
    /// Ask for a streamed answer (needed to measure time to first token).
    pub stream: bool,
    /// Parameters (and `reasoning`) the user accepts to lose when the target
    /// cannot express them.
    pub allow_drop: BTreeSet<String>,
}

impl TargetParams {
    /// Streaming, no overrides, nothing allowed to drop.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            stream: true,
            ..Self::default()
        }
    }

    /// True when the overrides set `key`: the translator leaves it to them.
    pub fn is_overridden(&self, key: &str) -> bool {
        self.overrides.contains_key(key)
    }

    /// A recorded parameter the target cannot express: fine when the
    /// overrides give the target's own value or the user allows dropping it,
    /// an error otherwise.
    pub(crate) fn cannot_express(
        &self,
        param: &str,
        target: &'static str,
        reason: &str,
    ) -> Result<(), TranslateError> {
        if self.is_overridden(param) {
            return Ok(());
        }
        self.drop_or_fail(param, target, reason)
    }

    /// Something the target cannot carry and no override can stand in for.
    pub(crate) fn drop_or_fail(
        &self,
        param: &str,
        target: &'static str,
        reason: &str,
    ) -> Result<(), TranslateError> {
        if self.allow_drop.contains(param) {
            return Ok(());
        }
        Err(TranslateError::Unsupported {
            param: param.to_owned(),
            target,
            reason: reason.to_owned(),
        })
    }
}

/// Why a call could not be written for a target.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TranslateError {
    #[error("the call has no input messages to replay")]
    NoInput,
    #[error(
        "{target} requires max_tokens: the call recorded none and the target sets no default; set default_max_tokens on the target or max_tokens in its overrides"
    )]
    MissingMaxTokens { target: &'static str },
    #[error(
        "`{param}` cannot be sent to {target}: {reason}; to replay without it, add \"{param}\" to the target's allow_drop or the run's (--allow-drop {param}), or set it to null (--set {param}=null); or give the target's own setting in overrides"
    )]
    Unsupported {
        param: String,
        target: &'static str,
        reason: String,
    },
    #[error("message {index} ({role}): a `{part_type}` part cannot be sent to {target}: {reason}")]
    UnsupportedPart {
        index: usize,
        role: String,
        part_type: String,
        target: &'static str,
        reason: String,
    },
    #[error("message {index}: role `{role}` has no equivalent in {target}")]
    UnsupportedRole {
        index: usize,
        role: String,
        target: &'static str,
    },
    #[error(
        "message {index} ({role}): a tool call or tool result has no id, and {target} pairs tool calls with their results by id"
    )]
    MissingToolCallId {
        index: usize,
        role: String,
        target: &'static str,
    },
    #[error(
        "message {index}: {target} takes system instructions only before the conversation, and this one comes after it has started"
    )]
    SystemNotLeading { index: usize, target: &'static str },
    #[error("message {index} ({role}) has no content to send")]
    EmptyMessage { index: usize, role: String },
    #[error(
        "message {index}: the arguments of tool call `{name}` are not a JSON object, and {target} takes tool input as an object"
    )]
    ArgumentsNotObject {
        index: usize,
        name: String,
        target: &'static str,
    },
    #[error(
        "tool definition {index} has type `{tool_type}` (or no name), and {target} takes function tools only"
    )]
    UnsupportedTool {
        index: usize,
        tool_type: String,
        target: &'static str,
    },
    #[error("the raw request must be a JSON object, got {found}")]
    RawRequestNotObject { found: &'static str },
}

/// The history to replay; a call without one cannot be replayed.
pub(crate) fn input_messages(call: &Call) -> Result<&[Message], TranslateError> {
    match &call.input_messages {
        Some(messages) if !messages.is_empty() => Ok(messages),
        _ => match &call.system_instructions {
            // Instructions alone are still a prompt.
            Some(parts) if !parts.is_empty() => Ok(&[]),
            _ => Err(TranslateError::NoInput),
        },
    }
}

/// System instructions recorded apart from the history, when the history
/// does not already start with them as a system message (sources differ in
/// whether they copy them there).
pub(crate) fn separate_system(call: &Call) -> Option<&[Part]> {
    let parts = call.system_instructions.as_deref()?;
    if parts.is_empty() {
        return None;
    }
    let first_role = call
        .input_messages
        .as_ref()
        .and_then(|messages| messages.first())
        .map(|message| message.role.as_str());
    match first_role {
        Some("system" | "developer") => None,
        _ => Some(parts),
    }
}

/// Reasoning in any of its recorded shapes: readable text, Anthropic's
/// redacted thinking, or an OpenAI reasoning item with only encrypted
/// content. No provider takes another's reasoning back.
pub(crate) fn is_reasoning(part: &Part) -> bool {
    matches!(
        part.type_name(),
        "reasoning" | "redacted_thinking" | "thinking"
    )
}

/// Applies the overrides and returns the body.
pub(crate) fn finish_body(body: Map<String, Json>, params: &TargetParams) -> Json {
    let mut body = Json::Object(body);
    merge_patch(&mut body, &Json::Object(params.overrides.clone()));
    body
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` removes a
/// key, anything else replaces.
pub fn merge_patch(target: &mut Json, patch: &Json) {
    let Json::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Json::Object(Map::new());
    }
    let Json::Object(object) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            object.shift_remove(key);
            continue;
        }
        match object.get_mut(key) {
            Some(existing) if value.is_object() => merge_patch(existing, value),
            _ => {
                let mut fresh = Json::Null;
                merge_patch(&mut fresh, value);
                object.insert(key.clone(), fresh);
            }
        }
    }
}

/// Re-sends a recorded request that is already in the target's format, as
/// it was: only `model`, the streaming fields and the overrides change.
/// `format` says which API the body speaks, because `stream_options` exists
/// in OpenAI's formats only.
pub fn rewrite_raw_request(
    raw_request: &Json,
    format: WireFormat,
    params: &TargetParams,
) -> Result<Json, TranslateError> {
    let Json::Object(original) = raw_request else {
        return Err(TranslateError::RawRequestNotObject {
            found: type_name(raw_request),
        });
    };
    let mut body = original.clone();
    body.insert("model".into(), params.model.clone().into());
    if params.stream {
        body.insert("stream".into(), true.into());
        if format == WireFormat::OpenAiChat {
            // Keep whatever stream options were recorded; usage is what the
            // replay needs from them.
            match body.get_mut("stream_options") {
                Some(Json::Object(options)) => {
                    options.insert("include_usage".into(), true.into());
                }
                _ => {
                    let options = Map::from_iter([("include_usage".into(), true.into())]);
                    body.insert("stream_options".into(), Json::Object(options));
                }
            }
        }
    } else {
        body.shift_remove("stream");
        body.shift_remove("stream_options");
    }
    Ok(finish_body(body, params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_merges_objects_and_removes_nulls() {
        let mut body = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": 4});
        merge_patch(
            &mut body,
            &json!({"b": {"c": null, "x": 9}, "e": null, "f": [1]}),
        );
        assert_eq!(body, json!({"a": 1, "b": {"d": 3, "x": 9}, "f": [1]}));
    }

    #[test]
    fn an_overridden_parameter_never_fails() {
        let mut params = TargetParams::new("m");
        let refused = params.cannot_express("seed", "X", "no seeds");
        assert!(matches!(refused, Err(TranslateError::Unsupported { .. })));
        params.overrides.insert("seed".into(), json!(7));
        assert_eq!(params.cannot_express("seed", "X", "no seeds"), Ok(()));
    }
}
