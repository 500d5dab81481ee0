//! Identifiers: OTLP trace and span ids (parsed from untrusted bytes with
//! `TryFrom`, never unwrapped) and the public id of a canonical call.

use std::fmt;
use std::str::FromStr;

/// Why bytes or text could not be turned into an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} must be {expected} bytes, got {actual}")]
    WrongLength {
        kind: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("{kind} must not be all zeros")]
    AllZero { kind: &'static str },
    #[error("{kind} is not lower-case hex: {text:?}")]
    NotHex { kind: &'static str, text: String },
    #[error("call id is not a valid id: {0:?}")]
    BadCallId(String),
}

macro_rules! otlp_id {
    ($name:ident, $len:expr, $kind:expr, $pattern:expr, $description:expr) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            pub const LEN: usize = $len;

            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            pub fn to_hex(&self) -> String {
                const_hex::encode(self.0)
            }

            /// Parses lower- or upper-case hex of exactly the right length.
            pub fn from_hex(text: &str) -> Result<Self, IdError> {
                let mut bytes = [0u8; $len];
                if text.len() != $len * 2 {
                    return Err(IdError::WrongLength {
                        kind: $kind,
                        expected: $len,
                        actual: text.len() / 2,
                    });
                }
                const_hex::decode_to_slice(text, &mut bytes).map_err(|_| IdError::NotHex {
                    kind: $kind,
                    text: text.chars().take(64).collect(),
                })?;
                Self::try_from(&bytes[..])
            }
        }

        impl TryFrom<&[u8]> for $name {
            type Error = IdError;

            fn try_from(bytes: &[u8]) -> Result<Self, IdError> {
                let array: [u8; $len] = bytes.try_into().map_err(|_| IdError::WrongLength {
                    kind: $kind,
                    expected: $len,
                    actual: bytes.len(),
                })?;
                if array == [0u8; $len] {
                    return Err(IdError::AllZero { kind: $kind });
                }
                Ok(Self(array))
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::from_hex(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::from_hex(&text).map_err(serde::de::Error::custom)
            }
        }

        /// What the `Serialize` impl writes: lowercase hex.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                hex_string_schema($pattern, $description)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

/// A string of hex digits, as ids are written.
fn hex_string_schema(
    pattern: &str,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

otlp_id!(
    TraceId,
    16,
    "trace id",
    "^[0-9a-f]{32}$",
    "A trace id: 32 lowercase hex digits."
);
otlp_id!(
    SpanId,
    8,
    "span id",
    "^[0-9a-f]{16}$",
    "A span id: 16 lowercase hex digits."
);

/// The public id of a canonical call: a ULID, so ids sort by start time and
/// read well in URLs. Calls derived from a span get a deterministic id (the
/// same span re-sent maps to the same call).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u128);

impl CallId {
    /// A time-ordered id whose random part is derived from `seed`, so the same
    /// seed and start time always give the same id.
    pub fn derived(start_time_unix_nano: u64, seed: &[u8]) -> Self {
        let millis = start_time_unix_nano / 1_000_000;
        let hash = blake3::hash(seed);
        let mut random = [0u8; 16];
        random[6..].copy_from_slice(&hash.as_bytes()[..10]);
        let random = u128::from_be_bytes(random);
        Self(((millis as u128 & 0xFFFF_FFFF_FFFF) << 80) | random)
    }

    /// A fresh id for records that carry no identity of their own.
    pub fn random(start_time_unix_nano: u64) -> Self {
        let seed: [u8; 16] = ulid::Ulid::new().0.to_be_bytes();
        Self::derived(start_time_unix_nano, &seed)
    }

    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let array: [u8; 16] = bytes.try_into().ok()?;
        Some(Self(u128::from_be_bytes(array)))
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", ulid::Ulid(self.0))
    }
}

impl fmt::Debug for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallId({self})")
    }
}

impl FromStr for CallId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        ulid::Ulid::from_string(text)
            .map(|u| Self(u.0))
            .map_err(|_| IdError::BadCallId(text.chars().take(64).collect()))
    }
}

impl serde::Serialize for CallId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for CallId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What the `Serialize` impl writes: a ULID.
impl utoipa::PartialSchema for CallId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9A-HJKMNP-TV-Z]{26}$"))
            .description(Some(
                "A call id: a ULID (26 characters of Crockford base 32).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for CallId {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_rejects_wrong_length_and_zero() {
        assert!(matches!(
            TraceId::try_from(&[1u8; 15][..]),
            Err(IdError::WrongLength { actual: 15, .. })
        ));
        assert!(matches!(
            TraceId::try_from(&[0u8; 16][..]),
            Err(IdError::AllZero { .. })
        ));
        let id = TraceId::from_hex("5b8efff798038103d269b633813fc60c").expect("valid");
        assert_eq!(id.to_hex(), "5b8efff798038103d269b633813fc60c");
    }

    #[test]
    fn span_id_rejects_non_hex() {
        assert!(matches!(
            SpanId::from_hex("zz8efff798038103"),
            Err(IdError::NotHex { .. })
        ));
    }

    #[test]
    fn derived_call_ids_are_stable_and_time_ordered() {
        let a = CallId::derived(1_000_000_000, b"x");
        assert_eq!(a, CallId::derived(1_000_000_000, b"x"));
        assert_ne!(a, CallId::derived(1_000_000_000, b"y"));
        assert!(CallId::derived(2_000_000_000, b"a") > CallId::derived(1_000_000_000, b"z"));
        let text = a.to_string();
        assert_eq!(text.parse::<CallId>().expect("round trip"), a);
    }
}
