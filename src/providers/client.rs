//! Sends a request body to a target model and reads the answer.
//!
//! A [`Target`] is an endpoint: its kind (`openai` for Chat Completions at
//! `{base_url}/chat/completions`, which llama.cpp, Ollama, vLLM and LiteLLM
//! also speak; `anthropic` for `{base_url}/messages`), extra headers, the
//! name of the environment variable that holds its API key, and timeouts.
//! The key is read when a request is made, travels as a [`Secret`] whose
//! `Debug` prints nothing of it, is marked sensitive in the header map, and
//! is scrubbed from any provider text that ends up in an error.
//!
//! Whether the answer streams is the body's business (`"stream": true`, as
//! the translators write it); the client follows what the server actually
//! sends (`text/event-stream` or JSON), so a server that ignores `stream`
//! still works. Streams are parsed as the bytes arrive; time to first token
//! is taken at the first event that carries output (text, reasoning or a
//! tool-call fragment), not at the first byte, since servers send a role or
//! `message_start` event before the model has produced anything.
//!
//! Errors are a [`ProviderError`]. Retryable: HTTP 408, 429 and 5xx
//! (Anthropic's 529 included), connection failures, timeouts, a stream cut
//! before its final event, and an overload or server error reported inside
//! a stream. Not retryable: a missing key, a misconfigured target, other
//! 4xx, and a malformed body: a success status with a body that does not
//! parse is a server speaking another format, which a retry would only
//! repeat (a truncated stream is a cut, not a malformed body).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tokio::time::timeout_at;

use super::sse::{SseEvent, SseParser};
use super::wire::anthropic::AnthropicStream;
use super::wire::openai_chat::ChatStream;
use super::wire::{ParsedResponse, RecordedResponse, StreamAssembler};
use crate::model::{CallError, Message, Usage};

/// The Messages API version this client speaks.
const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Largest answer body read, in bytes; a runaway server stops here.
const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// Largest error body kept for the error message, in bytes.
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;
/// Longest provider error text quoted in an error, in characters.
const MAX_ERROR_MESSAGE_CHARS: usize = 1000;

/// Which API a target speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProviderKind {
    /// OpenAI Chat Completions and compatible servers.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages.
    #[serde(rename = "anthropic")]
    Anthropic,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }

    fn path(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "/chat/completions",
            ProviderKind::Anthropic => "/messages",
        }
    }
}

/// An endpoint to send requests to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// How the user calls this target (shown in errors).
    pub name: String,
    pub kind: ProviderKind,
    /// E.g. `https://api.openai.com/v1`, `https://api.anthropic.com/v1`,
    /// `http://127.0.0.1:8080/v1` (llama.cpp), `http://127.0.0.1:11434/v1`
    /// (Ollama).
    pub base_url: String,
    /// The environment variable holding the API key; `None` for local
    /// servers that take none.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Extra headers (e.g. `anthropic-beta`, `OpenAI-Organization`); they
    /// are sent after the defaults and replace them on equal names. Keep
    /// keys out of here: use `api_key_env`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Longest a whole call may take, headers and body, in milliseconds.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Longest silence allowed between two pieces of a streamed body, in
    /// milliseconds.
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
}

fn default_request_timeout_ms() -> u64 {
    600_000
}

fn default_idle_timeout_ms() -> u64 {
    300_000
}

impl Target {
    /// A target with default timeouts, no key and no extra headers.
    pub fn new(name: impl Into<String>, kind: ProviderKind, base_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind,
            base_url: base_url.into(),
            api_key_env: None,
            headers: BTreeMap::new(),
            request_timeout_ms: default_request_timeout_ms(),
            idle_timeout_ms: default_idle_timeout_ms(),
        }
    }

    /// The full URL requests go to.
    pub fn url(&self) -> String {
        format!(
            "{}{}",
            self.base_url.trim_end_matches('/'),
            self.kind.path()
        )
    }
}

/// An API key. Its `Debug` shows nothing of it and it has no `Display`, so
/// it cannot end up in a log line or an error by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The key itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

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
    /// [`super::parse_response`] to parse it again.
    pub raw: RecordedResponse,
}

/// Why a call to a target failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the API key for target `{target}` is not set: export {env_var} before replaying")]
    MissingApiKey { target: String, env_var: String },
    #[error("target `{target}` is misconfigured: {reason}")]
    InvalidTarget { target: String, reason: String },
    #[error("could not reach {url}: {reason}; check that the server runs and base_url is right")]
    Connect { url: String, reason: String },
    #[error(
        "{url} timed out {phase} after {after_ms} ms; raise the target's timeouts if the model is slow"
    )]
    Timeout {
        url: String,
        phase: &'static str,
        after_ms: u64,
    },
    #[error("{url} answered HTTP {status}{}: {message}", error_type.as_ref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Status {
        url: String,
        status: u16,
        error_type: Option<String>,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("the answer from {url} broke off after {events} events: {reason}")]
    StreamCut {
        url: String,
        events: usize,
        reason: String,
    },
    #[error("{url} reported an error{}: {message}", error_type.as_ref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Provider {
        url: String,
        error_type: Option<String>,
        message: String,
    },
    #[error("{url} sent a body that is not a valid {what}: {reason}")]
    Malformed {
        url: String,
        what: &'static str,
        reason: String,
    },
}

impl ProviderError {
    /// True when the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::MissingApiKey { .. }
            | ProviderError::InvalidTarget { .. }
            | ProviderError::Malformed { .. } => false,
            ProviderError::Connect { .. }
            | ProviderError::Timeout { .. }
            | ProviderError::StreamCut { .. } => true,
            ProviderError::Status { status, .. } => {
                matches!(status, 408 | 429) || (500..=599).contains(status)
            }
            ProviderError::Provider { error_type, .. } => {
                let error_type = error_type.as_deref().unwrap_or("");
                [
                    "overloaded",
                    "rate_limit",
                    "api_error",
                    "server_error",
                    "timeout",
                ]
                .iter()
                .any(|word| error_type.contains(word))
            }
        }
    }

    /// How long the server asked us to wait (`Retry-After` in seconds or as
    /// an HTTP date, or OpenAI's `retry-after-ms`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
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

/// Reads the target's API key from its environment variable, now.
pub fn read_api_key(target: &Target) -> Result<Option<Secret>, ProviderError> {
    let Some(env_var) = &target.api_key_env else {
        return Ok(None);
    };
    match std::env::var(env_var) {
        Ok(key) if !key.trim().is_empty() => Ok(Some(Secret::new(key.trim()))),
        _ => Err(ProviderError::MissingApiKey {
            target: target.name.clone(),
            env_var: env_var.clone(),
        }),
    }
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
struct Attempt<'a> {
    target: &'a Target,
    api_key: Option<&'a Secret>,
    /// The URL without query or credentials, safe to show.
    url: String,
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

    fn timeout(&self, phase: &'static str, after_ms: u64) -> ProviderError {
        ProviderError::Timeout {
            url: self.url.clone(),
            phase,
            after_ms,
        }
    }

    /// Scrubs the key out of text that came from the network.
    fn redact(&self, text: &str) -> String {
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
        let retry_after = retry_after(response.headers(), SystemTime::now());
        // The error body is best effort: a status is an error even when its
        // body cannot be read.
        let bytes = read_capped(response, MAX_ERROR_BODY_BYTES, deadline)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let parsed = serde_json::from_str::<Json>(&text).ok();
        let error = parsed
            .as_ref()
            .and_then(super::wire::common::error_from_body);
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

    fn provider_error(&self, error: &CallError) -> ProviderError {
        ProviderError::Provider {
            url: self.url.clone(),
            error_type: error.error_type.clone(),
            message: self.redact(error.message.as_deref().unwrap_or("no message")),
        }
    }

    fn malformed(&self, what: &'static str, reason: &str) -> ProviderError {
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

    async fn read_stream<S: StreamAssembler>(
        &self,
        response: reqwest::Response,
        started: Instant,
        deadline: tokio::time::Instant,
    ) -> Result<ProviderResponse, ProviderError> {
        let mut parser = SseParser::default();
        let mut reader = StreamReader::<S>::new(started);
        let mut bytes = response.bytes_stream();
        let idle = Duration::from_millis(self.target.idle_timeout_ms);
        let mut received_bytes = 0usize;
        loop {
            let idle_deadline = tokio::time::Instant::now() + idle;
            let wait_until = idle_deadline.min(deadline);
            let next = match timeout_at(wait_until, bytes.next()).await {
                Ok(next) => next,
                Err(_) if wait_until == deadline => {
                    return Err(self.timeout("reading the stream", self.target.request_timeout_ms));
                }
                Err(_) => {
                    return Err(self.timeout(
                        "waiting for the next stream event",
                        self.target.idle_timeout_ms,
                    ));
                }
            };
            let chunk = match next {
                None => break,
                Some(Ok(chunk)) => chunk,
                Some(Err(error)) => {
                    return Err(ProviderError::StreamCut {
                        url: self.url.clone(),
                        events: reader.raw.len(),
                        reason: self.redact(&error_chain(&error)),
                    });
                }
            };
            received_bytes += chunk.len();
            if received_bytes > MAX_RESPONSE_BYTES {
                return Err(self.malformed("event stream", "the stream is larger than 64 MiB"));
            }
            let events = parser
                .feed(&chunk)
                .map_err(|error| self.malformed("event stream", &error.to_string()))?;
            for event in events {
                self.take_event(&mut reader, &event)?;
            }
        }
        if let Some(event) = parser.finish() {
            self.take_event(&mut reader, &event)?;
        }
        let latency_ms = elapsed_ms(started);
        if !reader.assembler.is_complete() {
            return Err(ProviderError::StreamCut {
                url: self.url.clone(),
                events: reader.raw.len(),
                reason: "the server closed the stream before its final event".to_owned(),
            });
        }
        let StreamReader {
            assembler,
            ttft_ms,
            raw,
            ..
        } = reader;
        let parsed = assembler
            .finish()
            .map_err(|error| self.malformed("stream", &error.to_string()))?;
        Ok(provider_response(
            parsed,
            latency_ms,
            ttft_ms,
            true,
            RecordedResponse::Stream(raw),
        ))
    }

    fn take_event<S: StreamAssembler>(
        &self,
        reader: &mut StreamReader<S>,
        event: &SseEvent,
    ) -> Result<(), ProviderError> {
        let data = event.data.trim();
        let value = if data == "[DONE]" {
            Json::String(data.to_owned())
        } else {
            serde_json::from_str(data).map_err(|error| {
                self.malformed(
                    "stream event",
                    &format!("{error} in `{}`", truncate(data, 200)),
                )
            })?
        };
        reader.push(value);
        match reader.assembler.error() {
            Some(error) => Err(self.provider_error(error)),
            None => Ok(()),
        }
    }
}

/// The target format's stream assembler, plus timing and the raw events.
struct StreamReader<S> {
    assembler: S,
    started: Instant,
    ttft_ms: Option<f64>,
    raw: Vec<Json>,
}

impl<S: StreamAssembler> StreamReader<S> {
    fn new(started: Instant) -> Self {
        Self {
            assembler: S::default(),
            started,
            ttft_ms: None,
            raw: Vec::new(),
        }
    }

    fn push(&mut self, value: Json) {
        let carried_output = self.assembler.push(&value);
        if carried_output && self.ttft_ms.is_none() {
            self.ttft_ms = Some(elapsed_ms(self.started));
        }
        self.raw.push(value);
    }
}

fn provider_response(
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
fn error_chain(error: &reqwest::Error) -> String {
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

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars).collect();
    cut.push('…');
    cut
}

fn elapsed_ms(started: Instant) -> f64 {
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
    fn secret_debug_shows_nothing_of_the_key() {
        let secret = Secret::new("sk-live-abcdef");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
    }

    #[test]
    fn display_url_drops_query_and_credentials() {
        assert_eq!(
            display_url("https://user:pw@example.com/v1/messages?key=sk-1"),
            "https://example.com/v1/messages"
        );
    }

    #[test]
    fn target_url_joins_base_and_path_once() {
        let target = Target::new("local", ProviderKind::OpenAi, "http://127.0.0.1:8080/v1/");
        assert_eq!(target.url(), "http://127.0.0.1:8080/v1/chat/completions");
    }
}
