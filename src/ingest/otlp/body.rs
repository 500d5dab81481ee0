//! Reading a request body within limits: the size as sent, the size after
//! gzip decompression, and the memory budget all requests share
//! ([`Reservation`]), so neither a huge body, a gzip bomb nor many bodies
//! at once can exhaust memory. The only decompression of request bodies
//! happens here.

use std::io::Read as _;

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt as _;

use crate::ingest::budget::{DECODED_FACTOR, Reservation};
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

/// Reads the whole body, refusing more than `limits.max_body_bytes`, with
/// `reservation` grown to cover what is held.
pub async fn read_limited(
    body: Body,
    headers: &HeaderMap,
    limits: &Limits,
    reservation: &mut Reservation,
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
    if let Some(length) = declared.filter(|&length| length <= limits.max_body_bytes) {
        reservation.cover(length)?;
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
            reservation.cover(seen)?;
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
/// `limits.max_decompressed_bytes`, and grows `reservation` to cover the
/// decoded bytes and what decoding will build from them before taking them.
pub fn decode_content(
    body: Bytes,
    encoding: ContentEncoding,
    limits: &Limits,
    reservation: &mut Reservation,
) -> Result<Bytes, IngestError> {
    match encoding {
        ContentEncoding::Identity => {
            reservation.cover(body.len() * DECODED_FACTOR)?;
            Ok(body)
        }
        ContentEncoding::Gzip => {
            gunzip_limited(&body, limits.max_decompressed_bytes, |decompressed| {
                reservation.cover(body.len() + decompressed * DECODED_FACTOR)
            })
            .map(Bytes::from)
        }
    }
}

/// Output is taken in steps of this size, each covered by the budget first.
const GUNZIP_STEP: usize = 256 << 10;

/// Decompresses `compressed`, refusing more than `limit` bytes of output;
/// `make_room(n)` is asked before the output grows to `n` bytes and may
/// refuse.
pub fn gunzip_limited(
    compressed: &[u8],
    limit: usize,
    mut make_room: impl FnMut(usize) -> Result<(), IngestError>,
) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::new();
    #[allow(clippy::disallowed_methods, reason = "this is gzip's one reader")]
    let mut decoder = flate2::read::MultiGzDecoder::new(compressed).take(limit as u64 + 1);
    loop {
        let len = out.len();
        make_room((len + GUNZIP_STEP).min(limit + 1))?;
        out.resize(len + GUNZIP_STEP, 0);
        let read = decoder
            .read(&mut out[len..])
            .map_err(|error| IngestError::Malformed {
                format: "gzip",
                message: error.to_string(),
            })?;
        out.truncate(len + read);
        if read == 0 {
            break;
        }
        if out.len() > limit {
            return Err(IngestError::DecompressedTooLarge { limit });
        }
    }
    out.shrink_to_fit();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[allow(
        clippy::disallowed_methods,
        reason = "a test makes the gzip bodies it sends"
    )]
    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).expect("in memory");
        encoder.finish().expect("in memory")
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 50 << 20]);
        assert!(bomb.len() < 100 << 10);
        let error = gunzip_limited(&bomb, 1 << 20, |_| Ok(())).expect_err("over the limit");
        assert!(matches!(error, IngestError::DecompressedTooLarge { limit } if limit == 1 << 20));
    }

    #[test]
    fn corrupt_gzip_is_malformed() {
        let error =
            gunzip_limited(b"\x1f\x8b\x08garbage", 1 << 20, |_| Ok(())).expect_err("corrupt");
        assert!(matches!(
            error,
            IngestError::Malformed { format: "gzip", .. }
        ));
    }

    #[test]
    fn gzip_round_trips() {
        assert_eq!(
            gunzip_limited(&gzip(b"hello"), 10, |_| Ok(())).expect("fits"),
            b"hello"
        );
    }

    #[test]
    fn gunzip_asks_for_room_before_each_step_and_stops_when_refused() {
        let data = vec![7u8; 3 * GUNZIP_STEP];
        let mut asked = Vec::new();
        let error = gunzip_limited(&gzip(&data), 1 << 30, |n| {
            asked.push(n);
            if n > 2 * GUNZIP_STEP {
                Err(IngestError::BodiesInFlight {
                    budget: 2 * GUNZIP_STEP,
                })
            } else {
                Ok(())
            }
        })
        .expect_err("the third step is refused");
        assert!(matches!(error, IngestError::BodiesInFlight { .. }));
        assert_eq!(asked, [GUNZIP_STEP, 2 * GUNZIP_STEP, 3 * GUNZIP_STEP]);
    }
}
