//! Unix nanosecond times in JSON, as OTLP/JSON writes them: decimal
//! strings. Today's times are above 2^53, so as JSON numbers JavaScript
//! (the web UI among others) reads `1765000000123456789` as
//! `1765000000123456800`. Input takes both forms, so data written before
//! (numbers) still reads.
//!
//! `#[serde(with = "nanos::string")]` for a `u64`,
//! `#[serde(with = "nanos::optional_string")]` for an `Option<u64>`.

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde_json::Value as Json;

/// A time as the API writes it: a decimal string.
pub fn to_json(unix_nano: u64) -> Json {
    Json::String(unix_nano.to_string())
}

/// Milliseconds since the epoch with the sub-millisecond part as a
/// fraction, for arithmetic in JavaScript (exact to about a microsecond).
pub fn millis(unix_nano: u64) -> f64 {
    (unix_nano / 1_000_000) as f64 + (unix_nano % 1_000_000) as f64 / 1e6
}

/// A time given as a non-negative integer or a string of decimal digits.
pub fn from_json(value: &Json) -> Option<u64> {
    match value {
        Json::Number(n) => n.as_u64(),
        Json::String(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse().ok()
        }
        _ => None,
    }
}

struct NanosVisitor;

impl Visitor<'_> for NanosVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unix nanoseconds, as a decimal string or an integer")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
        Ok(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
        u64::try_from(value).map_err(|_| E::custom("a time must not be negative"))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
        from_json(&Json::String(text.to_owned()))
            .ok_or_else(|| E::custom(format!("{text:?} is not Unix nanoseconds")))
    }
}

pub mod string {
    use super::*;

    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_any(NanosVisitor)
    }
}

pub mod optional_string {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.collect_str(value),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        let value = <Option<Json> as serde::Deserialize>::deserialize(deserializer)?;
        match value {
            None | Some(Json::Null) => Ok(None),
            Some(value) => from_json(&value)
                .map(Some)
                .ok_or_else(|| de::Error::custom(format!("{value} is not Unix nanoseconds"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Times {
        #[serde(with = "string")]
        at: u64,
        #[serde(with = "optional_string")]
        until: Option<u64>,
    }

    #[test]
    fn times_are_written_as_strings_and_read_in_either_form() {
        let times = Times {
            at: 1_765_000_000_123_456_789,
            until: None,
        };
        let json = serde_json::to_value(&times).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"at": "1765000000123456789", "until": null})
        );
        assert_eq!(serde_json::from_value::<Times>(json).expect("back"), times);
        let numbers = serde_json::json!({"at": 1_765_000_000_123_456_789u64, "until": 5});
        let read: Times = serde_json::from_value(numbers).expect("numbers");
        assert_eq!(read.at, 1_765_000_000_123_456_789);
        assert_eq!(read.until, Some(5));
        assert!(serde_json::from_value::<Times>(serde_json::json!({"at": "soon"})).is_err());
        assert_eq!(millis(1_765_000_000_123_456_789), 1_765_000_000_123.456_8);
    }
}
