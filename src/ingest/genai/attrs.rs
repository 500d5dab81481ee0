//! Reading span and log attributes for normalization.
//!
//! [`AttrReader`] wraps an attribute list and remembers which keys a
//! convention turned into canonical fields, so that whatever is left over can
//! be kept in `Call::attributes` without duplicating what the canonical
//! fields already say. Accessors never fail: a missing key, a value of the
//! wrong type or a JSON string that does not parse all read as `None`, and a
//! key that did not read successfully stays among the leftovers.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value as Json};

use crate::model::{Attributes, Value};

/// Leftover attributes larger than this (as plain JSON) are not copied into
/// the call: they are content (prompts, raw bodies), and the span that holds
/// them is stored losslessly anyway.
pub(crate) const MAX_LEFTOVER_VALUE_BYTES: usize = 256;

pub(crate) struct AttrReader<'a> {
    attributes: &'a Attributes,
    taken: HashSet<&'a str>,
}

impl<'a> AttrReader<'a> {
    pub(crate) fn new(attributes: &'a Attributes) -> Self {
        Self {
            attributes,
            taken: HashSet::new(),
        }
    }

    /// The raw value without marking it as used.
    pub(crate) fn peek(&self, key: &str) -> Option<&'a Value> {
        self.attributes.get(key)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.attributes.get(key).is_some()
    }

    /// Marks `key` as turned into a canonical field.
    pub(crate) fn mark(&mut self, key: &str) {
        for kv in self.attributes.iter() {
            if kv.key == key {
                self.taken.insert(kv.key.as_str());
            }
        }
    }

    /// Reads `key` through `read` and marks it used only if that succeeded.
    fn take_with<T>(&mut self, key: &str, read: impl FnOnce(&'a Value) -> Option<T>) -> Option<T> {
        let value = self.attributes.get(key)?;
        let out = read(value)?;
        self.mark(key);
        Some(out)
    }

    /// A non-empty string (an empty one says nothing and reads as `None`).
    pub(crate) fn take_str(&mut self, key: &str) -> Option<String> {
        self.take_with(key, |v| non_empty(v.as_str()?))
    }

    pub(crate) fn take_i64(&mut self, key: &str) -> Option<i64> {
        self.take_with(key, Value::as_i64)
    }

    pub(crate) fn take_f64(&mut self, key: &str) -> Option<f64> {
        self.take_with(key, |v| v.as_f64().filter(|f| f.is_finite()))
    }

    pub(crate) fn take_bool(&mut self, key: &str) -> Option<bool> {
        self.take_with(key, Value::as_bool)
    }

    /// A string array, or a single string as a one-element list.
    pub(crate) fn take_str_list(&mut self, key: &str) -> Option<Vec<String>> {
        self.take_with(key, string_list)
    }

    /// Structured content: a JSON string is parsed, an array or kvlist is
    /// converted as is. Producers use both forms for the same attribute.
    pub(crate) fn take_json(&mut self, key: &str) -> Option<Json> {
        self.take_with(key, value_to_json)
    }

    /// Flattened list entries under `prefix` (`prefix` + `N.` + field), all
    /// marked used; keys under `prefix` that do not continue with an index
    /// are left alone.
    pub(crate) fn take_indexed(&mut self, prefix: &str) -> Vec<(&'a str, &'a Value)> {
        let mut out = Vec::new();
        for kv in self.attributes.iter() {
            let Some(rest) = kv.key.strip_prefix(prefix) else {
                continue;
            };
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                self.taken.insert(kv.key.as_str());
                out.push((rest, &kv.value));
            }
        }
        out
    }

    /// Entries under `prefix` that nothing has taken yet, now marked used.
    pub(crate) fn take_remaining_prefix(&mut self, prefix: &str) -> Vec<(&'a str, &'a Value)> {
        let mut out = Vec::new();
        for kv in self.attributes.iter() {
            if self.taken.contains(kv.key.as_str()) {
                continue;
            }
            if let Some(rest) = kv.key.strip_prefix(prefix) {
                self.taken.insert(kv.key.as_str());
                out.push((rest, &kv.value));
            }
        }
        out
    }

    /// Attributes no canonical field took, small values only, as plain JSON.
    pub(crate) fn leftover(&self) -> Map<String, Json> {
        let mut out = Map::new();
        for kv in self.attributes.iter() {
            if self.taken.contains(kv.key.as_str()) {
                continue;
            }
            let json = kv.value.to_plain_json();
            if json_len(&json) <= MAX_LEFTOVER_VALUE_BYTES {
                out.insert(kv.key.clone(), json);
            }
        }
        out
    }
}

fn json_len(json: &Json) -> usize {
    match json {
        Json::String(s) => s.len(),
        other => other.to_string().len(),
    }
}

pub(crate) fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        None
    } else {
        Some(text.to_owned())
    }
}

pub(crate) fn string_list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(values) => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(v.as_str()?.to_owned());
            }
            Some(out)
        }
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

/// A value as JSON content: strings are parsed as JSON (None if they are not
/// JSON), arrays and kvlists are converted.
pub(crate) fn value_to_json(value: &Value) -> Option<Json> {
    match value {
        Value::String(s) => parse_json(s),
        Value::Array(_) | Value::KvList(_) => Some(value.to_plain_json()),
        _ => None,
    }
}

pub(crate) fn parse_json(text: &str) -> Option<Json> {
    serde_json::from_str(text.trim()).ok()
}

/// Groups flattened entries such as `0.role`, `0.tool_calls.1.name` by their
/// leading index: `{0: [("role", v), ("tool_calls.1.name", v)]}`. Entries
/// without a numeric leading segment are ignored.
pub(crate) fn group_by_index<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> BTreeMap<usize, Vec<(&'a str, &'a Value)>> {
    let mut groups: BTreeMap<usize, Vec<(&'a str, &'a Value)>> = BTreeMap::new();
    for (key, value) in entries {
        let Some((index, rest)) = key.split_once('.') else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        groups.entry(index).or_default().push((rest, value));
    }
    groups
}

/// The value of `field` among grouped entries.
pub(crate) fn field<'a>(entries: &[(&'a str, &'a Value)], field: &str) -> Option<&'a Value> {
    entries
        .iter()
        .rev()
        .find(|(key, _)| *key == field)
        .map(|(_, value)| *value)
}

pub(crate) fn field_str(entries: &[(&str, &Value)], name: &str) -> Option<String> {
    field(entries, name).and_then(|v| non_empty(v.as_str()?))
}

/// Entries under `prefix` within a group, with the prefix removed.
pub(crate) fn sub_entries<'a>(
    entries: &[(&'a str, &'a Value)],
    prefix: &str,
) -> Vec<(&'a str, &'a Value)> {
    let mut out = Vec::new();
    for (key, value) in entries {
        if let Some(rest) = key.strip_prefix(prefix) {
            out.push((rest, *value));
        }
    }
    out
}

/// A string field of a JSON object, non-empty.
pub(crate) fn json_str(object: &Map<String, Json>, key: &str) -> Option<String> {
    object.get(key).and_then(Json::as_str).and_then(non_empty)
}

/// An integer field of a JSON object; also accepts decimal strings, as OTLP
/// JSON writes 64-bit integers that way.
pub(crate) fn json_i64(json: &Json) -> Option<i64> {
    match json {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn json_f64(json: &Json) -> Option<f64> {
    match json {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KeyValue;

    fn attrs(list: Vec<(&str, Value)>) -> Attributes {
        list.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect()
    }

    #[test]
    fn leftover_keeps_only_untaken_small_values() {
        let attributes = attrs(vec![
            ("a", Value::String("x".into())),
            ("b", Value::Int(3)),
            (
                "big",
                Value::String("y".repeat(MAX_LEFTOVER_VALUE_BYTES + 1)),
            ),
        ]);
        let mut reader = AttrReader::new(&attributes);
        assert_eq!(reader.take_str("a").as_deref(), Some("x"));
        let left = reader.leftover();
        assert_eq!(left.len(), 1);
        assert_eq!(left["b"], Json::from(3));
    }

    #[test]
    fn a_value_of_the_wrong_type_reads_none_and_stays_left_over() {
        let attributes = attrs(vec![
            ("n", Value::Bool(true)),
            ("j", Value::String("{oops".into())),
        ]);
        let mut reader = AttrReader::new(&attributes);
        assert_eq!(reader.take_i64("n"), None);
        assert_eq!(reader.take_json("j"), None);
        assert_eq!(reader.leftover().len(), 2);
    }

    #[test]
    fn flattened_entries_group_by_leading_index() {
        let attributes = attrs(vec![
            ("p.1.role", Value::String("user".into())),
            ("p.0.role", Value::String("system".into())),
            ("p.0.tool_calls.0.id", Value::String("c".into())),
            ("p.x.role", Value::String("ignored".into())),
        ]);
        let mut reader = AttrReader::new(&attributes);
        let groups = group_by_index(reader.take_indexed("p."));
        assert_eq!(groups.len(), 2);
        assert_eq!(field_str(&groups[&0], "role").as_deref(), Some("system"));
        assert_eq!(sub_entries(&groups[&0], "tool_calls.").len(), 1);
    }
}
