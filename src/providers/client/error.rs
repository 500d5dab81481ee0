//! Why a call to a target failed, and whether asking again may help.

use std::time::Duration;

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
