//! Scalar values: integers of each width, doubles, enums, hex ids and
//! base64 bytes, as proto3 JSON and real exporters write them.

use super::*;

// Scalar values.

/// An integer width: how it is described to a sender who got it wrong, and
/// how it is written.
pub(super) trait IntegerKind: TryFrom<i128> + Copy {
    const EXPECTED: &'static str;
    fn write<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error>;
}

// 64-bit integers are written as decimal strings, as OTLP/JSON asks (many
// JSON parsers lose precision past 2^53); narrower ones as numbers.

impl IntegerKind for u64 {
    const EXPECTED: &'static str = "an unsigned 64-bit integer (a decimal string or a number)";
    fn write<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self)
    }
}

impl IntegerKind for i64 {
    const EXPECTED: &'static str = "a signed 64-bit integer (a decimal string or a number)";
    fn write<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self)
    }
}

impl IntegerKind for u32 {
    const EXPECTED: &'static str = "an unsigned 32-bit integer (a number or a decimal string)";
    fn write<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self)
    }
}

impl IntegerKind for i32 {
    const EXPECTED: &'static str = "a signed 32-bit integer (a number or a decimal string)";
    fn write<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i32(self)
    }
}

/// A protobuf integer in JSON: a number or a decimal string, range-checked.
pub(super) struct Int<T>(pub(super) T);

impl<'de, T: IntegerKind> Deserialize<'de> for Int<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(IntVisitor::<T>(PhantomData))
            .map(Int)
    }
}

impl<T: IntegerKind> Serialize for Int<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.write(serializer)
    }
}

pub(super) struct IntVisitor<T>(pub(super) PhantomData<T>);

impl<T: IntegerKind> IntVisitor<T> {
    fn narrow<E: de::Error>(value: i128, unexpected: Unexpected<'_>) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::invalid_value(unexpected, &T::EXPECTED))
    }
}

impl<'de, T: IntegerKind> Visitor<'de> for IntVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTED)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        Self::narrow(i128::from(value), Unexpected::Signed(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        Self::narrow(i128::from(value), Unexpected::Unsigned(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        // `1e3` or `5.0` are integers written in float syntax; take them when
        // exact. The bound keeps the cast to i128 exact too.
        if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e38 {
            return Self::narrow(value as i128, Unexpected::Float(value));
        }
        Err(E::invalid_value(Unexpected::Float(value), &T::EXPECTED))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        match value.parse::<i128>() {
            Ok(parsed) => Self::narrow(parsed, Unexpected::Str(excerpt(value))),
            Err(_) => Err(E::invalid_value(
                Unexpected::Str(excerpt(value)),
                &T::EXPECTED,
            )),
        }
    }
}

/// A `double`: a number, a numeric string, or one of the names proto3 JSON
/// uses for the values JSON numbers cannot write.
pub(super) struct Double(pub(super) f64);

impl<'de> Deserialize<'de> for Double {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DoubleVisitor).map(Double)
    }
}

impl Serialize for Double {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0;
        if value.is_nan() {
            serializer.serialize_str("NaN")
        } else if value == f64::INFINITY {
            serializer.serialize_str("Infinity")
        } else if value == f64::NEG_INFINITY {
            serializer.serialize_str("-Infinity")
        } else {
            serializer.serialize_f64(value)
        }
    }
}

pub(super) struct DoubleVisitor;

pub(super) const DOUBLE_EXPECTED: &str =
    "a double: a number, a numeric string, \"NaN\", \"Infinity\" or \"-Infinity\"";

impl<'de> Visitor<'de> for DoubleVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(DOUBLE_EXPECTED)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<f64, E> {
        Ok(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<f64, E> {
        Ok(value as f64)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<f64, E> {
        Ok(value as f64)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<f64, E> {
        match value {
            "NaN" => return Ok(f64::NAN),
            "Infinity" => return Ok(f64::INFINITY),
            "-Infinity" => return Ok(f64::NEG_INFINITY),
            _ => {}
        }
        // Rust's parser also takes "inf" and "nan" in any case, which proto3
        // JSON does not; only the exact names above may be non-finite.
        match value.parse::<f64>() {
            Ok(parsed) if parsed.is_finite() => Ok(parsed),
            _ => Err(E::invalid_value(
                Unexpected::Str(excerpt(value)),
                &DOUBLE_EXPECTED,
            )),
        }
    }
}

/// A prost enum that the proto3 JSON mapping lets senders name.
pub(super) trait EnumKind {
    const EXPECTED: &'static str;
    fn from_name(name: &str) -> Option<i32>;
}

impl EnumKind for SpanKind {
    const EXPECTED: &'static str = "a span kind: an integer or a name such as \"SPAN_KIND_CLIENT\"";
    fn from_name(name: &str) -> Option<i32> {
        SpanKind::from_str_name(name).map(|kind| kind as i32)
    }
}

impl EnumKind for StatusCode {
    const EXPECTED: &'static str =
        "a status code: an integer or a name such as \"STATUS_CODE_ERROR\"";
    fn from_name(name: &str) -> Option<i32> {
        StatusCode::from_str_name(name).map(|code| code as i32)
    }
}

impl EnumKind for SeverityNumber {
    const EXPECTED: &'static str =
        "a severity number: an integer or a name such as \"SEVERITY_NUMBER_INFO\"";
    fn from_name(name: &str) -> Option<i32> {
        SeverityNumber::from_str_name(name).map(|severity| severity as i32)
    }
}

/// An enum field's value. Numbers outside the enum are kept: proto3 enums
/// are open, and an unknown kind is no reason to refuse a span.
pub(super) struct Enum<E> {
    pub(super) value: i32,
    kind: PhantomData<E>,
}

impl<'de, K: EnumKind> Deserialize<'de> for Enum<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = deserializer.deserialize_any(EnumVisitor::<K>(PhantomData))?;
        Ok(Enum {
            value,
            kind: PhantomData,
        })
    }
}

pub(super) struct EnumVisitor<K>(pub(super) PhantomData<K>);

impl<'de, K: EnumKind> Visitor<'de> for EnumVisitor<K> {
    type Value = i32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(K::EXPECTED)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<i32, E> {
        i32::try_from(value).map_err(|_| E::invalid_value(Unexpected::Signed(value), &self))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<i32, E> {
        i32::try_from(value).map_err(|_| E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<i32, E> {
        IntVisitor::<i32>(PhantomData)
            .visit_f64(value)
            .map_err(|_: E| E::invalid_value(Unexpected::Float(value), &self))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<i32, E> {
        if let Ok(number) = value.parse::<i32>() {
            return Ok(number);
        }
        K::from_name(value).ok_or_else(|| E::invalid_value(Unexpected::Str(excerpt(value)), &self))
    }
}

/// A trace or span id in hex, upper or lower case.
pub(super) struct HexId(pub(super) Vec<u8>);

impl<'de> Deserialize<'de> for HexId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(HexIdVisitor).map(HexId)
    }
}

pub(super) struct HexIdVisitor;

impl Visitor<'_> for HexIdVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "an id as a hex string (OTLP/JSON ids are hex, not base64), or \"\" when absent",
        )
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Vec<u8>, E> {
        decode_hex(value).ok_or_else(|| E::invalid_value(Unexpected::Str(excerpt(value)), &self))
    }
}

/// Decodes hex of any even length. `const_hex::decode` would also strip a
/// `0x` prefix, which OTLP ids never carry, hence this small loop.
pub(super) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let mut bytes = Vec::with_capacity(digits.len() / 2);
    for pair in digits.chunks_exact(2) {
        let high = hex_digit(pair[0])?;
        let low = hex_digit(pair[1])?;
        bytes.push(high << 4 | low);
    }
    Some(bytes)
}

pub(super) fn hex_digit(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// `bytesValue`: base64. Exporters differ on alphabet and padding, so any
/// of standard or URL-safe, padded or not, is taken.
pub(super) struct Base64(pub(super) Vec<u8>);

pub(super) const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
pub(super) const STANDARD_LENIENT: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
pub(super) const URL_SAFE_LENIENT: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Base64Visitor).map(Base64)
    }
}

pub(super) struct Base64Visitor;

impl Visitor<'_> for Base64Visitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes as a base64 string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Vec<u8>, E> {
        // The two alphabets differ only in `+/` versus `-_`.
        let engine = if value.contains(['-', '_']) {
            &URL_SAFE_LENIENT
        } else {
            &STANDARD_LENIENT
        };
        engine
            .decode(value)
            .map_err(|_| E::invalid_value(Unexpected::Str(excerpt(value)), &self))
    }
}

pub(super) struct Base64Ref<'a>(pub(super) &'a [u8]);

impl Serialize for Base64Ref<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&general_purpose::STANDARD.encode(self.0))
    }
}

/// The start of a string quoted back in an error: a sender's mistake may be
/// megabytes long, the message should not be.
pub(super) fn excerpt(text: &str) -> &str {
    const MAX_BYTES: usize = 64;
    if text.len() <= MAX_BYTES {
        return text;
    }
    let mut end = MAX_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
