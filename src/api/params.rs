//! Query parameters shared by the API's listing endpoints, parsed once
//! with errors that name the parameter.

use std::time::SystemTime;

use super::error::ApiError;
use crate::model::time::unix_nano;
use crate::model::{CallStatus, Source, TraceId};
use crate::store::read::{CallFilter, CallSort, Cursor, SortKey, SourceFilter, fts_match};

/// A point in time: RFC 3339 (`2026-11-28T10:00:00Z`), integer Unix
/// nanoseconds, or a duration back from now (`15m`, `24h`, `7d`).
pub fn parse_time(name: &'static str, text: &str) -> Result<u64, ApiError> {
    let text = text.trim();
    if let Ok(nanos) = text.parse::<u64>() {
        return Ok(nanos);
    }
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(unix_nano(time));
    }
    if let Ok(ago) = humantime::parse_duration(text.trim_start_matches('-')) {
        let time = SystemTime::now()
            .checked_sub(ago)
            .ok_or_else(|| ApiError::invalid(name, "duration reaches before 1970"))?;
        return Ok(unix_nano(time));
    }
    Err(ApiError::invalid(
        name,
        format!("{text:?} is not an RFC 3339 time, Unix nanoseconds, or a duration like 24h"),
    ))
}

pub fn parse_limit(text: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    let Some(text) = text else {
        return Ok(default);
    };
    match text.trim().parse::<usize>() {
        Ok(0) => Err(ApiError::invalid("limit", "must be at least 1")),
        Ok(n) if n <= max => Ok(n),
        Ok(_) => Err(ApiError::invalid("limit", format!("must be at most {max}"))),
        Err(_) => Err(ApiError::invalid(
            "limit",
            format!("{text:?} is not a number"),
        )),
    }
}

/// The pairs of a query string, in order, percent-decoded.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The last value of a parameter.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `sort=time|latency|tokens|cost` and `order=desc|asc`.
pub fn parse_sort(pairs: &[(String, String)]) -> Result<CallSort, ApiError> {
    let key = match param(pairs, "sort") {
        None => SortKey::Time,
        Some(text) => SortKey::parse(text).ok_or_else(|| {
            ApiError::invalid(
                "sort",
                format!("{text:?} is not time, latency, tokens or cost"),
            )
        })?,
    };
    let ascending = match param(pairs, "order") {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "order",
                format!("{other:?} is not asc or desc"),
            ));
        }
    };
    Ok(CallSort { key, ascending })
}

/// A cursor returned by an earlier page of the same listing.
pub fn parse_cursor(text: Option<&str>, sort: CallSort) -> Result<Option<Cursor>, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let cursor = Cursor::decode(text)
        .ok_or_else(|| ApiError::invalid("cursor", "not a cursor this API returned"))?;
    if cursor.key != sort.key || cursor.ascending != sort.ascending {
        return Err(ApiError::invalid(
            "cursor",
            "was returned for another sort order",
        ));
    }
    Ok(Some(cursor))
}

/// The filter of the calls endpoints, as sent: query parameters of
/// `GET /api/v1/calls` (and stats and export), or a JSON object in request
/// bodies (replays). Every field is optional; they combine with AND.
#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CallFilterParams {
    pub since: Option<String>,
    pub until: Option<String>,
    pub trace_id: Option<String>,
    pub service: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub status: Option<String>,
    pub source: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    /// Calls with every one of these tags (`tag=` may repeat in a query).
    #[serde(default)]
    pub tag: Vec<String>,
    /// Attribute equality (`attr.KEY=VALUE` in a query).
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
    pub min_duration_ms: Option<f64>,
    pub max_duration_ms: Option<f64>,
    /// Bounds on input + output tokens.
    pub min_tokens: Option<i64>,
    pub max_tokens: Option<i64>,
    /// Full-text search over what each call added: its last user turn and
    /// its answer.
    pub q: Option<String>,
}

/// Parameters that are not filters, allowed beside them in a query.
pub const PAGING_PARAMS: &[&str] = &["limit", "cursor", "sort", "order", "format", "group_by"];

impl CallFilterParams {
    /// Reads filter parameters from a query string's pairs; other
    /// parameters must be in `allowed`. Unknown parameters are an error, so
    /// a typo never silently widens a query.
    pub fn from_pairs(pairs: &[(String, String)], allowed: &[&str]) -> Result<Self, ApiError> {
        let mut params = CallFilterParams::default();
        for (name, value) in pairs {
            // SQLite's full-text engine and text comparisons stop at a NUL;
            // no filter means one.
            if value.contains('\0') {
                return Err(ApiError::BadRequest(format!(
                    "parameter {name:?} contains a NUL byte"
                )));
            }
            let value = value.clone();
            let number = |name: &'static str| -> Result<f64, ApiError> {
                value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| ApiError::invalid(name, format!("{value:?} is not a number")))
            };
            let integer = |name: &'static str| -> Result<i64, ApiError> {
                value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::invalid(name, format!("{value:?} is not an integer")))
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
                        return Err(ApiError::invalid_name(other));
                    }
                }
            }
        }
        Ok(params)
    }

    pub fn parse(&self) -> Result<CallFilter, ApiError> {
        let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let q = match non_empty(&self.q) {
            None => None,
            Some(text) => {
                Some(fts_match(&text).map_err(|error| ApiError::invalid("q", error.to_string()))?)
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
                .map(|t| TraceId::from_hex(t).map_err(|e| ApiError::invalid("trace_id", e)))
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
            fts_query: q,
        })
    }
}

fn parse_source(text: &str) -> Result<SourceFilter, ApiError> {
    if text == "production" {
        return Ok(SourceFilter::Production);
    }
    Source::parse(text).map(SourceFilter::Is).ok_or_else(|| {
        ApiError::invalid(
            "source",
            format!("{text:?} is not otlp, raw, replay or production"),
        )
    })
}

fn parse_status(text: &str) -> Result<CallStatus, ApiError> {
    match text {
        "ok" => Ok(CallStatus::Ok),
        "error" => Ok(CallStatus::Error),
        other => Err(ApiError::invalid(
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
        let now = unix_nano(SystemTime::now());
        assert!(now - day_ago >= 86_400_000_000_000 && now - day_ago < 86_500_000_000_000);
        assert!(matches!(
            parse_time("until", "yesterday"),
            Err(ApiError::InvalidParameter { name: "until", .. })
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

    #[test]
    fn limits_are_bounded() {
        assert_eq!(parse_limit(None, 50, 1000).expect("default"), 50);
        assert!(parse_limit(Some("0"), 50, 1000).is_err());
        assert!(parse_limit(Some("5000"), 50, 1000).is_err());
    }
}
