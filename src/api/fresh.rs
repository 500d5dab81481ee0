//! `fresh=true`: read only once everything acknowledged before the request
//! is derived.
//!
//! Exports are acknowledged when they are appended and derived into calls
//! behind the answer (see `ingest::derive`), so a read that follows an
//! export at once may not see its calls yet. A reader that must see them
//! asks for freshness; the wait is bounded, and a server whose derivation
//! is that far behind answers 503 with Retry-After instead.

use std::time::Duration;

use super::error::ApiError;
use super::params::param;
use crate::store::Store;

/// The query parameter.
pub const PARAM: &str = "fresh";

/// The parameter as the OpenAPI document describes it.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FreshParam {
    /// `true`: answer only once everything acknowledged before this
    /// request is derived into calls (waits up to 30 s, then 503 with
    /// Retry-After).
    #[allow(dead_code, reason = "documents the parameter; read from the raw query")]
    fresh: Option<bool>,
}

/// The longest a fresh read waits for derivation.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Waits, when the query asks for `fresh=true`, until every export
/// acknowledged before now is derived.
pub async fn wait_if_asked(store: &Store, pairs: &[(String, String)]) -> Result<(), ApiError> {
    if !asked(pairs)? {
        return Ok(());
    }
    let Some(newest) = store.backlog.newest() else {
        return Ok(());
    };
    if store.backlog.wait_derived(newest, MAX_WAIT).await {
        Ok(())
    } else {
        Err(ApiError::NotFresh { waited: MAX_WAIT })
    }
}

fn asked(pairs: &[(String, String)]) -> Result<bool, ApiError> {
    match param(pairs, PARAM) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1" | "") => Ok(true),
        Some(_) => Err(ApiError::invalid(PARAM, "must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(value: &str) -> Vec<(String, String)> {
        vec![(PARAM.to_owned(), value.to_owned())]
    }

    #[test]
    fn fresh_is_a_boolean() {
        assert!(!asked(&[]).expect("absent"));
        assert!(asked(&pairs("true")).expect("true"));
        assert!(!asked(&pairs("false")).expect("false"));
        assert!(asked(&pairs("yes")).is_err());
    }
}
