//! The store's encoding layer: how domain values become the bytes and
//! columns the store keeps, and back. No SQL and no I/O: the value codec
//! with content addressing ([`codec`]), span and log records ([`records`]),
//! call content and its indexed columns ([`call_record`], [`call_index`]),
//! and compressed packs ([`pack`]). Ingest workers run it before a batch
//! reaches the writer; readers run it after rows come back.
//!
//! It imports `model` and nothing else of the store, so both engines share
//! one stored encoding.

pub mod call_index;
pub mod call_record;
pub mod codec;
pub mod pack;
pub mod records;
