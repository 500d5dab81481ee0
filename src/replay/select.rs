//! Which recorded calls a run replays: explicit ids, or every call that
//! matches the filters of `GET /api/v1/calls` (the same
//! [`CallFilterParams`], so a filter added there works here with no
//! change), optionally a uniform random sample of them.
//!
//! Filtered selections leave out calls that are themselves replay results:
//! replaying a replay is rarely what "last week's calls" means. Explicit
//! ids are taken as given. Calls are replayed oldest first.

use rand::seq::index;
use serde_json::{Map, Value as Json};

use super::ReplayError;
use super::run::Selection;
use crate::model::filter::{CallFilter, CallFilterParams};
use crate::model::{CallId, Source};
use crate::store::Reader;
use crate::store::read::{CallSort, SortKey};

/// Calls read per page while selecting.
const PAGE_SIZE: usize = 1000;
/// Most calls one run may select.
pub const MAX_SELECTED_CALLS: usize = 100_000;

/// Parses filters given as a JSON object keyed by the query parameters of
/// `GET /api/v1/calls`. Each value goes through the same parser as a query
/// string (numbers are taken as their text, a list repeats its parameter as
/// `tag=` may, and `attributes` is `attr.KEY` for each key), so a filter
/// added there works here and an unknown one is refused, not ignored.
pub fn parse_filters(filters: &Map<String, Json>) -> Result<CallFilter, ReplayError> {
    let mut pairs = Vec::new();
    for (key, value) in filters {
        if key == "attributes" {
            let Json::Object(attributes) = value else {
                return Err(ReplayError::Selection(format!(
                    "filter `attributes` must be an object of KEY: VALUE, got {value}"
                )));
            };
            for (name, value) in attributes {
                push_pair(&mut pairs, &format!("attr.{name}"), value)?;
            }
            continue;
        }
        push_pair(&mut pairs, key, value)?;
    }
    CallFilterParams::from_pairs(&pairs, &[])
        .and_then(|params| params.parse())
        .map_err(|error| ReplayError::Selection(format!("invalid filters: {error}")))
}

fn push_pair(
    pairs: &mut Vec<(String, String)>,
    key: &str,
    value: &Json,
) -> Result<(), ReplayError> {
    match value {
        Json::String(text) => pairs.push((key.to_owned(), text.clone())),
        Json::Number(number) => pairs.push((key.to_owned(), number.to_string())),
        Json::Null => {}
        Json::Array(values) => {
            for value in values {
                match value {
                    Json::Array(_) | Json::Object(_) => {
                        return Err(ReplayError::Selection(format!(
                            "filter `{key}` must be a string or a list of strings, got {value}"
                        )));
                    }
                    value => push_pair(pairs, key, value)?,
                }
            }
        }
        other => {
            return Err(ReplayError::Selection(format!(
                "filter `{key}` must be a string, got {other}"
            )));
        }
    }
    Ok(())
}

/// The calls a selection names, oldest first.
pub async fn select(
    reader: &Reader,
    project_id: i64,
    selection: &Selection,
) -> Result<Vec<CallId>, ReplayError> {
    if let Some(ids) = &selection.ids {
        return explicit(reader, project_id, ids).await;
    }
    let filter = parse_filters(&selection.filters)?;
    let mut matching = matching_calls(reader, project_id, &filter).await?;
    if let Some(sample) = selection.sample {
        if sample == 0 {
            return Err(ReplayError::Selection("sample must be at least 1".into()));
        }
        matching = sample_of(matching, sample);
    }
    if matching.is_empty() {
        return Err(ReplayError::Selection(
            "no recorded call matches the filters".into(),
        ));
    }
    Ok(matching)
}

async fn explicit(
    reader: &Reader,
    project_id: i64,
    ids: &[CallId],
) -> Result<Vec<CallId>, ReplayError> {
    let mut unique: Vec<CallId> = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    if unique.is_empty() {
        return Err(ReplayError::Selection("ids is empty".into()));
    }
    let found = reader.existing_call_ids(project_id, &unique).await?;
    let missing: Vec<String> = unique
        .iter()
        .filter(|id| !found.contains(id))
        .map(|id| id.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ReplayError::Selection(format!(
            "no stored call has the id {}",
            missing.join(", ")
        )));
    }
    Ok(unique)
}

/// Every matching call that is not a replay result, oldest first.
async fn matching_calls(
    reader: &Reader,
    project_id: i64,
    filter: &CallFilter,
) -> Result<Vec<CallId>, ReplayError> {
    let oldest_first = CallSort {
        key: SortKey::Time,
        ascending: true,
    };
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = reader
            .list_calls(project_id, filter, oldest_first, PAGE_SIZE, cursor)
            .await?;
        for call in &page.calls {
            if call.source != Source::Replay {
                ids.push(call.call_id);
            }
        }
        if ids.len() > MAX_SELECTED_CALLS * 10 {
            return Err(ReplayError::Selection(format!(
                "more than {} calls match; narrow the filters (since/until, service, model)",
                MAX_SELECTED_CALLS * 10
            )));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(ids)
}

/// A uniform sample of `size` calls, kept in their original order.
fn sample_of(calls: Vec<CallId>, size: usize) -> Vec<CallId> {
    if size >= calls.len() {
        return calls;
    }
    let mut picked = index::sample(&mut rand::rng(), calls.len(), size).into_vec();
    picked.sort_unstable();
    let mut sample = Vec::with_capacity(size);
    for i in picked {
        sample.push(calls[i]);
    }
    sample
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Json) -> Map<String, Json> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn filters_parse_like_the_calls_endpoint() {
        let filter = parse_filters(&map(
            json!({"service": "support-bot", "model": "gpt-4o", "status": "ok"}),
        ))
        .expect("filters");
        assert_eq!(filter.service.as_deref(), Some("support-bot"));
        assert_eq!(filter.model.as_deref(), Some("gpt-4o"));
        let since = parse_filters(&map(json!({"since": 1_700_000_000_000_000_000u64})))
            .expect("numeric since");
        assert_eq!(since.since_unix_nano, Some(1_700_000_000_000_000_000));
    }

    #[test]
    fn numeric_list_and_attribute_filters_parse_like_query_parameters() {
        let filter = parse_filters(&map(json!({
            "min_duration_ms": 250,
            "max_tokens": "4000",
            "tag": ["prod", "eu"],
            "attributes": {"app.tenant": "acme"},
            "attr.app.region": "eu-west",
        })))
        .expect("filters");
        assert_eq!(filter.min_duration_ms, Some(250.0));
        assert_eq!(filter.max_tokens, Some(4000));
        assert_eq!(filter.tags, vec!["prod".to_owned(), "eu".to_owned()]);
        let mut attributes: Vec<(String, String)> = filter.attributes.clone();
        attributes.sort();
        assert_eq!(
            attributes,
            vec![
                ("app.region".to_owned(), "eu-west".to_owned()),
                ("app.tenant".to_owned(), "acme".to_owned()),
            ]
        );
        let nested = parse_filters(&map(json!({"tag": [["x"]]}))).expect_err("nested list");
        assert!(nested.to_string().contains("tag"), "{nested}");
    }

    #[test]
    fn unknown_and_invalid_filters_are_errors() {
        let unknown = parse_filters(&map(json!({"servce": "x"}))).expect_err("typo");
        assert!(unknown.to_string().contains("servce"), "{unknown}");
        let invalid = parse_filters(&map(json!({"status": "fine"}))).expect_err("bad status");
        assert!(invalid.to_string().contains("status"), "{invalid}");
    }

    #[test]
    fn a_sample_is_a_subset_in_order() {
        let calls: Vec<CallId> = (1..=100u128).map(CallId).collect();
        let sample = sample_of(calls.clone(), 10);
        assert_eq!(sample.len(), 10);
        assert!(sample.windows(2).all(|w| w[0] < w[1]));
        assert!(sample.iter().all(|id| calls.contains(id)));
        assert_eq!(sample_of(calls.clone(), 500), calls);
    }
}
