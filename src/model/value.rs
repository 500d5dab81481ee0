//! Attribute values: the OTLP `AnyValue` model, kept exactly (order, types,
//! empty values), with typed accessors for normalization and two JSON views.

use base64::Engine as _;
use serde_json::{Map, Value as Json};

/// One OTLP `AnyValue`. `Empty` is an `AnyValue` with no value set (`{}` in
/// OTLP/JSON), which real exporters send.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Empty,
    String(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    KvList(Vec<KeyValue>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    pub key: String,
    pub value: Value,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: Value) -> Self {
        Self {
            key: key.into(),
            value,
        }
    }
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// An integer, also from an integral double or a decimal string (several
    /// instrumentations write counts as strings).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Double(d) if d.fract() == 0.0 && d.is_finite() => Some(*d as i64),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(d) => Some(*d),
            Value::Int(i) => Some(*i as f64),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.as_str() {
                "true" | "True" => Some(true),
                "false" | "False" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(values) => Some(values),
            _ => None,
        }
    }

    /// The value as plain JSON: the natural JSON type for each kind, bytes as
    /// base64, `Empty` as null, kvlists as objects. Used in canonical calls.
    pub fn to_plain_json(&self) -> Json {
        match self {
            Value::Empty => Json::Null,
            Value::String(s) => Json::String(s.clone()),
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Double(d) => serde_json::Number::from_f64(*d)
                .map(Json::Number)
                .unwrap_or_else(|| Json::String(d.to_string())),
            Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Value::Array(values) => Json::Array(values.iter().map(Value::to_plain_json).collect()),
            Value::KvList(kvs) => Json::Object(
                kvs.iter()
                    .map(|kv| (kv.key.clone(), kv.value.to_plain_json()))
                    .collect(),
            ),
        }
    }

    /// The value as OTLP/JSON `AnyValue` (`{"stringValue": …}`, int64 as a
    /// decimal string, bytes as base64): typed and lossless. Used where the
    /// API returns stored telemetry as it was received.
    pub fn to_otlp_json(&self) -> Json {
        let mut object = Map::new();
        match self {
            Value::Empty => {}
            Value::String(s) => {
                object.insert("stringValue".into(), Json::String(s.clone()));
            }
            Value::Bool(b) => {
                object.insert("boolValue".into(), Json::Bool(*b));
            }
            Value::Int(i) => {
                object.insert("intValue".into(), Json::String(i.to_string()));
            }
            Value::Double(d) => {
                let number = serde_json::Number::from_f64(*d)
                    .map(Json::Number)
                    .unwrap_or_else(|| Json::String(non_finite_name(*d).into()));
                object.insert("doubleValue".into(), number);
            }
            Value::Bytes(b) => {
                object.insert(
                    "bytesValue".into(),
                    Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
                );
            }
            Value::Array(values) => {
                let values = values.iter().map(Value::to_otlp_json).collect();
                object.insert(
                    "arrayValue".into(),
                    Json::Object(Map::from_iter([("values".into(), Json::Array(values))])),
                );
            }
            Value::KvList(kvs) => {
                object.insert(
                    "kvlistValue".into(),
                    Json::Object(Map::from_iter([(
                        "values".into(),
                        Json::Array(kvs.iter().map(KeyValue::to_otlp_json).collect()),
                    )])),
                );
            }
        }
        Json::Object(object)
    }

    /// Converts plain JSON into a value: null becomes `Empty`, integers that
    /// fit `i64` become `Int`, other numbers `Double`, objects kvlists.
    pub fn from_plain_json(json: &Json) -> Value {
        match json {
            Json::Null => Value::Empty,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Value::String(s.clone()),
            Json::Array(values) => {
                Value::Array(values.iter().map(Value::from_plain_json).collect())
            }
            Json::Object(map) => Value::KvList(
                map.iter()
                    .map(|(k, v)| KeyValue::new(k.clone(), Value::from_plain_json(v)))
                    .collect(),
            ),
        }
    }

    /// Nesting depth: scalars are 0, an array of scalars is 1.
    pub fn depth(&self) -> usize {
        match self {
            Value::Array(values) => 1 + values.iter().map(Value::depth).max().unwrap_or(0),
            Value::KvList(kvs) => 1 + kvs.iter().map(|kv| kv.value.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }
}

fn non_finite_name(d: f64) -> &'static str {
    if d.is_nan() {
        "NaN"
    } else if d > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

impl KeyValue {
    pub fn to_otlp_json(&self) -> Json {
        Json::Object(Map::from_iter([
            ("key".into(), Json::String(self.key.clone())),
            ("value".into(), self.value.to_otlp_json()),
        ]))
    }
}

/// An ordered attribute list, as OTLP carries it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Attributes(pub Vec<KeyValue>);

impl Attributes {
    pub fn new(list: Vec<KeyValue>) -> Self {
        Self(list)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &KeyValue> {
        self.0.iter()
    }

    /// The value of `key`; the last one wins if a producer repeated a key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .iter()
            .rev()
            .find(|kv| kv.key == key)
            .map(|kv| &kv.value)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    pub fn i64(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_i64)
    }

    pub fn f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }

    /// A string array attribute, or a single string as a one-element list.
    pub fn str_list(&self, key: &str) -> Option<Vec<String>> {
        match self.get(key)? {
            Value::Array(values) => Some(
                values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
            Value::String(s) => Some(vec![s.clone()]),
            _ => None,
        }
    }

    /// `{"key": {"stringValue": …}, …}`: the typed JSON object the trace API returns.
    pub fn to_otlp_json_object(&self) -> Json {
        Json::Object(
            self.0
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.to_otlp_json()))
                .collect(),
        )
    }

    /// `{"key": value, …}` with plain JSON values.
    pub fn to_plain_json_object(&self) -> Map<String, Json> {
        self.0
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.to_plain_json()))
            .collect()
    }
}

impl FromIterator<KeyValue> for Attributes {
    fn from_iter<I: IntoIterator<Item = KeyValue>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_accept_the_encodings_instrumentations_use() {
        let attrs = Attributes::new(vec![
            KeyValue::new("a", Value::Int(13)),
            KeyValue::new("b", Value::String("29".into())),
            KeyValue::new("c", Value::Double(2.0)),
            KeyValue::new("d", Value::Array(vec![Value::String("stop".into())])),
        ]);
        assert_eq!(attrs.i64("a"), Some(13));
        assert_eq!(attrs.i64("b"), Some(29));
        assert_eq!(attrs.i64("c"), Some(2));
        assert_eq!(attrs.str_list("d"), Some(vec!["stop".to_string()]));
        assert_eq!(attrs.i64("missing"), None);
    }

    #[test]
    fn otlp_json_keeps_types() {
        let v = Value::KvList(vec![
            KeyValue::new("i", Value::Int(i64::MAX)),
            KeyValue::new("n", Value::Double(f64::NAN)),
            KeyValue::new("e", Value::Array(vec![])),
        ]);
        let json = v.to_otlp_json();
        assert_eq!(
            json["kvlistValue"]["values"][0]["value"]["intValue"],
            Json::String(i64::MAX.to_string())
        );
        assert_eq!(
            json["kvlistValue"]["values"][1]["value"]["doubleValue"],
            "NaN"
        );
        assert_eq!(v.depth(), 2);
    }
}
