//! Comparing replayed answers with the originals: is model B as good as
//! model A on this traffic, how much faster or cheaper, and how sure are we?
//!
//! Everything here is computation on values already in memory; the replay
//! engine, the judge's HTTP calls, storage and the CLI/API call into it. The
//! flow, per replayed call and target:
//!
//! 1. [`scores::Scorer::score_pair`] runs every applicable scorer on the
//!    original's and the candidate's output messages and returns a
//!    serializable [`scores::Scores`] (text similarity from [`similarity`],
//!    JSON agreement from [`json`], tool-call agreement from [`tools`],
//!    refusals from [`refusal`]).
//! 2. When a judge is configured, [`judge`] builds the judge's messages for
//!    both answer orders, parses each reply strictly, and
//!    [`judge::combine_orders`] turns the two verdicts into one win, tie or
//!    loss for the candidate.
//! 3. [`aggregate::build_comparisons`] takes one [`aggregate::ItemRecord`]
//!    per pair and produces a [`aggregate::Comparison`] per target: paired
//!    statistics with intervals from [`stats`], a [`verdict`] whose decision
//!    rule is written out in that module, and the worst regressions by id.
//!
//! Those parts are pure. Around them, with I/O: [`scoring`] reads a replay
//! run's stored answers, runs the scorers, asks the judge through
//! [`judging`] and the embeddings target, both called by [`caller`] within
//! the replay module's limits, retries and budget, and stores one scored
//! item per (run, item, scoring); [`report`] reads a scoring back into the
//! report the API returns and [`cli`] (`reprise compare`) prints;
//! [`settings`] is the `[compare]` section of `reprise.toml`.

pub mod aggregate;
pub mod caller;
pub mod cli;
pub mod json;
pub mod judge;
pub mod judging;
pub mod refusal;
pub mod report;
pub mod scores;
pub mod scoring;
pub mod settings;
pub mod similarity;
pub mod stats;
pub mod text;
pub mod tools;
pub mod verdict;

pub use aggregate::{CallOutcome, CompareConfig, Comparison, ItemRecord, build_comparisons};
pub use scores::{PairInput, Scorer, Scores, SimilarityMetric};
pub use verdict::{Decision, Verdict, VerdictConfig};
