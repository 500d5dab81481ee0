//! Where requests go: a [`Target`] (endpoint, kind, key variable, headers,
//! timeouts) and the [`Secret`] its key travels as. Plain configuration
//! with no HTTP client type in it: replay and compare build and store
//! targets without one.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ProviderError;

/// Which API a target speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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

/// Reads the target's API key from its environment variable, now.
#[allow(
    clippy::disallowed_methods,
    reason = "provider keys come only from the environment, read here"
)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_shows_nothing_of_the_key() {
        let secret = Secret::new("sk-live-abcdef");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
    }

    #[test]
    fn target_url_joins_base_and_path_once() {
        let target = Target::new("local", ProviderKind::OpenAi, "http://127.0.0.1:8080/v1/");
        assert_eq!(target.url(), "http://127.0.0.1:8080/v1/chat/completions");
    }
}
