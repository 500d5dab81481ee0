//! The stored encoding of telemetry: protobuf messages (prost) that mirror
//! the domain types, except that large strings and byte values are held by
//! reference to content-addressed blobs.
//!
//! A large string is split into segments: literal text and references to
//! blobs. When the string is JSON (OTel GenAI puts whole conversations into
//! one JSON string attribute), each long string literal inside it becomes a
//! blob holding the *unescaped* text, with a note of how it was escaped.
//! The canonical call's message texts are stored as blobs of the same
//! unescaped text, so a prompt is stored once however many spans, log
//! records and calls carry it, and each turn of a chat only adds its new
//! messages. Reconstruction is checked at encode time: a value that would
//! not come back byte for byte is stored literally instead.
//!
//! Encoding happens in two steps so no database access is needed while
//! encoding: [`Encoder`] returns the encoded message and the blobs it
//! references; decoding first lists the hashes a message needs
//! ([`collect_hashes`]), the caller fetches them, then [`Decoder`] rebuilds
//! the domain value.

use std::collections::HashMap;

use crate::model::{Attributes, KeyValue, Value};

/// Strings and byte values at least this long are stored as blobs.
pub const MIN_BLOB_BYTES: usize = 128;

/// First 16 bytes of a BLAKE3 hash: the address of a blob.
pub type BlobHash = [u8; 16];

pub fn blob_hash(content: &[u8]) -> BlobHash {
    let mut hash = [0u8; 16];
    hash.copy_from_slice(&blake3::hash(content).as_bytes()[..16]);
    hash
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredValue {
    #[prost(oneof = "stored_value::Kind", tags = "1, 2, 3, 4, 5, 6, 7, 8, 9")]
    pub kind: Option<stored_value::Kind>,
}

pub mod stored_value {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(string, tag = "1")]
        String(String),
        #[prost(bool, tag = "2")]
        Bool(bool),
        #[prost(sint64, tag = "3")]
        Int(i64),
        #[prost(double, tag = "4")]
        Double(f64),
        #[prost(bytes, tag = "5")]
        Bytes(Vec<u8>),
        #[prost(message, tag = "6")]
        Array(super::StoredArray),
        #[prost(message, tag = "7")]
        KvList(super::StoredKvList),
        /// A large string, as segments.
        #[prost(message, tag = "8")]
        Text(super::StoredText),
        /// A large byte value, held whole in one blob.
        #[prost(message, tag = "9")]
        BytesRef(super::BlobRef),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredArray {
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<StoredValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredKvList {
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<StoredKeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredKeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<StoredValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredText {
    #[prost(message, repeated, tag = "1")]
    pub segments: Vec<Segment>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Segment {
    #[prost(oneof = "segment::Kind", tags = "1, 2")]
    pub kind: Option<segment::Kind>,
}

pub mod segment {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(string, tag = "1")]
        Literal(String),
        #[prost(message, tag = "2")]
        Blob(super::BlobRef),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BlobRef {
    #[prost(bytes = "vec", tag = "1")]
    pub hash: Vec<u8>,
    /// How the blob's text is escaped where it stands: see [`Escape`].
    #[prost(uint32, tag = "2")]
    pub escape: u32,
}

mod decode;
mod encode;
mod escape;
#[cfg(test)]
mod tests;

pub use decode::{DecodeError, Decoder, collect_hashes, collect_kv_hashes};
pub use encode::Encoder;
pub use escape::Escape;
use escape::*;
