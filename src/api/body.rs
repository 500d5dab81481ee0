//! Request bodies of the JSON API, read the way the OTLP routes read
//! theirs: within a size limit and the shared memory budget, gzip undone,
//! and any other `Content-Encoding` refused with 415 instead of being
//! parsed as if it were plain JSON.

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use http::HeaderMap;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::ingest::budget::{BodyBudget, Reservation};
use crate::ingest::limits::Limits;
use crate::ingest::otlp::body::{ContentEncoding, decode_content, read_limited};

/// Replay and scoring requests name calls and options, never content: a
/// megabyte is far more than any needs.
const CONTROL_BODY_BYTES: usize = 1 << 20;

/// Requests of the control plane (replays, scoring) share this budget,
/// apart from ingest's, so a flood of them cannot starve ingest nor the
/// reverse.
static CONTROL_BUDGET: LazyLock<BodyBudget> =
    LazyLock::new(|| BodyBudget::new(16 * CONTROL_BODY_BYTES));

/// The body, decompressed, with `reservation` covering it. `limits` bounds
/// the size as sent and after decompression.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limits: &Limits,
    reservation: &mut Reservation,
) -> Result<Bytes, ApiError> {
    let encoding = ContentEncoding::from_headers(headers).map_err(ingest_error)?;
    let raw = read_limited(body, headers, limits, reservation)
        .await
        .map_err(ingest_error)?;
    decode_content(raw, encoding, limits, reservation).map_err(ingest_error)
}

/// A small request body of the control plane (replays, scoring).
pub async fn read_control_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let limits = Limits {
        max_body_bytes: CONTROL_BODY_BYTES,
        max_decompressed_bytes: CONTROL_BODY_BYTES,
        ..Limits::default()
    };
    let mut reservation = CONTROL_BUDGET.start();
    read_body(headers, body, &limits, &mut reservation).await
}

fn ingest_error(error: crate::ingest::IngestError) -> ApiError {
    ApiError::Ingest(error)
}

/// A JSON request body of the control plane, read as
/// [`read_control_body`] reads it and decoded strictly, with the API's own
/// errors: a 400 that names the field at fault (`targets[0]: invalid
/// type…`), 413 or 415 for a body too large or wrongly encoded. An empty
/// body reads as `{}`, so a request whose fields all have defaults needs
/// none. Any `Content-Type` is taken: the body is JSON or it is refused.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let bytes = read_control_body(&parts.headers, body).await?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let mut deserializer = serde_json::Deserializer::from_slice(text);
        serde_path_to_error::deserialize(&mut deserializer)
            .map(ApiJson)
            .map_err(|error| ApiError::BadRequest(format!("invalid request body: {error}")))
    }
}
