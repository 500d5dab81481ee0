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
    let too_large = IngestError::BodyTooLarge {
        limit: limits.max_body_bytes,
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limits.max_body_bytes) {
        return Err(too_large);
    }
    let limited = http_body_util::Limited::new(body, limits.max_body_bytes);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error)
            if error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large)
        }
        Err(error) => Err(IngestError::Malformed {
            format: "HTTP",
            message: format!("could not read the request body: {error}"),
        }),
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
