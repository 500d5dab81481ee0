//! Trace, span and call ids as column values. They are stored as blobs
//! and decode straight from them, so row types hold the ids themselves
//! rather than bytes to check afterwards. The impls are generic over the
//! database: any engine whose blob columns decode as bytes (SQLite's
//! `BLOB`, PostgreSQL's `bytea`) reads them the same way. Bytes that are
//! not an id (a wrong length, an all-zero trace or span id) are a decode
//! error, as a corrupt row should be. Writes still bind the ids' bytes.
//!
//! They live in the store, not beside the ids in `model`, so the model
//! stays free of sqlx.

use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Type};

use crate::model::{CallId, SpanId, TraceId};

/// `Type` and `Decode` for an id stored as a blob: the blob's bytes, made
/// into the id by `$from` (which refuses bytes that are no id).
macro_rules! blob_id {
    ($id:ty, $from:expr) => {
        impl<DB: Database> Type<DB> for $id
        where
            [u8]: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <[u8] as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <[u8] as Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $id
        where
            &'r [u8]: Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let from: fn(&[u8]) -> Result<$id, BoxDynError> = $from;
                from(<&'r [u8] as Decode<'r, DB>>::decode(value)?)
            }
        }
    };
}

blob_id!(TraceId, |bytes| Ok(TraceId::try_from(bytes)?));
blob_id!(SpanId, |bytes| Ok(SpanId::try_from(bytes)?));
blob_id!(CallId, |bytes| Ok(
    CallId::from_bytes(bytes).ok_or("call id is not 16 bytes")?
));

#[cfg(test)]
mod tests {
    use sqlx::Connection as _;

    use super::*;

    /// Ids decode from their blobs, NULL as `None`, and bytes that are no
    /// id are an error rather than a wrong id.
    #[tokio::test]
    async fn ids_decode_from_blobs_and_refuse_other_bytes() {
        let mut db = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("in-memory database");
        let trace = TraceId([7; 16]);
        let span = SpanId([8; 8]);
        let call = CallId(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let (t, s, c, none): (TraceId, SpanId, CallId, Option<SpanId>) =
            sqlx::query_as("SELECT ?, ?, ?, NULL")
                .bind(trace.as_bytes())
                .bind(span.as_bytes())
                .bind(call.to_bytes().as_slice())
                .fetch_one(&mut db)
                .await
                .expect("ids decode");
        assert_eq!((t, s, c, none), (trace, span, call, None));

        let short: Result<CallId, _> = sqlx::query_scalar("SELECT x'0102'")
            .fetch_one(&mut db)
            .await;
        assert!(short.is_err(), "two bytes are no call id");
        let zero: Result<SpanId, _> = sqlx::query_scalar("SELECT zeroblob(8)")
            .fetch_one(&mut db)
            .await;
        assert!(zero.is_err(), "an all-zero span id is refused");
    }
}
