//! Calls to the models a comparison uses itself: the judge and the
//! embeddings target.
//!
//! They obey the rules replay targets obey, by going through the same
//! [`Sender`]: the target's [`Limiter`] (concurrency and requests per
//! second, a slot taken per attempt), [`Backoff`] between retries of what
//! is retryable (never sooner than the server's `Retry-After`), at most the
//! target's `max_retries` retries, and a [`Ledger`] that refuses a call
//! before it would break the comparison's budget. A judge prompt is written
//! as a canonical call and translated by the same [`request_body`] as a
//! replayed call, so any configured target can judge.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value as Json, json};

use crate::model::time::now_unix_nano;
use crate::model::{Call, CallId, Message, Source};
use crate::providers::{ProviderError, ProviderKind, ProviderResponse, client};
use crate::targets::budget::{self, Budget, Ledger};
use crate::targets::limits::{Backoff, Limiter};
use crate::targets::request::request_body;
use crate::targets::send::{Retry, Sender, Slots};
use crate::targets::spec::TargetSpec;

/// Connect timeout of the comparison's HTTP client.
const CONNECT_TIMEOUT_MS: u64 = 10_000;

/// Why a call to the judge or the embeddings target produced no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallFailure {
    #[error("the judge request could not be written for target `{target}`: {reason}")]
    Translate { target: String, reason: String },
    #[error("{0}")]
    Budget(String),
    #[error("target `{target}` failed after {attempts} attempts: {message}")]
    Provider {
        target: String,
        attempts: u32,
        message: String,
    },
    #[error("target `{target}` answered embeddings that cannot be read: {reason}")]
    BadEmbeddings { target: String, reason: String },
}

/// A paced, budgeted caller of one target.
pub struct Caller {
    target: TargetSpec,
    limiter: Limiter,
    backoff: Backoff,
    client: reqwest::Client,
    ledger: Ledger,
    next_call: AtomicI64,
}

impl Caller {
    pub fn new(
        target: TargetSpec,
        budget: Budget,
        backoff: Backoff,
    ) -> Result<Self, ProviderError> {
        let limiter = Limiter::new(target.max_concurrency, target.requests_per_second);
        Ok(Caller {
            target,
            limiter,
            backoff,
            client: client::build_client(CONNECT_TIMEOUT_MS)?,
            ledger: Ledger::new(budget, 0, 0.0),
            next_call: AtomicI64::new(1),
        })
    }

    pub fn target(&self) -> &TargetSpec {
        &self.target
    }

    /// Each attempt takes its own slot: a judge prompt waiting out its
    /// backoff leaves the slot to the other items being scored.
    fn sender(&self) -> Sender<'_> {
        Sender {
            target: &self.target,
            limiter: &self.limiter,
            backoff: &self.backoff,
            slots: Slots::EachAttempt,
        }
    }

    /// Sends one user turn and returns the text of the answer. `response_format`
    /// asks for structured output (OpenAI's shape; for an Anthropic target it
    /// is dropped, and the prompt's own instructions ask for the JSON).
    pub async fn chat(
        &self,
        messages: Vec<Message>,
        response_format: Option<Json>,
    ) -> Result<String, CallFailure> {
        let now = now_unix_nano();
        let mut call = Call::new(CallId::random(now), Source::Replay, now);
        call.input_messages = Some(messages);
        // A judge should give the same verdict for the same pair.
        call.request_params.temperature = Some(0.0);
        call.request_params.response_format = response_format;
        let mut params = self.target.params(false, &Map::new(), &BTreeSet::new());
        if self.target.kind == ProviderKind::Anthropic {
            params.allow_drop.insert("response_format".to_owned());
        }
        let body = match request_body(&call, self.target.kind, &params) {
            Ok((body, _)) => body,
            Err(error) => {
                return Err(CallFailure::Translate {
                    target: self.target.name.clone(),
                    reason: error.to_string(),
                });
            }
        };
        let estimate = budget::estimate(&call, &body, self.target.price.as_ref());
        let response = self.send_budgeted(&body, estimate.cost_usd).await?;
        let mut text = String::new();
        for message in &response.output_messages {
            if let Some(part) = message.joined_text() {
                text.push_str(&part);
            }
        }
        Ok(text)
    }

    /// Embeds `texts` with an OpenAI-compatible `/embeddings` endpoint.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, CallFailure> {
        let body = json!({"model": self.target.model, "input": texts});
        let key = self.next_call.fetch_add(1, Ordering::Relaxed);
        let url = format!("{}/embeddings", self.target.base_url.trim_end_matches('/'));
        // Embeddings have no price: they count as calls, at no cost.
        let sent = self
            .sender()
            .send_budgeted(
                &self.ledger,
                key,
                None,
                || self.post_embeddings(&url, &body),
                |_| Some(0.0),
            )
            .await
            .map_err(|error| CallFailure::Budget(error.to_string()))?;
        let json = sent.outcome.map_err(|error| CallFailure::Provider {
            target: self.target.name.clone(),
            attempts: sent.attempts,
            message: error.to_string(),
        })?;
        parse_embeddings(&json, texts.len()).map_err(|reason| CallFailure::BadEmbeddings {
            target: self.target.name.clone(),
            reason,
        })
    }

    async fn post_embeddings(&self, url: &str, body: &Json) -> Result<Json, EmbeddingsError> {
        let key =
            client::read_api_key(&self.target).map_err(|e| EmbeddingsError::last(e.to_string()))?;
        let mut request = self
            .client
            .post(url)
            .timeout(Duration::from_millis(self.target.request_timeout_ms))
            .json(body);
        if let Some(key) = &key {
            request = request.bearer_auth(key.expose());
        }
        for (name, value) in &self.target.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| EmbeddingsError {
            message: e.to_string(),
            retryable: true,
            retry_after: None,
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(EmbeddingsError {
                message: format!("HTTP {status}"),
                retryable: status.as_u16() == 429 || status.is_server_error(),
                retry_after: client::retry_after(response.headers(), crate::model::time::now()),
            });
        }
        response
            .json::<Json>()
            .await
            .map_err(|e| EmbeddingsError::last(format!("the response is not JSON: {e}")))
    }

    /// Sends with pacing and retries after the budget admitted the call.
    async fn send_budgeted(
        &self,
        body: &Json,
        estimate_usd: Option<f64>,
    ) -> Result<ProviderResponse, CallFailure> {
        let key = self.next_call.fetch_add(1, Ordering::Relaxed);
        let price = self.target.price.as_ref();
        let sent = self
            .sender()
            .send_budgeted(
                &self.ledger,
                key,
                estimate_usd,
                || client::send(&self.client, &self.target.endpoint, body),
                |response: &ProviderResponse| price.and_then(|price| price.cost(&response.usage)),
            )
            .await
            .map_err(|error| CallFailure::Budget(error.to_string()))?;
        sent.outcome.map_err(|error| CallFailure::Provider {
            target: self.target.name.clone(),
            attempts: sent.attempts,
            message: error.to_string(),
        })
    }
}

/// A failed embeddings request. Its own HTTP call, not the provider
/// client's, so it says itself what may be retried: a request that could
/// not be sent, a 429 and a 5xx.
#[derive(Debug)]
struct EmbeddingsError {
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl EmbeddingsError {
    /// A failure that trying again would not mend.
    fn last(message: String) -> Self {
        EmbeddingsError {
            message,
            retryable: false,
            retry_after: None,
        }
    }
}

impl std::fmt::Display for EmbeddingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Retry for EmbeddingsError {
    fn is_retryable(&self) -> bool {
        self.retryable
    }

    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

/// The vectors of an OpenAI `/embeddings` answer, in input order.
fn parse_embeddings(json: &Json, expected: usize) -> Result<Vec<Vec<f32>>, String> {
    let Some(data) = json.get("data").and_then(Json::as_array) else {
        return Err("no `data` array".to_owned());
    };
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (position, entry) in data.iter().enumerate() {
        let index = entry
            .get("index")
            .and_then(Json::as_u64)
            .map(|i| i as usize)
            .unwrap_or(position);
        let Some(values) = entry.get("embedding").and_then(Json::as_array) else {
            return Err(format!("entry {position} has no `embedding` array"));
        };
        let mut vector = Vec::with_capacity(values.len());
        for value in values {
            let Some(x) = value.as_f64() else {
                return Err(format!("entry {position} holds a non-number"));
            };
            vector.push(x as f32);
        }
        if index >= expected {
            return Err(format!("index {index} is out of range"));
        }
        vectors[index] = Some(vector);
    }
    let mut out = Vec::with_capacity(expected);
    for (index, vector) in vectors.into_iter().enumerate() {
        match vector {
            Some(vector) => out.push(vector),
            None => return Err(format!("no vector for input {index}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_read_in_input_order() {
        let json = json!({"data": [
            {"index": 1, "embedding": [0.0, 1.0]},
            {"index": 0, "embedding": [1.0, 0.5]}
        ]});
        let vectors = parse_embeddings(&json, 2).expect("vectors");
        assert_eq!(vectors, vec![vec![1.0, 0.5], vec![0.0, 1.0]]);
    }

    #[test]
    fn missing_or_malformed_embeddings_are_errors() {
        assert!(parse_embeddings(&json!({}), 1).is_err());
        let one = json!({"data": [{"index": 0, "embedding": [1.0]}]});
        let error = parse_embeddings(&one, 2).expect_err("one vector for two inputs");
        assert!(error.contains("input 1"), "{error}");
        let bad = json!({"data": [{"index": 0, "embedding": ["x"]}]});
        assert!(parse_embeddings(&bad, 1).is_err());
    }
}
