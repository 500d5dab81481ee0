//! Reading a request body within limits: the size as sent, and the size
//! after gzip decompression, so neither a huge body nor a gzip bomb can
//! exhaust memory. The only decompression of request bodies happens here.

use std::io::Read as _;

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt as _;

use crate::ingest::error::IngestError;
use crate::ingest::limits::Limits;

/// The content encodings a client may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    Identity,
    Gzip,
}

impl ContentEncoding {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, IngestError> {
        let Some(value) = headers.get(http::header::CONTENT_ENCODING) else {
            return Ok(ContentEncoding::Identity);
        };
        let text = value
            .to_str()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match text.as_str() {
            "" | "identity" => Ok(ContentEncoding::Identity),
            "gzip" | "x-gzip" => Ok(ContentEncoding::Gzip),
            _ => Err(IngestError::UnsupportedEncoding(text)),
        }
    }
}

/// Reads the whole body, refusing more than `limits.max_body_bytes`.
pub async fn read_limited(
    body: Body,
    headers: &HeaderMap,
    limits: &Limits,
) -> Result<Bytes, IngestError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut body = body;
    let mut collected = bytes::BytesMut::new();
    let mut over = declared.is_some_and(|length| length > limits.max_body_bytes);
    let mut seen = 0usize;
    // A client still writing when the server answers and closes sees a
    // broken pipe instead of the 413; reading (and dropping) a bounded
    // remainder lets it read the answer. Past the bound, the connection
    // is closed on it.
    let drain_limit = limits.max_body_bytes.saturating_mul(4);
    if declared.is_some_and(|length| length > drain_limit) {
        return Err(too_large(limits));
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| IngestError::Malformed {
            format: "HTTP",
            message: format!("could not read the request body: {error}"),
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > limits.max_body_bytes {
            over = true;
        }
        if seen > drain_limit {
            break;
        }
        if !over {
            collected.extend_from_slice(&data);
        }
    }
    if over {
        return Err(too_large(limits));
    }
    Ok(collected.freeze())
}

fn too_large(limits: &Limits) -> IngestError {
    IngestError::BodyTooLarge {
        limit: limits.max_body_bytes,
    }
}

/// Undoes the content encoding, never producing more than
/// `limits.max_decompressed_bytes`.
pub fn decode_content(
    body: Bytes,
    encoding: ContentEncoding,
    limits: &Limits,
) -> Result<Bytes, IngestError> {
    match encoding {
        ContentEncoding::Identity => Ok(body),
        ContentEncoding::Gzip => {
            gunzip_limited(&body, limits.max_decompressed_bytes).map(Bytes::from)
        }
    }
}

pub fn gunzip_limited(compressed: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::with_capacity((compressed.len() * 4).min(limit));
    let decoder = flate2::read::MultiGzDecoder::new(compressed);
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|error| IngestError::Malformed {
            format: "gzip",
            message: error.to_string(),
        })?;
    if out.len() > limit {
        return Err(IngestError::DecompressedTooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).expect("in memory");
        encoder.finish().expect("in memory")
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 50 << 20]);
        assert!(bomb.len() < 100 << 10);
        let error = gunzip_limited(&bomb, 1 << 20).expect_err("over the limit");
        assert!(matches!(error, IngestError::DecompressedTooLarge { limit } if limit == 1 << 20));
    }

    #[test]
    fn corrupt_gzip_is_malformed() {
        let error = gunzip_limited(b"\x1f\x8b\x08garbage", 1 << 20).expect_err("corrupt");
        assert!(matches!(
            error,
            IngestError::Malformed { format: "gzip", .. }
        ));
    }

    #[test]
    fn gzip_round_trips() {
        assert_eq!(gunzip_limited(&gzip(b"hello"), 10).expect("fits"), b"hello");
    }
}
