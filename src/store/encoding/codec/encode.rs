//! Domain values into stored ones, collecting the blobs they reference.

use super::*;

/// Encodes domain values, collecting the blobs they reference.
pub struct Encoder {
    /// Content of every blob referenced so far, by hash.
    pub blobs: HashMap<BlobHash, Vec<u8>>,
    min_blob_bytes: usize,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    pub fn new() -> Self {
        Self {
            blobs: HashMap::new(),
            min_blob_bytes: MIN_BLOB_BYTES,
        }
    }

    /// An encoder that keeps everything inline, for small records that must
    /// stand alone (resources, scopes).
    pub fn inline() -> Self {
        Self {
            blobs: HashMap::new(),
            min_blob_bytes: usize::MAX,
        }
    }

    pub fn value(&mut self, value: &Value) -> StoredValue {
        use stored_value::Kind;
        let kind = match value {
            Value::Empty => None,
            Value::String(s) => Some(self.string(s)),
            Value::Bool(b) => Some(Kind::Bool(*b)),
            Value::Int(i) => Some(Kind::Int(*i)),
            Value::Double(d) => Some(Kind::Double(*d)),
            Value::Bytes(b) if b.len() >= self.min_blob_bytes => {
                Some(Kind::BytesRef(self.blob(b, Escape::Raw)))
            }
            Value::Bytes(b) => Some(Kind::Bytes(b.clone())),
            Value::Array(values) => Some(Kind::Array(StoredArray {
                values: values.iter().map(|v| self.value(v)).collect(),
            })),
            Value::KvList(kvs) => Some(Kind::KvList(StoredKvList {
                values: self.key_values(kvs),
            })),
        };
        StoredValue { kind }
    }

    pub fn attributes(&mut self, attributes: &Attributes) -> Vec<StoredKeyValue> {
        self.key_values(&attributes.0)
    }

    fn key_values(&mut self, kvs: &[KeyValue]) -> Vec<StoredKeyValue> {
        kvs.iter()
            .map(|kv| StoredKeyValue {
                key: kv.key.clone(),
                value: Some(self.value(&kv.value)),
            })
            .collect()
    }

    fn string(&mut self, s: &str) -> stored_value::Kind {
        if s.len() < self.min_blob_bytes {
            return stored_value::Kind::String(s.to_owned());
        }
        let segments = self.segments(s);
        stored_value::Kind::Text(StoredText { segments })
    }

    fn blob(&mut self, content: &[u8], escape: Escape) -> BlobRef {
        let hash = blob_hash(content);
        // A chat resends its history: most content of a batch is already
        // here, and needs no copy.
        self.blobs.entry(hash).or_insert_with(|| content.to_vec());
        blob_ref(hash, escape)
    }

    /// [`Encoder::blob`] for content the caller owns and gives up.
    fn owned_blob(&mut self, content: String, escape: Escape) -> BlobRef {
        let hash = blob_hash(content.as_bytes());
        self.blobs
            .entry(hash)
            .or_insert_with(|| content.into_bytes());
        blob_ref(hash, escape)
    }

    /// Splits a large string into literals and blob references.
    fn segments(&mut self, s: &str) -> Vec<Segment> {
        let whole = |reference: BlobRef| {
            vec![Segment {
                kind: Some(segment::Kind::Blob(reference)),
            }]
        };
        if !looks_like_json(s) {
            return whole(self.blob(s.as_bytes(), Escape::Raw));
        }
        let pieces = split_json_literals(s);
        if !pieces.iter().any(|p| matches!(p, Piece::Text(..))) {
            // JSON without long strings (tool definitions, say): the whole
            // value is the unit that repeats.
            return whole(self.blob(s.as_bytes(), Escape::Raw));
        }
        let mut segments = Vec::with_capacity(pieces.len());
        for piece in pieces {
            let kind = match piece {
                Piece::Literal(text) => segment::Kind::Literal(text.to_owned()),
                Piece::Text(text, escape) => segment::Kind::Blob(self.owned_blob(text, escape)),
            };
            segments.push(Segment { kind: Some(kind) });
        }
        segments
    }
}

pub(super) fn blob_ref(hash: BlobHash, escape: Escape) -> BlobRef {
    BlobRef {
        hash: hash.to_vec(),
        escape: escape as u32,
    }
}
