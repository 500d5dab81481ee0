//! Field codecs, used through `#[serde(with = "...")]`. Each decoder takes
//! `null` as the field's default.

use super::*;

/// An optional message field.
pub(super) mod message {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>, T: Json>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        let value = Option::<Message<T>>::deserialize(deserializer)?;
        Ok(value.map(|message| message.0))
    }

    pub fn serialize<S: Serializer, T: Json>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => value.encode_json(serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// A repeated message field; a `null` element is a default message.
pub(super) mod messages {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>, T: Json>(
        deserializer: D,
    ) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_option(MessagesVisitor(PhantomData))
    }

    pub fn serialize<S: Serializer, T: Json>(
        values: &[T],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(MessageRef))
    }

    struct MessagesVisitor<T>(PhantomData<T>);

    impl<'de, T: Json> Visitor<'de> for MessagesVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of objects")
        }

        fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
            deserializer.deserialize_seq(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            // The size hint comes from the sender; cap it so a lie costs little.
            let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(value) = seq.next_element::<Option<Message<T>>>()? {
                values.push(value.map(|message| message.0).unwrap_or_default());
            }
            Ok(values)
        }
    }
}

pub(super) mod string {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
    }

    pub fn serialize<S: Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value)
    }
}

/// A repeated string field; a `null` element is an empty string.
pub(super) mod strings {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        let values = Option::<Vec<Option<String>>>::deserialize(deserializer)?;
        let mut out = Vec::new();
        for value in values.unwrap_or_default() {
            out.push(value.unwrap_or_default());
        }
        Ok(out)
    }

    pub fn serialize<S: Serializer>(values: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values)
    }
}

/// `fixed64`/`uint64`: written as a decimal string, as OTLP/JSON asks.
pub(super) mod uint64 {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        Ok(Option::<Int<u64>>::deserialize(deserializer)?.map_or(0, |v| v.0))
    }

    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        Int(*value).serialize(serializer)
    }
}

/// `int64`: written as a decimal string, as OTLP/JSON asks.
pub(super) mod int64 {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        Ok(Option::<Int<i64>>::deserialize(deserializer)?.map_or(0, |v| v.0))
    }

    pub fn serialize<S: Serializer>(value: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        Int(*value).serialize(serializer)
    }
}

/// `uint32`/`fixed32`: written as a JSON number.
pub(super) mod uint32 {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        Ok(Option::<Int<u32>>::deserialize(deserializer)?.map_or(0, |v| v.0))
    }

    pub fn serialize<S: Serializer>(value: &u32, serializer: S) -> Result<S::Ok, S::Error> {
        Int(*value).serialize(serializer)
    }
}

/// `int32`: written as a JSON number.
pub(super) mod int32 {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
        Ok(Option::<Int<i32>>::deserialize(deserializer)?.map_or(0, |v| v.0))
    }

    pub fn serialize<S: Serializer>(value: &i32, serializer: S) -> Result<S::Ok, S::Error> {
        Int(*value).serialize(serializer)
    }
}

pub(super) mod span_kind {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
        Ok(Option::<Enum<SpanKind>>::deserialize(deserializer)?.map_or(0, |v| v.value))
    }

    pub use super::int32::serialize;
}

pub(super) mod status_code {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
        Ok(Option::<Enum<StatusCode>>::deserialize(deserializer)?.map_or(0, |v| v.value))
    }

    pub use super::int32::serialize;
}

pub(super) mod severity_number {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
        Ok(Option::<Enum<SeverityNumber>>::deserialize(deserializer)?.map_or(0, |v| v.value))
    }

    pub use super::int32::serialize;
}

/// Trace and span ids: hex, never base64 (OTLP's exception to proto3 JSON).
pub(super) mod hex_id {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        Ok(Option::<HexId>::deserialize(deserializer)?.map_or_else(Vec::new, |v| v.0))
    }

    pub fn serialize<S: Serializer>(value: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&const_hex::encode(value))
    }
}
