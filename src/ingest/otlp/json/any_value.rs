//! `AnyValue`, by hand (a oneof, which the remote derive cannot express),
//! and the depth budget that bounds how deep values nest.

use super::*;

// AnyValue is a oneof, which the remote derive cannot express: by hand.

/// The keys of an AnyValue object.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
pub(super) enum AnyValueField {
    #[serde(alias = "string_value")]
    StringValue,
    #[serde(alias = "bool_value")]
    BoolValue,
    #[serde(alias = "int_value")]
    IntValue,
    #[serde(alias = "double_value")]
    DoubleValue,
    #[serde(alias = "array_value")]
    ArrayValue,
    #[serde(alias = "kvlist_value")]
    KvlistValue,
    #[serde(alias = "bytes_value")]
    BytesValue,
    #[serde(alias = "string_value_strindex")]
    StringValueStrindex,
    #[serde(other)]
    Unknown,
}

impl Json for AnyValue {
    fn decode_json<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let level = ValueNesting::enter();
        deserializer.deserialize_map(AnyValueVisitor { level })
    }

    fn encode_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(value) = &self.value else {
            return serializer.serialize_map(Some(0))?.end();
        };
        let mut map = serializer.serialize_map(Some(1))?;
        let name = any_value_field_name(value);
        match value {
            AnyValueKind::StringValue(v) => map.serialize_entry(name, v)?,
            AnyValueKind::BoolValue(v) => map.serialize_entry(name, v)?,
            AnyValueKind::IntValue(v) => map.serialize_entry(name, &Int(*v))?,
            AnyValueKind::DoubleValue(v) => map.serialize_entry(name, &Double(*v))?,
            AnyValueKind::ArrayValue(v) => map.serialize_entry(name, &MessageRef(v))?,
            AnyValueKind::KvlistValue(v) => map.serialize_entry(name, &MessageRef(v))?,
            AnyValueKind::BytesValue(v) => map.serialize_entry(name, &Base64Ref(v))?,
            AnyValueKind::StringValueStrindex(v) => map.serialize_entry(name, &Int(*v))?,
        }
        map.end()
    }
}

pub(super) fn any_value_field_name(value: &AnyValueKind) -> &'static str {
    match value {
        AnyValueKind::StringValue(_) => "stringValue",
        AnyValueKind::BoolValue(_) => "boolValue",
        AnyValueKind::IntValue(_) => "intValue",
        AnyValueKind::DoubleValue(_) => "doubleValue",
        AnyValueKind::ArrayValue(_) => "arrayValue",
        AnyValueKind::KvlistValue(_) => "kvlistValue",
        AnyValueKind::BytesValue(_) => "bytesValue",
        AnyValueKind::StringValueStrindex(_) => "stringValueStrindex",
    }
}

/// The depth budget of the values being decoded on this thread.
///
/// `AnyValue` nests through `ArrayValue`, `KeyValueList` and `KeyValue`,
/// whose decoders serde derives from the remote definitions above and which
/// take no state, so the level travels beside them rather than through
/// them: [`decode`] sets the budget, each `AnyValue` counts itself in on
/// entry and out on exit. Decoding is synchronous on one thread, so the
/// count is exact.
#[derive(Clone, Copy)]
pub(super) struct ValueNesting {
    /// How many `AnyValue`s enclose the one being decoded, itself included.
    level: usize,
    max_depth: usize,
}

thread_local! {
    static VALUE_NESTING: Cell<ValueNesting> = const {
        Cell::new(ValueNesting { level: 0, max_depth: crate::ingest::limits::DEFAULT_MAX_DEPTH })
    };
}

impl ValueNesting {
    /// Sets the budget for one body, restoring the previous one when the
    /// guard drops (a body decoded inside another never happens, but a
    /// panic must not leave a stale level behind).
    pub(super) fn budget(max_depth: usize) -> NestingGuard {
        let previous = VALUE_NESTING.replace(ValueNesting {
            level: 0,
            max_depth,
        });
        NestingGuard { restore: previous }
    }

    /// Counts one more enclosing value; the level goes back down when the
    /// returned guard drops.
    fn enter() -> ValueLevel {
        let mut nesting = VALUE_NESTING.get();
        nesting.level += 1;
        VALUE_NESTING.set(nesting);
        ValueLevel {
            over_budget: nesting.level > nesting.max_depth,
        }
    }
}

pub(super) struct NestingGuard {
    restore: ValueNesting,
}

impl Drop for NestingGuard {
    fn drop(&mut self) {
        VALUE_NESTING.set(self.restore);
    }
}

/// Where one `AnyValue` sits: past the budget, an array or kvlist in it
/// would make the outermost value deeper than `max_depth`.
pub(super) struct ValueLevel {
    over_budget: bool,
}

impl Drop for ValueLevel {
    fn drop(&mut self) {
        let mut nesting = VALUE_NESTING.get();
        nesting.level = nesting.level.saturating_sub(1);
        VALUE_NESTING.set(nesting);
    }
}

pub(super) struct AnyValueVisitor {
    level: ValueLevel,
}

impl AnyValueVisitor {
    /// Skips a container past the budget without reading into it, and
    /// stands the marker in for it (module docs); `null` is still absent.
    fn skip_too_deep<'de, A: MapAccess<'de>>(
        map: &mut A,
    ) -> Result<Option<AnyValueKind>, A::Error> {
        Ok(map
            .next_value::<Option<IgnoredAny>>()?
            .map(|_| super::super::protobuf::too_deep_marker()))
    }
}

impl<'de> Visitor<'de> for AnyValueVisitor {
    type Value = AnyValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AnyValue object such as {\"stringValue\": \"...\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyValue, A::Error> {
        let mut found: Option<AnyValueKind> = None;
        while let Some(field) = map.next_key::<AnyValueField>()? {
            // A field set to null is absent, so it cannot clash with another.
            let value = match field {
                AnyValueField::StringValue => map
                    .next_value::<Option<String>>()?
                    .map(AnyValueKind::StringValue),
                AnyValueField::BoolValue => map
                    .next_value::<Option<bool>>()?
                    .map(AnyValueKind::BoolValue),
                AnyValueField::IntValue => map
                    .next_value::<Option<Int<i64>>>()?
                    .map(|v| AnyValueKind::IntValue(v.0)),
                AnyValueField::DoubleValue => map
                    .next_value::<Option<Double>>()?
                    .map(|v| AnyValueKind::DoubleValue(v.0)),
                AnyValueField::ArrayValue | AnyValueField::KvlistValue
                    if self.level.over_budget =>
                {
                    Self::skip_too_deep(&mut map)?
                }
                AnyValueField::ArrayValue => map
                    .next_value::<Option<Message<ArrayValue>>>()?
                    .map(|v| AnyValueKind::ArrayValue(v.0)),
                AnyValueField::KvlistValue => map
                    .next_value::<Option<Message<KeyValueList>>>()?
                    .map(|v| AnyValueKind::KvlistValue(v.0)),
                AnyValueField::BytesValue => map
                    .next_value::<Option<Base64>>()?
                    .map(|v| AnyValueKind::BytesValue(v.0)),
                AnyValueField::StringValueStrindex => map
                    .next_value::<Option<Int<i32>>>()?
                    .map(|v| AnyValueKind::StringValueStrindex(v.0)),
                AnyValueField::Unknown => {
                    map.next_value::<IgnoredAny>()?;
                    None
                }
            };
            let Some(value) = value else { continue };
            if let Some(previous) = &found {
                return Err(de::Error::custom(format_args!(
                    "an AnyValue holds one value, but this one sets both {} and {}; \
                     send each value in its own AnyValue",
                    any_value_field_name(previous),
                    any_value_field_name(&value),
                )));
            }
            found = Some(value);
        }
        Ok(AnyValue { value: found })
    }
}
