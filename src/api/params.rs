//! Query parameters shared by the API's listing endpoints, parsed once
//! with errors that name the parameter.

use super::error::ApiError;
use crate::store::read::{CallSort, Cursor, SortKey};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_bounded() {
        assert_eq!(parse_limit(None, 50, 1000).expect("default"), 50);
        assert!(parse_limit(Some("0"), 50, 1000).is_err());
        assert!(parse_limit(Some("5000"), 50, 1000).is_err());
    }
}
