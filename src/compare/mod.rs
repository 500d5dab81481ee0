//! Comparing replayed answers with the originals: per-pair scorers, the pure
//! parts of an LLM judge, paired statistics and the per-target summary.
//!
//! Everything here is computation on values already in memory; the replay
//! engine, the judge's HTTP calls, storage and the CLI/API call into it.

pub mod json;
pub mod refusal;
pub mod scores;
pub mod similarity;
pub mod text;
pub mod tools;
