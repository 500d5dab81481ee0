//! The store's writing layer. Everything written goes through one queue to
//! one group-commit task ([`writer`]), as a [`batch::WriteBatch`] whose
//! bulky parts the encoding layer has already prepared. Each kind of write
//! has its own file: exports appended before they are derived
//! ([`appends`]), calls and their indexes ([`calls`]), replay runs
//! ([`replays`]), comparison scorings ([`comparisons`]), and the content
//! already stored ([`blobs`]).
//!
//! The order of imports runs one way: the write types ([`batch`] and the
//! per-kind write enums) at the bottom, the per-kind SQL above them, the
//! writer task on top.

pub mod appends;
pub mod batch;
pub mod blobs;
pub mod calls;
pub mod comparisons;
pub mod error;
pub mod prune;
pub mod replays;
pub mod statements;
pub mod writer;
