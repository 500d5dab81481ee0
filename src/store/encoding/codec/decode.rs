//! Stored values back into domain values, given the blobs they reference.

use super::*;

/// Why a stored value could not be turned back into a domain value.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("stored record is corrupt: {0}")]
    Corrupt(#[from] prost::DecodeError),
    #[error("blob {} is missing from the store", const_hex::encode(.0))]
    MissingBlob(Vec<u8>),
    #[error("blob {} is not valid UTF-8 text", const_hex::encode(.0))]
    NotText(Vec<u8>),
    #[error("stored record has an invalid {0}")]
    Invalid(&'static str),
    #[error("unknown escape mode {0} in a stored value")]
    UnknownEscape(u32),
}

/// Lists the blob hashes a stored value references.
pub fn collect_hashes(value: &StoredValue, out: &mut Vec<Vec<u8>>) {
    use stored_value::Kind;
    match &value.kind {
        Some(Kind::Text(text)) => {
            for segment in &text.segments {
                if let Some(segment::Kind::Blob(blob)) = &segment.kind {
                    out.push(blob.hash.clone());
                }
            }
        }
        Some(Kind::BytesRef(blob)) => out.push(blob.hash.clone()),
        Some(Kind::Array(array)) => {
            for v in &array.values {
                collect_hashes(v, out);
            }
        }
        Some(Kind::KvList(list)) => collect_kv_hashes(&list.values, out),
        _ => {}
    }
}

pub fn collect_kv_hashes(kvs: &[StoredKeyValue], out: &mut Vec<Vec<u8>>) {
    for kv in kvs {
        if let Some(value) = &kv.value {
            collect_hashes(value, out);
        }
    }
}

/// Rebuilds domain values from stored ones, given the referenced blobs.
pub struct Decoder<'a> {
    pub blobs: &'a HashMap<Vec<u8>, Vec<u8>>,
}

impl Decoder<'_> {
    pub fn value(&self, value: &StoredValue) -> Result<Value, DecodeError> {
        use stored_value::Kind;
        Ok(match &value.kind {
            None => Value::Empty,
            Some(Kind::String(s)) => Value::String(s.clone()),
            Some(Kind::Bool(b)) => Value::Bool(*b),
            Some(Kind::Int(i)) => Value::Int(*i),
            Some(Kind::Double(d)) => Value::Double(*d),
            Some(Kind::Bytes(b)) => Value::Bytes(b.clone()),
            Some(Kind::BytesRef(blob)) => Value::Bytes(self.blob(&blob.hash)?.to_vec()),
            Some(Kind::Array(array)) => Value::Array(
                array
                    .values
                    .iter()
                    .map(|v| self.value(v))
                    .collect::<Result<_, _>>()?,
            ),
            Some(Kind::KvList(list)) => Value::KvList(self.key_values(&list.values)?),
            Some(Kind::Text(text)) => Value::String(self.text(text)?),
        })
    }

    pub fn attributes(&self, kvs: &[StoredKeyValue]) -> Result<Attributes, DecodeError> {
        Ok(Attributes(self.key_values(kvs)?))
    }

    fn key_values(&self, kvs: &[StoredKeyValue]) -> Result<Vec<KeyValue>, DecodeError> {
        let mut out = Vec::with_capacity(kvs.len());
        for kv in kvs {
            let value = match &kv.value {
                Some(v) => self.value(v)?,
                None => Value::Empty,
            };
            out.push(KeyValue::new(kv.key.clone(), value));
        }
        Ok(out)
    }

    fn blob(&self, hash: &[u8]) -> Result<&[u8], DecodeError> {
        self.blobs
            .get(hash)
            .map(Vec::as_slice)
            .ok_or_else(|| DecodeError::MissingBlob(hash.to_vec()))
    }

    fn text(&self, text: &StoredText) -> Result<String, DecodeError> {
        let mut out = String::new();
        for segment in &text.segments {
            match &segment.kind {
                Some(segment::Kind::Literal(s)) => out.push_str(s),
                Some(segment::Kind::Blob(blob)) => {
                    let bytes = self.blob(&blob.hash)?;
                    let content = std::str::from_utf8(bytes)
                        .map_err(|_| DecodeError::NotText(blob.hash.clone()))?;
                    let escape = Escape::from_u32(blob.escape)
                        .ok_or(DecodeError::UnknownEscape(blob.escape))?;
                    escape.apply(content, &mut out);
                }
                None => {}
            }
        }
        Ok(out)
    }
}
