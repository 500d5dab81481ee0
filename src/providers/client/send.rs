//! One request to a target: headers (the key marked sensitive), the POST,
//! the status, and a non-streamed body read under the deadline and a size
//! cap. Everything that ends in an error passes through [`Attempt`], which
//! names the URL without its credentials and scrubs the key from provider
//! text.

use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value as Json;
use tokio::time::timeout_at;

use super::{ProviderError, ProviderKind, Secret, Target, read_api_key};
use crate::model::{CallError, Message, Usage};
use crate::providers::wire::anthropic::AnthropicStream;
use crate::providers::wire::common::error_from_body;
use crate::providers::wire::openai_chat::ChatStream;
use crate::providers::wire::{ParsedResponse, RecordedResponse, StreamAssembler};

/// The Messages API version this client speaks.
const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Largest answer body read, in bytes; a runaway server stops here.
pub(super) const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// Largest error body kept for the error message, in bytes.
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;
/// Longest provider error text quoted in an error, in characters.
const MAX_ERROR_MESSAGE_CHARS: usize = 1000;

/// A target's answer in canonical terms, with timings and the raw answer.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderResponse {
    /// One message per choice, each with its OTel `finish_reason`.
    pub output_messages: Vec<Message>,
    /// The provider's own words, one per choice.
    pub finish_reasons: Vec<String>,
    pub usage: Usage,
    pub response_id: Option<String>,
    pub response_model: Option<String>,
    /// From sending the request to the end of the answer.
    pub latency_ms: f64,
    /// From sending the request to the first event carrying output; `None`
    /// when the answer was not streamed.
    pub ttft_ms: Option<f64>,
    pub streamed: bool,
    /// The body as received, or every event's data in order (OpenAI's
    /// `[DONE]` as the string `"[DONE]"`): feed it to
    /// [`crate::providers::parse_response`] to parse it again.
    pub raw: RecordedResponse,
}

/// A client with a connect timeout, for callers that have none of their own.
pub fn build_client(connect_timeout_ms: u64) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(connect_timeout_ms))
        .build()
        .map_err(|error| ProviderError::InvalidTarget {
            target: "(http client)".to_owned(),
            reason: error_chain(&error),
        })
}

/// Sends `body` to the target, with the key read from its environment
/// variable at this moment.
pub async fn send(
    client: &reqwest::Client,
    target: &Target,
    body: &Json,
) -> Result<ProviderResponse, ProviderError> {
    let api_key = read_api_key(target)?;
    send_with_key(client, target, body, api_key.as_ref()).await
}

/// Sends `body` with the given key (or none): [`send`] without the
/// environment, for callers that hold the key already.
pub async fn send_with_key(
    client: &reqwest::Client,
    target: &Target,
    body: &Json,
    api_key: Option<&Secret>,
) -> Result<ProviderResponse, ProviderError> {
    let attempt = Attempt::new(target, api_key);
    let headers = attempt.headers(body)?;
    let payload = serde_json::to_vec(body).map_err(|error| ProviderError::InvalidTarget {
        target: target.name.clone(),
        reason: format!("the request body could not be written as JSON: {error}"),
    })?;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(target.request_timeout_ms);
    let request = client.post(target.url()).headers(headers).body(payload);
    let response = match timeout_at(deadline, request.send()).await {
        Err(_) => {
            return Err(attempt.timeout(
                "waiting for the response headers",
                target.request_timeout_ms,
            ));
        }
        Ok(Err(error)) => return Err(attempt.request_error(&error)),
        Ok(Ok(response)) => response,
    };
    if !response.status().is_success() {
        return Err(attempt.status_error(response, deadline).await);
    }
    match target.kind {
        ProviderKind::OpenAi => {
            attempt
                .receive::<ChatStream>(response, started, deadline)
                .await
        }
        ProviderKind::Anthropic => {
            attempt
                .receive::<AnthropicStream>(response, started, deadline)
                .await
        }
    }
}

/// One request in flight: what its errors need to say.
pub(super) struct Attempt<'a> {
    pub(super) target: &'a Target,
    api_key: Option<&'a Secret>,
    /// The URL without query or credentials, safe to show.
    pub(super) url: String,
}

impl<'a> Attempt<'a> {
    fn new(target: &'a Target, api_key: Option<&'a Secret>) -> Self {
        Self {
            target,
            api_key,
            url: display_url(&target.url()),
        }
    }

    fn headers(&self, body: &Json) -> Result<HeaderMap, ProviderError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let wants_stream = body.get("stream").and_then(Json::as_bool) == Some(true);
        let accept = if wants_stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        if self.target.kind == ProviderKind::Anthropic {
            headers.insert(
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static(ANTHROPIC_VERSION),
            );
        }
        if let Some(key) = self.api_key {
            let (name, value) = match self.target.kind {
                ProviderKind::OpenAi => (AUTHORIZATION, format!("Bearer {}", key.expose())),
                ProviderKind::Anthropic => (
                    HeaderName::from_static("x-api-key"),
                    key.expose().to_owned(),
                ),
            };
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                self.invalid("the API key holds characters that cannot go in an HTTP header")
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        for (name, value) in &self.target.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| self.invalid(&format!("`{name}` is not a valid header name")))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| self.invalid(&format!("the value of header `{name}` is not valid")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(headers)
    }

    fn invalid(&self, reason: &str) -> ProviderError {
        ProviderError::InvalidTarget {
            target: self.target.name.clone(),
            reason: reason.to_owned(),
        }
    }

    pub(super) fn timeout(&self, phase: &'static str, after_ms: u64) -> ProviderError {
        ProviderError::Timeout {
            url: self.url.clone(),
            phase,
            after_ms,
        }
    }

    /// Scrubs the key out of text that came from the network.
    pub(super) fn redact(&self, text: &str) -> String {
        match self.api_key {
            Some(key) if !key.expose().is_empty() => text.replace(key.expose(), "[redacted]"),
            _ => text.to_owned(),
        }
    }

    fn request_error(&self, error: &reqwest::Error) -> ProviderError {
        let reason = self.redact(&error_chain(error));
        if error.is_timeout() {
            return self.timeout(
                "waiting for the response headers",
                self.target.request_timeout_ms,
            );
        }
        if error.is_builder() {
            return self.invalid(&reason);
        }
        ProviderError::Connect {
            url: self.url.clone(),
            reason,
        }
    }

    async fn status_error(
        &self,
        response: reqwest::Response,
        deadline: tokio::time::Instant,
    ) -> ProviderError {
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers(), crate::model::time::now());
        // The error body is best effort: a status is an error even when its
        // body cannot be read.
        let bytes = read_capped(response, MAX_ERROR_BODY_BYTES, deadline)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let parsed = serde_json::from_str::<Json>(&text).ok();
        let error = parsed.as_ref().and_then(error_from_body);
        let message = error
            .as_ref()
            .and_then(|error| error.message.clone())
            .unwrap_or_else(|| text.trim().to_owned());
        ProviderError::Status {
            url: self.url.clone(),
            status,
            error_type: error.and_then(|error| error.error_type),
            message: self.redact(&truncate(&message, MAX_ERROR_MESSAGE_CHARS)),
            retry_after,
        }
    }

    pub(super) fn provider_error(&self, error: &CallError) -> ProviderError {
        ProviderError::Provider {
            url: self.url.clone(),
            error_type: error.error_type.clone(),
            message: self.redact(error.message.as_deref().unwrap_or("no message")),
        }
    }

    pub(super) fn malformed(&self, what: &'static str, reason: &str) -> ProviderError {
        ProviderError::Malformed {
            url: self.url.clone(),
            what,
            reason: self.redact(reason),
        }
    }

    /// Reads the answer in the format `S` assembles: streamed when the
    /// server sends a stream, whatever the request asked for.
    async fn receive<S: StreamAssembler>(
        &self,
        response: reqwest::Response,
        started: Instant,
        deadline: tokio::time::Instant,
    ) -> Result<ProviderResponse, ProviderError> {
        let is_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        if is_stream {
            self.read_stream::<S>(response, started, deadline).await
        } else {
            self.read_body::<S>(response, started, deadline).await
        }
    }

    async fn read_body<S: StreamAssembler>(
        &self,
        response: reqwest::Response,
        started: Instant,
        deadline: tokio::time::Instant,
    ) -> Result<ProviderResponse, ProviderError> {
        let bytes = match read_capped(response, MAX_RESPONSE_BYTES, deadline).await {
            Ok(bytes) => bytes,
            Err(ReadError::Deadline) => {
                return Err(self.timeout("reading the body", self.target.request_timeout_ms));
            }
            Err(ReadError::TooLarge) => {
                return Err(self.malformed("response", "the body is larger than 64 MiB"));
            }
            Err(ReadError::Network(error)) => {
                return Err(ProviderError::StreamCut {
                    url: self.url.clone(),
                    events: 0,
                    reason: self.redact(&error_chain(&error)),
                });
            }
        };
        let latency_ms = elapsed_ms(started);
        let body: Json = serde_json::from_slice(&bytes)
            .map_err(|error| self.malformed("JSON body", &error.to_string()))?;
        let parsed =
            S::parse_body(&body).map_err(|error| self.malformed("response", &error.to_string()))?;
        if let Some(error) = &parsed.error {
            return Err(self.provider_error(error));
        }
        Ok(provider_response(
            parsed,
            latency_ms,
            None,
            false,
            RecordedResponse::Body(body),
        ))
    }
}

pub(super) fn provider_response(
    parsed: ParsedResponse,
    latency_ms: f64,
    ttft_ms: Option<f64>,
    streamed: bool,
    raw: RecordedResponse,
) -> ProviderResponse {
    ProviderResponse {
        output_messages: parsed.output_messages,
        finish_reasons: parsed.finish_reasons,
        usage: parsed.usage,
        response_id: parsed.response_id,
        response_model: parsed.response_model,
        latency_ms,
        ttft_ms,
        streamed,
        raw,
    }
}

enum ReadError {
    Deadline,
    TooLarge,
    Network(reqwest::Error),
}

/// Reads a whole body, up to `max_bytes`, before `deadline`.
async fn read_capped(
    response: reqwest::Response,
    max_bytes: usize,
    deadline: tokio::time::Instant,
) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    loop {
        match timeout_at(deadline, stream.next()).await {
            Err(_) => return Err(ReadError::Deadline),
            Ok(None) => return Ok(body),
            Ok(Some(Err(error))) => return Err(ReadError::Network(error)),
            Ok(Some(Ok(chunk))) => {
                if body.len() + chunk.len() > max_bytes {
                    return Err(ReadError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
}

/// `retry-after-ms` (OpenAI) or `Retry-After` in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(ms) = header("retry-after-ms").and_then(|text| text.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let text = header("retry-after")?.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Some(Duration::from_secs_f64(seconds));
        }
        return None;
    }
    let date = httpdate::parse_http_date(text).ok()?;
    // A date in the past means "now".
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An error with its causes, which is where reqwest keeps the useful part
/// ("connection refused"). URLs are left out: the caller names its own.
pub(super) fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" for url ({url})"), "");
        text = text.replace(url.as_str(), "[url]");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A URL without its query and credentials, safe to put in an error.
fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            parsed.set_fragment(None);
            // Both only fail for URLs that cannot have credentials.
            let _ = parsed.set_password(None);
            let _ = parsed.set_username("");
            parsed.to_string()
        }
        Err(_) => url.split('?').next().unwrap_or_default().to_owned(),
    }
}

pub(super) fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars).collect();
    cut.push('…');
    cut
}

pub(super) fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_dates_and_milliseconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));

        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        headers.insert(
            "retry-after",
            HeaderValue::from_str(&later).expect("header"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));

        headers.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(
            retry_after(&headers, now),
            Some(Duration::from_millis(1500))
        );

        let mut garbage = HeaderMap::new();
        garbage.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&garbage, now), None);
    }

    #[test]
    fn display_url_drops_query_and_credentials() {
        assert_eq!(
            display_url("https://user:pw@example.com/v1/messages?key=sk-1"),
            "https://example.com/v1/messages"
        );
    }
}
