//! The filter language of calls: what `GET /api/v1/calls` (and stats,
//! export and costs) take as query parameters and replay selections take
//! as a JSON object, parsed once into a [`CallFilter`] that every storage
//! engine runs. It sits below both the HTTP layer and replay, so a filter
//! added here works in every place that selects calls.

use super::search::Search;
use super::time::{self, unix_nano};
use super::{CallStatus, Source, TraceId};

/// A filter parameter that cannot be used, named so the caller can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Text comparisons and the full-text engine stop at a NUL; no filter means one.
    #[error("parameter {name:?} contains a NUL byte")]
    Nul { name: String },
    /// Not a filter, and not a parameter the endpoint takes beside them:
    /// refused so a typo never silently widens a query.
    #[error("unknown parameter {0:?}")]
    Unknown(String),
    #[error("invalid parameter {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

impl FilterError {
    pub fn invalid(name: &'static str, message: impl std::fmt::Display) -> Self {
        FilterError::Invalid {
            name,
            message: message.to_string(),
        }
    }
}

/// A point in time: RFC 3339 (`2026-11-28T10:00:00Z`), integer Unix
/// nanoseconds, or a duration back from now (`15m`, `24h`, `7d`).
pub fn parse_time(name: &'static str, text: &str) -> Result<u64, FilterError> {
    let text = text.trim();
    if let Ok(nanos) = text.parse::<u64>() {
        return Ok(nanos);
    }
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(unix_nano(time));
    }
    if let Ok(ago) = humantime::parse_duration(text.trim_start_matches('-')) {
        let time = time::now()
            .checked_sub(ago)
            .ok_or_else(|| FilterError::invalid(name, "duration reaches before 1970"))?;
        return Ok(unix_nano(time));
    }
    Err(FilterError::invalid(
        name,
        format!("{text:?} is not an RFC 3339 time, Unix nanoseconds, or a duration like 24h"),
    ))
}

/// Filters of the calls listing; every field is optional and they combine with AND.
#[derive(Clone, Debug, Default)]
pub struct CallFilter {
    pub since_unix_nano: Option<u64>,
    pub until_unix_nano: Option<u64>,
    pub trace_id: Option<TraceId>,
    pub service: Option<String>,
    pub provider: Option<String>,
    /// Matches the request model or the response model.
    pub model: Option<String>,
    pub status: Option<CallStatus>,
    pub source: Option<SourceFilter>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    /// Calls that have every one of these tags.
    pub tags: Vec<String>,
    /// Calls whose filterable attributes have these values.
    pub attributes: Vec<(String, String)>,
    pub min_duration_ms: Option<f64>,
    pub max_duration_ms: Option<f64>,
    /// Bounds on input + output tokens.
    pub min_tokens: Option<i64>,
    pub max_tokens: Option<i64>,
    /// Calls whose full-text entries hold every word.
    pub search: Option<Search>,
}

/// Which sources a listing takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFilter {
    Is(Source),
    /// What applications sent (OTLP and raw records): everything but the
    /// calls replays made.
    Production,
}

/// The filter of the calls endpoints, as sent: query parameters of
/// `GET /api/v1/calls` (and stats and export), or a JSON object in request
/// bodies (replays). Every field is optional; they combine with AND. The
/// fields' docs are the parameters' descriptions in the OpenAPI document.
#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallFilterParams {
    /// Calls that started at or after this time: RFC 3339
    /// (`2026-11-28T10:00:00Z`), Unix nanoseconds, or a duration ago
    /// (`15m`, `24h`, `7d`).
    pub since: Option<String>,
    /// Calls that started before this time (same forms as `since`).
    pub until: Option<String>,
    /// Calls of this trace (32 hex digits).
    #[param(pattern = "^[0-9a-fA-F]{32}$")]
    pub trace_id: Option<String>,
    /// `service.name` of the app that made the call.
    pub service: Option<String>,
    /// Provider name as normalized (`openai`, `anthropic`, `gcp.gemini`, …).
    pub provider: Option<String>,
    /// Request or response model.
    pub model: Option<String>,
    /// Call status: `ok` or `error`.
    #[param(pattern = "^(ok|error)$")]
    pub status: Option<String>,
    /// Where the call came from: `otlp`, `raw`, `replay`, or `production`
    /// (every call but replays').
    #[param(pattern = "^(otlp|raw|replay|production)$")]
    pub source: Option<String>,
    /// Calls of this conversation (alias: `session`).
    pub session_id: Option<String>,
    /// Calls made for this end user (alias: `user`).
    pub user_id: Option<String>,
    /// Calls carrying this tag; repeat the parameter to require several.
    #[serde(default)]
    #[param(style = Form, explode)]
    pub tag: Vec<String>,
    /// Attribute equality: `attr.KEY=VALUE` (e.g.
    /// `attr.deployment.environment=prod`), any number of them.
    #[serde(default)]
    #[param(rename = "attr", style = DeepObject, explode)]
    pub attributes: std::collections::BTreeMap<String, String>,
    /// Minimum latency in milliseconds (alias: `min_latency_ms`).
    pub min_duration_ms: Option<f64>,
    /// Maximum latency in milliseconds (alias: `max_latency_ms`).
    pub max_duration_ms: Option<f64>,
    /// Minimum input + output tokens.
    pub min_tokens: Option<i64>,
    /// Maximum input + output tokens.
    pub max_tokens: Option<i64>,
    /// Full-text search over each call's last user turn and its answer:
    /// every word must appear, and every piece of a word split at
    /// punctuation (`gpt-4o` needs `gpt` and `4o`); a trailing `*` matches
    /// a prefix. Exact phrases in double quotes, `*` inside a word, and
    /// `OR`/`NOT`/`NEAR` are refused with a 400 that says so.
    pub q: Option<String>,
}

/// Parameters that are not filters, allowed beside them in a query.
pub const PAGING_PARAMS: &[&str] = &["limit", "cursor", "sort", "order", "format", "group_by"];

impl CallFilterParams {
    /// Reads filter parameters from a query string's pairs; other
    /// parameters must be in `allowed`. Unknown parameters are an error, so
    /// a typo never silently widens a query.
    pub fn from_pairs(pairs: &[(String, String)], allowed: &[&str]) -> Result<Self, FilterError> {
        let mut params = CallFilterParams::default();
        for (name, value) in pairs {
            // SQLite's full-text engine and text comparisons stop at a NUL;
            // no filter means one.
            if value.contains('\0') {
                return Err(FilterError::Nul { name: name.clone() });
            }
            let value = value.clone();
            let number = |name: &'static str| -> Result<f64, FilterError> {
                value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| FilterError::invalid(name, format!("{value:?} is not a number")))
            };
            let integer = |name: &'static str| -> Result<i64, FilterError> {
                value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| FilterError::invalid(name, format!("{value:?} is not an integer")))
            };
            match name.as_str() {
                "since" => params.since = Some(value),
                "until" => params.until = Some(value),
                "trace_id" => params.trace_id = Some(value),
                "service" => params.service = Some(value),
                "provider" => params.provider = Some(value),
                "model" => params.model = Some(value),
                "status" => params.status = Some(value),
                "source" => params.source = Some(value),
                "session_id" | "session" => params.session_id = Some(value),
                "user_id" | "user" => params.user_id = Some(value),
                "tag" => params.tag.push(value),
                "min_duration_ms" | "min_latency_ms" => {
                    params.min_duration_ms = Some(number("min_duration_ms")?)
                }
                "max_duration_ms" | "max_latency_ms" => {
                    params.max_duration_ms = Some(number("max_duration_ms")?)
                }
                "min_tokens" => params.min_tokens = Some(integer("min_tokens")?),
                "max_tokens" => params.max_tokens = Some(integer("max_tokens")?),
                "q" => params.q = Some(value),
                other => {
                    if let Some(key) = other.strip_prefix("attr.").filter(|k| !k.is_empty()) {
                        params.attributes.insert(key.to_owned(), value);
                    } else if !allowed.contains(&other) {
                        return Err(FilterError::Unknown(other.to_owned()));
                    }
                }
            }
        }
        Ok(params)
    }

    pub fn parse(&self) -> Result<CallFilter, FilterError> {
        let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let q = match non_empty(&self.q) {
            None => None,
            Some(text) => {
                Some(Search::parse(&text).map_err(|error| FilterError::invalid("q", error))?)
            }
        };
        Ok(CallFilter {
            since_unix_nano: self
                .since
                .as_deref()
                .map(|t| parse_time("since", t))
                .transpose()?,
            until_unix_nano: self
                .until
                .as_deref()
                .map(|t| parse_time("until", t))
                .transpose()?,
            trace_id: self
                .trace_id
                .as_deref()
                .map(|t| TraceId::from_hex(t).map_err(|e| FilterError::invalid("trace_id", e)))
                .transpose()?,
            service: non_empty(&self.service),
            provider: non_empty(&self.provider),
            model: non_empty(&self.model),
            status: self.status.as_deref().map(parse_status).transpose()?,
            source: self.source.as_deref().map(parse_source).transpose()?,
            session_id: non_empty(&self.session_id),
            user_id: non_empty(&self.user_id),
            tags: self.tag.iter().filter(|t| !t.is_empty()).cloned().collect(),
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            min_duration_ms: self.min_duration_ms,
            max_duration_ms: self.max_duration_ms,
            min_tokens: self.min_tokens,
            max_tokens: self.max_tokens,
            search: q,
        })
    }
}

fn parse_source(text: &str) -> Result<SourceFilter, FilterError> {
    if text == "production" {
        return Ok(SourceFilter::Production);
    }
    Source::parse(text).map(SourceFilter::Is).ok_or_else(|| {
        FilterError::invalid(
            "source",
            format!("{text:?} is not otlp, raw, replay or production"),
        )
    })
}

fn parse_status(text: &str) -> Result<CallStatus, FilterError> {
    match text {
        "ok" => Ok(CallStatus::Ok),
        "error" => Ok(CallStatus::Error),
        other => Err(FilterError::invalid(
            "status",
            format!("{other:?} is not ok or error"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_three_forms() {
        assert_eq!(
            parse_time("since", "1700000000000000000").expect("nanos"),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time("since", "2023-11-14T22:13:20Z").expect("rfc3339"),
            1_700_000_000_000_000_000
        );
        let day_ago = parse_time("since", "24h").expect("duration");
        let now = time::now_unix_nano();
        assert!(now - day_ago >= 86_400_000_000_000 && now - day_ago < 86_500_000_000_000);
        assert!(matches!(
            parse_time("until", "yesterday"),
            Err(FilterError::Invalid { name: "until", .. })
        ));
    }

    #[test]
    fn unknown_parameters_are_refused_by_name() {
        let pairs = vec![("modle".to_string(), "gpt-4o".to_string())];
        let error = CallFilterParams::from_pairs(&pairs, PAGING_PARAMS).expect_err("typo");
        assert!(error.to_string().contains("modle"));
        let pairs = vec![
            ("attr.tenant".to_string(), "acme".to_string()),
            ("tag".to_string(), "a".to_string()),
            ("tag".to_string(), "b".to_string()),
            ("limit".to_string(), "5".to_string()),
        ];
        let params = CallFilterParams::from_pairs(&pairs, PAGING_PARAMS).expect("valid");
        assert_eq!(params.tag, vec!["a", "b"]);
        assert_eq!(params.attributes["tenant"], "acme");
    }
}
