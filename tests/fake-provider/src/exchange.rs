//! The steps every provider endpoint goes through, whichever API: check the
//! key, read the body, wait the configured latency, apply a scripted
//! failure, and send the answer as JSON or as a stream (possibly broken on
//! purpose). The chat flow shared by both APIs lives here too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value as Json;

use super::answer::{self, Answer};
use super::config::{Behavior, FailureKind, FailureRule, FakeConfig, ReplyStyle, Timing};
use super::prompt::Prompt;
use super::seed::{SplitMix64, stable_hash, stable_id};
use super::server::RequestContext;
use super::state::Shared;
use super::stream::{self, SseEvent, Step};
use super::wire::{self, Api, ApiError, ErrorKind};
use super::{anthropic, openai};

/// An answer with what identifies it on the wire.
pub(crate) struct Reply {
    pub id: String,
    /// Seeds the ids inside the reply (tool calls).
    pub seed: u64,
    pub model: String,
    pub created_unix_s: u64,
    pub answer: Answer,
}

/// A 401 when the config requires a key and the request carries none.
pub(crate) fn check_api_key(
    config: &FakeConfig,
    api: Api,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    if !config.require_api_key || has_api_key(headers) {
        return Ok(());
    }
    let message = match api {
        Api::OpenAi => {
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        }
        Api::Anthropic => "x-api-key header is required",
    };
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorKind::Authentication,
        message,
    ))
}

fn has_api_key(headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|key| !key.trim().is_empty());
    let api_key = headers
        .get("x-api-key")
        .is_some_and(|value| !value.as_bytes().is_empty());
    bearer || api_key
}

/// The body as JSON, or the API's error for a body that is not.
pub(crate) fn parse_body(api: Api, body: &[u8]) -> Result<Json, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        let message = match api {
            Api::OpenAi => format!(
                "We could not parse the JSON body of your request. (HINT: This likely means \
                 you aren't using your HTTP library correctly. The OpenAI API expects a JSON \
                 payload, but what was sent was not valid JSON.) Parser error: {error}"
            ),
            Api::Anthropic => format!("The request body is not valid JSON: {error}"),
        };
        ApiError::invalid(message)
    })
}

/// Waits the configured latency, then applies the first scripted failure
/// that fires. `Err` is the whole response when the failure replaces the
/// answer; `Ok(Some(kind))` a failure that corrupts the answer once it is
/// rendered; `Ok(None)` no failure.
pub(crate) async fn before_answer(
    shared: &Shared,
    context: &RequestContext,
    api: Api,
    behavior: &Behavior,
    model: &str,
    text: &str,
) -> Result<Option<FailureKind>, Response> {
    let delay = response_delay(&behavior.timing, context.seq);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let Some(rule) = shared.pick_failure(model, &behavior.failures, text) else {
        return Ok(None);
    };
    match rule.kind {
        FailureKind::RateLimit => Err(rate_limited(api, &rule)),
        FailureKind::ServerError | FailureKind::Unavailable => Err(server_failure(api, &rule)),
        FailureKind::DropConnection => Err(close_without_response(context).await),
        FailureKind::Hang => {
            shared.shutting_down().await;
            Err(close_without_response(context).await)
        }
        FailureKind::Malformed | FailureKind::DropMidStream => Ok(Some(rule.kind)),
    }
}

/// `latency_ms` plus this request's jitter.
fn response_delay(timing: &Timing, seq: u64) -> Duration {
    let mut jitter_ms = 0;
    if timing.jitter_ms > 0 {
        let mut generator = SplitMix64::new(stable_hash(&[
            &timing.seed.to_le_bytes(),
            &seq.to_le_bytes(),
        ]));
        jitter_ms = generator.below(timing.jitter_ms + 1);
    }
    Duration::from_millis(timing.latency_ms.saturating_add(jitter_ms))
}

fn rate_limited(api: Api, rule: &FailureRule) -> Response {
    let message = match api {
        Api::OpenAi => format!(
            "Rate limit reached for requests. Please try again in {}s.",
            rule.retry_after_s
        ),
        Api::Anthropic => {
            "Number of requests has exceeded your rate limit. Please try again later.".to_string()
        }
    };
    let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorKind::RateLimit, message);
    if api == Api::OpenAi {
        error = error.with_code("rate_limit_exceeded");
    }
    let mut response = api.error_response(&error);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(rule.retry_after_s));
    response
}

fn server_failure(api: Api, rule: &FailureRule) -> Response {
    let (default_status, kind) = match rule.kind {
        FailureKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, ErrorKind::Overloaded),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::Server),
    };
    let status = rule
        .status
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(default_status);
    let message = match (api, kind) {
        (Api::OpenAi, ErrorKind::Overloaded) => "The server is overloaded or not ready yet.",
        (Api::OpenAi, _) => {
            "The server had an error while processing your request. Sorry about that!"
        }
        (Api::Anthropic, ErrorKind::Overloaded) => "Overloaded",
        (Api::Anthropic, _) => "Internal server error",
    };
    api.error_response(&ApiError::new(status, kind, message))
}

/// Closes the connection before any response byte. The connection task
/// drops this handler with the connection, so with a control this never
/// returns; without one the body fails, which aborts the response.
async fn close_without_response(context: &RequestContext) -> Response {
    match &context.connection {
        Some(control) => {
            control.close();
            std::future::pending::<Response>().await
        }
        None => Response::new(stream::body(vec![Step::CloseConnection], None)),
    }
}

/// A JSON answer, corrupted when `failure` says so.
pub(crate) fn json_response(
    api: Api,
    context: &RequestContext,
    request_id: &str,
    body: &Json,
    failure: Option<FailureKind>,
) -> Response {
    let text = body.to_string();
    let mut response = match failure {
        Some(FailureKind::Malformed) => Response::new(Body::from(first_half(&text).to_string())),
        Some(FailureKind::DropMidStream) => {
            let steps = vec![
                Step::Send {
                    delay: Duration::ZERO,
                    bytes: Bytes::from(first_half(&text).to_string()),
                },
                Step::CloseConnection,
            ];
            Response::new(stream::body(steps, context.connection.clone()))
        }
        _ => Response::new(Body::from(text)),
    };
    wire::set_answer_headers(&mut response, api, "application/json", request_id);
    response
}

/// A streamed answer paced by `timing`, broken when `failure` says so.
pub(crate) fn stream_response(
    api: Api,
    context: &RequestContext,
    request_id: &str,
    events: &[SseEvent],
    timing: &Timing,
    failure: Option<FailureKind>,
) -> Response {
    let mut steps = stream::paced_steps(events, Duration::from_millis(timing.chunk_delay_ms));
    if let Some(kind) = failure {
        steps = break_stream(kind, steps);
    }
    let mut response = Response::new(stream::body(steps, context.connection.clone()));
    wire::set_answer_headers(&mut response, api, wire::EVENT_STREAM, request_id);
    response
}

/// Keeps the first half of the stream; then `malformed` sends half of the
/// next event (cut inside its JSON) and ends, and `drop_mid_stream` closes
/// the connection.
fn break_stream(kind: FailureKind, mut steps: Vec<Step>) -> Vec<Step> {
    let keep = (steps.len() / 2).max(1).min(steps.len());
    let cut_event = match steps.get(keep) {
        Some(Step::Send { bytes, .. }) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::from("data: {\"garbled\": "),
    };
    steps.truncate(keep);
    if kind == FailureKind::DropMidStream {
        steps.push(Step::CloseConnection);
        return steps;
    }
    let mut garbage = first_half(cut_event.trim_end()).to_string();
    garbage.push_str("\n\n");
    steps.push(Step::Send {
        delay: Duration::ZERO,
        bytes: Bytes::from(garbage),
    });
    steps
}

/// The first half of `text`, cut on a character boundary.
fn first_half(text: &str) -> &str {
    let mut end = text.len() / 2;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The chat flow of both APIs: the request's key, body and shape, then the
/// behavior of its model decides the rest.
pub(crate) async fn answer_chat(
    shared: &Shared,
    context: &RequestContext,
    api: Api,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let config = shared.config();
    if let Err(error) = check_api_key(&config, api, headers) {
        return api.error_response(&error);
    }
    let parsed = match parse_body(api, body) {
        Ok(parsed) => parsed,
        Err(error) => return api.error_response(&error),
    };
    let prompt = match api {
        Api::OpenAi => Prompt::from_openai(&parsed),
        Api::Anthropic => Prompt::from_anthropic(&parsed),
    };
    let prompt = match prompt {
        Ok(prompt) => prompt,
        Err(error) => return api.error_response(&error),
    };
    let behavior = config.behavior_for(&prompt.model);
    let failure = match before_answer(
        shared,
        context,
        api,
        behavior,
        &prompt.model,
        prompt.last_user_text(),
    )
    .await
    {
        Ok(failure) => failure,
        Err(response) => return response,
    };

    let (style, rule_text) = answer::choose_style(&prompt, behavior);
    let attempt = if style == ReplyStyle::Judge {
        shared.next_judge_attempt(&prompt.model, prompt.fingerprint())
    } else {
        0
    };
    let reply = new_reply(
        api,
        context,
        &prompt,
        behavior,
        answer::compose(&prompt, behavior, style, rule_text, attempt),
    );
    let request_id = stable_id("req_", reply.seed ^ 1, 24);
    if prompt.stream {
        let chunk_words = behavior.timing.chunk_words;
        let events = match api {
            Api::OpenAi => openai::chat_events(&reply, prompt.include_usage, chunk_words),
            Api::Anthropic => anthropic::message_events(&reply, chunk_words),
        };
        return stream_response(
            api,
            context,
            &request_id,
            &events,
            &behavior.timing,
            failure,
        );
    }
    let body = match api {
        Api::OpenAi => openai::chat_json(&reply),
        Api::Anthropic => anthropic::message_json(&reply),
    };
    json_response(api, context, &request_id, &body, failure)
}

fn new_reply(
    api: Api,
    context: &RequestContext,
    prompt: &Prompt,
    behavior: &Behavior,
    answer: Answer,
) -> Reply {
    let seed = stable_hash(&[
        &context.seq.to_le_bytes(),
        &prompt.fingerprint().to_le_bytes(),
    ]);
    let id = match api {
        Api::OpenAi => stable_id("chatcmpl-", seed, 29),
        Api::Anthropic => stable_id("msg_01", seed, 22),
    };
    Reply {
        id,
        seed,
        model: behavior
            .response_model
            .clone()
            .unwrap_or_else(|| prompt.model.clone()),
        created_unix_s: now_unix_s(),
        answer,
    }
}

pub(crate) fn now_unix_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sent(steps: &[Step]) -> String {
        let mut text = String::new();
        for step in steps {
            if let Step::Send { bytes, .. } = step {
                text.push_str(std::str::from_utf8(bytes).unwrap());
            }
        }
        text
    }

    fn events(count: usize) -> Vec<Step> {
        let mut list = Vec::new();
        for index in 0..count {
            list.push(SseEvent::data(format!(
                "{{\"n\": {index}, \"text\": \"abcdef\"}}"
            )));
        }
        stream::paced_steps(&list, Duration::ZERO)
    }

    #[test]
    fn malformed_stream_ends_with_a_cut_event() {
        let steps = break_stream(FailureKind::Malformed, events(6));
        assert_eq!(steps.len(), 4);
        let text = sent(&steps);
        let last = text.trim_end().rsplit("\n\n").next().unwrap();
        let data = last.strip_prefix("data: ").unwrap();
        assert!(serde_json::from_str::<Json>(data).is_err(), "{data}");
        assert!(!text.contains("\"n\": 4"));
    }

    #[test]
    fn drop_mid_stream_closes_after_half() {
        let steps = break_stream(FailureKind::DropMidStream, events(6));
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[3], Step::CloseConnection);
    }

    #[test]
    fn jitter_is_bounded_and_seeded() {
        let timing = Timing {
            latency_ms: 10,
            jitter_ms: 5,
            seed: 7,
            ..Timing::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for seq in 0..200 {
            let delay = response_delay(&timing, seq);
            assert!(delay >= Duration::from_millis(10) && delay <= Duration::from_millis(15));
            assert_eq!(delay, response_delay(&timing, seq));
            seen.insert(delay);
        }
        assert_eq!(seen.len(), 6, "every jitter value 0..=5 appears");
    }

    #[test]
    fn first_half_respects_char_boundaries() {
        assert_eq!(first_half("ab"), "a");
        assert_eq!(first_half("éé"), "é");
        assert_eq!(first_half("aé"), "a");
    }
}
