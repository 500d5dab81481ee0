//! Query parameters shared by the API's listing endpoints, parsed once
//! with errors that name the parameter.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::error::ApiError;
use crate::model::{CallStatus, TraceId};
use crate::store::read::{CallFilter, Cursor};

/// A point in time: RFC 3339 (`2026-11-28T10:00:00Z`), integer Unix
/// nanoseconds, or a duration back from now (`15m`, `24h`, `7d`).
pub fn parse_time(name: &'static str, text: &str) -> Result<u64, ApiError> {
    let text = text.trim();
    if let Ok(nanos) = text.parse::<u64>() {
        return Ok(nanos);
    }
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(unix_nanos(time));
    }
    if let Ok(ago) = humantime::parse_duration(text.trim_start_matches('-')) {
        let time = SystemTime::now()
            .checked_sub(ago)
            .ok_or_else(|| ApiError::invalid(name, "duration reaches before 1970"))?;
        return Ok(unix_nanos(time));
    }
    Err(ApiError::invalid(
        name,
        format!("{text:?} is not an RFC 3339 time, Unix nanoseconds, or a duration like 24h"),
    ))
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos() as u64
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

pub fn parse_cursor(text: Option<&str>) -> Result<Option<Cursor>, ApiError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => Cursor::decode(text)
            .map(Some)
            .ok_or_else(|| ApiError::invalid("cursor", "not a cursor this API returned")),
    }
}

/// The raw filter parameters of the calls endpoints.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallFilterParams {
    pub since: Option<String>,
    pub until: Option<String>,
    pub trace_id: Option<String>,
    pub service: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub status: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
}

impl CallFilterParams {
    pub fn parse(&self) -> Result<CallFilter, ApiError> {
        let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
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
            session_id: non_empty(&self.session_id),
            user_id: non_empty(&self.user_id),
        })
    }
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
        let now = unix_nanos(SystemTime::now());
        assert!(now - day_ago >= 86_400_000_000_000 && now - day_ago < 86_500_000_000_000);
        assert!(matches!(
            parse_time("until", "yesterday"),
            Err(ApiError::InvalidParameter { name: "until", .. })
        ));
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(parse_limit(None, 50, 1000).expect("default"), 50);
        assert!(parse_limit(Some("0"), 50, 1000).is_err());
        assert!(parse_limit(Some("5000"), 50, 1000).is_err());
    }
}
