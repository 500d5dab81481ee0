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
    /// A fixed word for the kind of failure, never the message (messages
    /// are unbounded): the `reason` label of the replay attempt metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::MissingApiKey { .. } | ProviderError::InvalidTarget { .. } => "config",
            ProviderError::Connect { .. } => "connection",
            ProviderError::Timeout { .. } => "timeout",
            ProviderError::Status { status: 429, .. } => "rate_limited",
            ProviderError::Status { status, .. } if *status >= 500 => "server_error",
            ProviderError::Status { .. } => "client_error",
            ProviderError::StreamCut { .. } => "stream_cut",
            ProviderError::Provider { .. } => "provider_error",
            ProviderError::Malformed { .. } => "malformed_response",
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_errors_get_a_fixed_reason_per_kind() {
        let status = |status: u16| ProviderError::Status {
            url: "http://x".into(),
            status,
            error_type: None,
            message: "m".into(),
            retry_after: None,
        };
        assert_eq!(status(429).kind(), "rate_limited");
        assert_eq!(status(503).kind(), "server_error");
        assert_eq!(status(400).kind(), "client_error");
        let timeout = ProviderError::Timeout {
            url: "http://x".into(),
            phase: "waiting for headers",
            after_ms: 10,
        };
        assert_eq!(timeout.kind(), "timeout");
    }
}
