//! Helpers every wire format needs: reading JSON fields with errors that name
//! the field, request parameters and usage counts by table, tool-call
//! arguments, media parts (data URLs, blobs, URIs), finish-reason words and
//! tool-result flattening.

use serde_json::{Map, Value as Json};

use super::WireError;
use crate::model::{CallError, Part, RequestParams, Usage};

/// The JSON type of a value, for error messages.
pub(crate) fn type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

pub(crate) fn as_object<'a>(
    value: &'a Json,
    what: &'static str,
) -> Result<&'a Map<String, Json>, WireError> {
    value.as_object().ok_or(WireError::NotAnObject {
        what,
        found: type_name(value),
    })
}

/// An array field that must be there.
pub(crate) fn required_array<'a>(
    object: &'a Map<String, Json>,
    field: &'static str,
    what: &'static str,
) -> Result<&'a [Json], WireError> {
    match object.get(field) {
        None | Some(Json::Null) => Err(WireError::MissingField { what, field }),
        Some(Json::Array(items)) => Ok(items),
        Some(other) => Err(WireError::WrongType {
            what,
            field: field.to_owned(),
            expected: "an array",
            found: type_name(other),
        }),
    }
}

/// An array field that may be absent or null.
pub(crate) fn optional_array<'a>(
    object: &'a Map<String, Json>,
    field: &'static str,
    what: &'static str,
) -> Result<&'a [Json], WireError> {
    match object.get(field) {
        None | Some(Json::Null) => Ok(&[]),
        Some(Json::Array(items)) => Ok(items),
        Some(other) => Err(WireError::WrongType {
            what,
            field: field.to_owned(),
            expected: "an array",
            found: type_name(other),
        }),
    }
}

pub(crate) fn string_field(object: &Map<String, Json>, field: &str) -> Option<String> {
    object.get(field).and_then(Json::as_str).map(str::to_owned)
}

/// Tool-call arguments as sent: parsed JSON when the text is JSON, else the
/// text itself (a model may emit broken JSON; it is kept, not repaired).
pub(crate) fn parse_arguments(text: &str) -> Json {
    match serde_json::from_str::<Json>(text) {
        Ok(parsed) => parsed,
        Err(_) => Json::String(text.to_owned()),
    }
}

/// Arguments as the string OpenAI expects: text stays as it was, JSON is
/// written compactly.
pub(crate) fn arguments_to_string(arguments: &Json) -> String {
    match arguments {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The OTel finish-reason word for a provider's own word; unknown words are
/// kept as they are. One mapping for the whole product: ingest normalizes
/// every stored call with the same one.
pub(crate) fn otel_finish_reason(provider_word: &str) -> String {
    crate::model::finish::normalized_finish_reason(provider_word)
}

/// Splits `data:<mime>;base64,<data>` into its MIME type and data.
pub(crate) fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (header, data) = rest.split_once(',')?;
    let mime = header.strip_suffix(";base64")?;
    Some((mime.to_owned(), data.to_owned()))
}

pub(crate) fn data_url(mime_type: &str, content: &str) -> String {
    format!("data:{mime_type};base64,{content}")
}

/// An image given by URL: a data URL becomes a `blob`, anything else a
/// `uri`. OpenAI's `detail` is kept on the part so a replay can send it back.
pub(crate) fn image_from_url(url: &str, detail: Option<&Json>) -> Part {
    let mut part = match parse_data_url(url) {
        Some((mime_type, content)) => Part::blob("image", Some(&mime_type), content),
        None => Part::uri("image", None, url),
    };
    if let (Part::Other(map), Some(detail)) = (&mut part, detail)
        && !detail.is_null()
    {
        map.insert("detail".into(), detail.clone());
    }
    part
}

/// A part kept as its provider JSON, under its own `type`.
pub(crate) fn other_part(block: &Json) -> Part {
    match block.as_object() {
        Some(map) => Part::Other(map.clone()),
        None => Part::Other(Map::from_iter([
            ("type".into(), "unknown".into()),
            ("value".into(), block.clone()),
        ])),
    }
}

/// A simple `{type, content}` part that is not one of the typed ones
/// (e.g. `refusal`).
pub(crate) fn content_part(part_type: &str, content: &str) -> Part {
    Part::Other(Map::from_iter([
        ("type".into(), part_type.into()),
        ("content".into(), content.into()),
    ]))
}

/// A tool result's content: a string stays a string, a list made only of
/// text blocks is flattened to their text joined with `\n`, anything else
/// (images, structured blocks) is kept as given.
pub(crate) fn flatten_tool_result(content: &Json) -> Json {
    let Some(blocks) = content.as_array() else {
        return content.clone();
    };
    let mut texts = Vec::new();
    for block in blocks {
        let is_text = block.get("type").and_then(Json::as_str) == Some("text");
        match block.get("text").and_then(Json::as_str) {
            Some(text) if is_text => texts.push(text),
            _ => return content.clone(),
        }
    }
    Json::String(texts.join("\n"))
}

/// The error a provider error body describes: OpenAI
/// `{"error":{"code","type","message"}}` and Anthropic
/// `{"type":"error","error":{"type","message"}}` alike.
pub(crate) fn error_from_body(body: &Json) -> Option<CallError> {
    let error = body.get("error")?;
    if let Some(message) = error.as_str() {
        return Some(CallError {
            error_type: None,
            message: Some(message.to_owned()),
        });
    }
    let error = error.as_object()?;
    // OpenAI's `code` (`rate_limit_exceeded`, `invalid_api_key`) says more
    // than its `type`; Anthropic has only `type` (`overloaded_error`).
    let error_type = error
        .get("code")
        .and_then(Json::as_str)
        .or_else(|| error.get("type").and_then(Json::as_str))
        .map(str::to_owned);
    Some(CallError {
        error_type,
        message: string_field(error, "message"),
    })
}

/// Where a request key goes in [`RequestParams`].
#[derive(Clone, Copy)]
pub(crate) enum Param {
    Temperature,
    TopP,
    TopK,
    MaxTokens,
    /// A string or a list of strings.
    StopSequences,
    Seed,
    FrequencyPenalty,
    PresencePenalty,
    ChoiceCount,
    ResponseFormat,
    /// An object the format reads itself, into several fields.
    With(fn(&Json, &mut RequestParams)),
}

impl Param {
    fn read(self, value: &Json, params: &mut RequestParams) {
        match self {
            Param::Temperature => params.temperature = value.as_f64(),
            Param::TopP => params.top_p = value.as_f64(),
            Param::TopK => params.top_k = value.as_f64(),
            Param::MaxTokens => params.max_tokens = value.as_i64(),
            Param::StopSequences => params.stop_sequences = stop_sequences(value),
            Param::Seed => params.seed = value.as_i64(),
            Param::FrequencyPenalty => params.frequency_penalty = value.as_f64(),
            Param::PresencePenalty => params.presence_penalty = value.as_f64(),
            Param::ChoiceCount => params.choice_count = value.as_i64(),
            Param::ResponseFormat => params.response_format = Some(value.clone()),
            Param::With(read) => read(value, params),
        }
    }
}

/// One format's request parameters: the keys that spell each, the
/// preferred spelling first, since when a body sends two spellings (OpenAI's
/// `max_completion_tokens` and the older `max_tokens`) that one wins.
pub(crate) type ParamTable = [(&'static [&'static str], Param)];

/// The parameters of a request body. Structural keys (model, messages,
/// tools, the streaming flag: what the format reads apart) and nulls are
/// skipped; keys the table does not know are kept as sent in `extra`.
/// Tool choice is left to the format, whose shapes differ.
pub(crate) fn parse_params(
    object: &Map<String, Json>,
    structural: &[&str],
    table: &ParamTable,
) -> RequestParams {
    let mut params = RequestParams::default();
    for (key, value) in object {
        if structural.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        let Some((spellings, param)) = table
            .iter()
            .find(|(spellings, _)| spellings.contains(&key.as_str()))
        else {
            params.extra.insert(key.clone(), value.clone());
            continue;
        };
        let preferred = spellings
            .iter()
            .find(|spelling| object.get(**spelling).is_some_and(|value| !value.is_null()));
        if preferred == Some(&key.as_str()) {
            param.read(value, &mut params);
        }
    }
    params
}

fn stop_sequences(value: &Json) -> Option<Vec<String>> {
    match value {
        Json::String(stop) => Some(vec![stop.clone()]),
        Json::Array(items) => Some(
            items
                .iter()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

/// Where an OpenAI usage object keeps its counts: Chat Completions and the
/// Responses API name the same four differently.
pub(crate) struct UsageKeys {
    pub(crate) input: &'static str,
    pub(crate) output: &'static str,
    /// The object under `usage` that holds `cached_tokens`.
    pub(crate) input_details: &'static str,
    /// The object under `usage` that holds `reasoning_tokens`.
    pub(crate) output_details: &'static str,
}

impl UsageKeys {
    pub(crate) fn read(&self, usage: Option<&Json>) -> Usage {
        let details = |key: &str| usage.and_then(|usage| usage.get(key));
        Usage {
            input_tokens: token_count(usage, self.input),
            output_tokens: token_count(usage, self.output),
            cached_input_tokens: token_count(details(self.input_details), "cached_tokens"),
            reasoning_tokens: token_count(details(self.output_details), "reasoning_tokens"),
        }
    }
}

/// Reads a token count that may be missing, null or a float.
pub(crate) fn token_count(object: Option<&Json>, field: &str) -> Option<i64> {
    let value = object?.get(field)?;
    value
        .as_i64()
        .or_else(|| value.as_f64().map(|float| float as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_that_are_not_json_are_kept_as_text() {
        assert_eq!(
            parse_arguments(r#"{"city":"Paris"}"#),
            json!({"city": "Paris"})
        );
        assert_eq!(parse_arguments(r#"{"city":"Par"#), json!(r#"{"city":"Par"#));
    }

    #[test]
    fn data_urls_become_blobs_and_web_urls_become_uris() {
        let blob = image_from_url("data:image/png;base64,iVBORw0KGgo=", None);
        assert_eq!(
            blob.to_json(),
            json!({"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0KGgo="})
        );
        let uri = image_from_url("https://example.com/cat.jpg", Some(&json!("low")));
        assert_eq!(
            uri.to_json(),
            json!({"type": "uri", "modality": "image", "uri": "https://example.com/cat.jpg", "detail": "low"})
        );
    }

    #[test]
    fn tool_results_made_of_text_blocks_are_flattened_and_others_kept() {
        let texts = json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]);
        assert_eq!(flatten_tool_result(&texts), json!("a\nb"));
        let mixed = json!([{"type": "text", "text": "a"}, {"type": "image", "source": {}}]);
        assert_eq!(flatten_tool_result(&mixed), mixed);
    }

    #[test]
    fn params_take_the_preferred_spelling_and_keep_unknown_keys() {
        const TABLE: &ParamTable = &[
            (&["temperature"], Param::Temperature),
            (&["max_completion_tokens", "max_tokens"], Param::MaxTokens),
        ];
        for body in [
            json!({"max_tokens": 10, "max_completion_tokens": 20, "model": "m", "user": "u"}),
            json!({"max_completion_tokens": 20, "max_tokens": 10, "model": "m", "user": "u"}),
        ] {
            let params = parse_params(body.as_object().expect("object"), &["model"], TABLE);
            assert_eq!(params.max_tokens, Some(20));
            assert_eq!(Json::Object(params.extra), json!({"user": "u"}));
        }
        let body = json!({"max_tokens": 10, "max_completion_tokens": null, "temperature": null});
        let params = parse_params(body.as_object().expect("object"), &[], TABLE);
        assert_eq!(params.max_tokens, Some(10));
        assert_eq!(params.temperature, None);
        assert!(params.extra.is_empty());
    }

    #[test]
    fn usage_keys_read_counts_and_their_details() {
        let keys = UsageKeys {
            input: "prompt_tokens",
            output: "completion_tokens",
            input_details: "prompt_tokens_details",
            output_details: "completion_tokens_details",
        };
        let usage = json!({
            "prompt_tokens": 12,
            "completion_tokens": 3.0,
            "prompt_tokens_details": {"cached_tokens": 8},
        });
        assert_eq!(
            keys.read(Some(&usage)),
            Usage {
                input_tokens: Some(12),
                output_tokens: Some(3),
                cached_input_tokens: Some(8),
                reasoning_tokens: None,
            }
        );
    }

    #[test]
    fn finish_reasons_map_to_otel_words() {
        assert_eq!(otel_finish_reason("end_turn"), "stop");
        assert_eq!(otel_finish_reason("tool_calls"), "tool_call");
        assert_eq!(otel_finish_reason("max_tokens"), "length");
        assert_eq!(otel_finish_reason("pause_turn"), "pause_turn");
    }
}
