//! Comparing replayed answers with the originals: is model B as good as
//! model A on this traffic, how much faster or cheaper, and how sure are we?
//!
//! Three groups, by what they are, each pure, with the I/O around them:
//!
//! 1. [`score`]: [`score::Scorer::score_pair`] runs every applicable scorer
//!    on the original's and the candidate's output messages and returns a
//!    serializable [`score::Scores`] (text similarity, JSON agreement,
//!    tool-call agreement, refusals).
//! 2. [`judge`]: when a judge is configured, its prompt is built for both
//!    answer orders ([`judge::template`]), each reply is parsed strictly and
//!    [`judge::combine_orders`] turns the two verdicts into one win, tie or
//!    loss for the candidate ([`judge::verdict`]); [`judge::ask`] asks.
//! 3. [`summary`]: [`summary::aggregate::build_comparisons`] takes one
//!    [`summary::aggregate::ItemRecord`] per pair and produces a
//!    [`summary::aggregate::Comparison`] per target: paired statistics with
//!    intervals ([`summary::stats`]), a verdict whose decision rule is
//!    written out in [`summary::verdict`], and the worst regressions by id;
//!    [`summary::report`] reads a scoring back into the report the API
//!    returns and [`cli`] (`reprise compare`) prints.
//!
//! Around them, with I/O: [`scoring`] reads a replay run's stored answers,
//! runs the scorers, asks the judge and the embeddings target, both called
//! by [`caller`] within the limits, retries and budget of
//! [`crate::targets`], and stores one scored item per (run, item,
//! scoring); [`settings`] is the `[compare]` section of `reprise.toml`.

pub mod caller;
pub mod cli;
pub mod judge;
pub mod score;
pub mod scoring;
pub mod settings;
pub mod summary;

pub use score::{PairInput, Scorer, Scores, SimilarityMetric};
pub use summary::aggregate::{
    CallOutcome, CompareConfig, Comparison, ItemRecord, build_comparisons,
};
pub use summary::verdict::{Decision, Verdict, VerdictConfig};
