//! gRPC request bodies, read under the same memory budget as HTTP ones.
//!
//! tonic decompresses a message inside its codec, before reprise sees it,
//! so the only bound there is the per-message limit: 64 concurrent gzip
//! exports, each far inside it, once drove the server to 3.75 GB. This
//! wrapper sits in front of each OTLP service instead: it reads the body
//! under a [`Reservation`], undoes gzip itself (through the one
//! decompression function, [`gunzip_limited`]), and hands tonic plain
//! frames, so tonic never decompresses. The reservation is held until the
//! service has answered, which for these unary calls is when the export is
//! stored.

use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use futures::future::BoxFuture;
use http::{Request, Response};
use http_body_util::BodyExt as _;
use tonic::body::Body;
use tonic::server::NamedService;
use tower::Service;

use super::body::gunzip_limited;
use crate::ingest::budget::{BodyBudget, DECODED_FACTOR, Reservation};
use crate::ingest::error::IngestError;
use crate::ingest::limits::Limits;

/// The five bytes before each gRPC message: a compressed flag and a length.
const FRAME_HEADER: usize = 5;

/// An OTLP gRPC service whose requests are read within the budget first.
#[derive(Clone)]
pub struct Budgeted<S> {
    inner: S,
    limits: Limits,
    budget: BodyBudget,
}

impl<S> Budgeted<S> {
    pub fn new(inner: S, limits: Limits, budget: BodyBudget) -> Self {
        Budgeted {
            inner,
            limits,
            budget,
        }
    }
}

impl<S: NamedService> NamedService for Budgeted<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<Request<Body>> for Budgeted<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limits = self.limits.clone();
        let mut reservation = self.budget.start();
        Box::pin(async move {
            match admit(request, &limits, &mut reservation).await {
                Ok(request) => {
                    let response = inner.call(request).await;
                    drop(reservation);
                    response
                }
                Err(error) => Ok(error.grpc_status().into_http()),
            }
        })
    }
}

/// The request with its messages read, covered and decompressed.
async fn admit(
    request: Request<Body>,
    limits: &Limits,
    reservation: &mut Reservation,
) -> Result<Request<Body>, IngestError> {
    let (mut parts, mut body) = request.into_parts();
    let gzip = match parts.headers.get("grpc-encoding").map(|v| v.as_bytes()) {
        None | Some(b"identity") => false,
        Some(b"gzip") => true,
        Some(other) => {
            return Err(IngestError::UnsupportedEncoding(
                String::from_utf8_lossy(other).into_owned(),
            ));
        }
    };
    let mut received = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| IngestError::Malformed {
            format: "gRPC",
            message: format!("could not read the request: {error}"),
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let total = received.len() + data.len();
        if total > limits.max_body_bytes {
            return Err(IngestError::BodyTooLarge {
                limit: limits.max_body_bytes,
            });
        }
        reservation.cover(total)?;
        received.extend_from_slice(&data);
    }
    let plain = plain_frames(received.freeze(), gzip, limits, reservation)?;
    parts.headers.remove("grpc-encoding");
    Ok(Request::from_parts(
        parts,
        Body::new(http_body_util::Full::new(plain)),
    ))
}

/// The messages of `received` as uncompressed gRPC frames.
fn plain_frames(
    mut received: Bytes,
    gzip: bool,
    limits: &Limits,
    reservation: &mut Reservation,
) -> Result<Bytes, IngestError> {
    let received_len = received.len();
    let malformed = |message: &str| IngestError::Malformed {
        format: "gRPC",
        message: message.to_owned(),
    };
    let mut out = BytesMut::new();
    while received.has_remaining() {
        if received.len() < FRAME_HEADER {
            return Err(malformed("a message frame is cut short"));
        }
        let compressed = received.get_u8();
        let len = received.get_u32() as usize;
        if received.len() < len {
            return Err(malformed("a message is shorter than its length prefix"));
        }
        let payload = received.split_to(len);
        let message = match (compressed, gzip) {
            (0, _) => {
                reservation.cover(received_len + (out.len() + len) * DECODED_FACTOR)?;
                payload
            }
            (1, true) => {
                let taken = out.len();
                let data = gunzip_limited(&payload, limits.max_decompressed_bytes, |n| {
                    reservation.cover(received_len + (taken + n) * DECODED_FACTOR)
                })?;
                Bytes::from(data)
            }
            (1, false) => {
                return Err(malformed(
                    "a message is marked compressed but the request names no grpc-encoding",
                ));
            }
            _ => return Err(malformed("unknown message compression flag")),
        };
        if out.len() + message.len() > limits.max_decompressed_bytes {
            return Err(IngestError::DecompressedTooLarge {
                limit: limits.max_decompressed_bytes,
            });
        }
        out.reserve(FRAME_HEADER + message.len());
        out.put_u8(0);
        out.put_u32(message.len() as u32);
        out.extend_from_slice(&message);
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![flag];
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[allow(
        clippy::disallowed_methods,
        reason = "a test makes the gzip bodies it sends"
    )]
    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).expect("in memory");
        encoder.finish().expect("in memory")
    }

    #[test]
    fn compressed_frames_come_out_plain_and_covered() {
        let budget = BodyBudget::new(8 << 20);
        let mut reservation = budget.start();
        let message = vec![42u8; 1 << 20];
        let received = Bytes::from(frame(1, &gzip(&message)));
        let plain =
            plain_frames(received, true, &Limits::default(), &mut reservation).expect("fits");
        assert_eq!(&plain[..], &frame(0, &message)[..]);
        assert!(reservation.bytes() >= message.len() * DECODED_FACTOR);
    }

    #[test]
    fn a_bomb_stops_at_the_budget_others_hold() {
        let budget = BodyBudget::new(4 << 20);
        let mut other = budget.start();
        other.cover(3 << 20).expect("fits");
        let mut reservation = budget.start();
        let received = Bytes::from(frame(1, &gzip(&vec![0u8; 16 << 20])));
        let error = plain_frames(received, true, &Limits::default(), &mut reservation)
            .expect_err("over the budget");
        assert!(
            matches!(error, IngestError::BodiesInFlight { .. }),
            "{error}"
        );
    }

    #[test]
    fn a_cut_frame_is_malformed() {
        let budget = BodyBudget::new(1 << 20);
        let mut reservation = budget.start();
        let mut received = frame(0, b"hello");
        received.truncate(7);
        let error = plain_frames(
            Bytes::from(received),
            false,
            &Limits::default(),
            &mut reservation,
        )
        .expect_err("cut");
        assert!(matches!(error, IngestError::Malformed { .. }));
    }
}
