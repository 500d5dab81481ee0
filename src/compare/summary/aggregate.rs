//! The per-target comparison summary: what `reprise compare RUN` prints and
//! `GET /api/v1/replays/{id}/comparison` returns.
//!
//! Input is one [`ItemRecord`] per replayed call and target: both calls'
//! measured outcomes, the pair's [`Scores`], and the judge's combined
//! verdict when a judge ran. [`build_comparisons`] groups the records by
//! target and, for each, computes every statistic of [`crate::compare::summary::stats`] from
//! the paired values, applies the decision rules of [`crate::compare::summary::verdict`], and
//! lists the worst regressions by item id so people can read them.
//!
//! Which pairs count for what:
//! - error rates: every pair;
//! - latency, time to first token, tokens, throughput and cost: pairs where
//!   neither call failed and both sides have the value (a failed call's
//!   latency measures the failure, not the model);
//! - scores and the judge: the pairs that have them.
//!
//! Records are sorted by item id before any bootstrap, so the summary does
//! not depend on the order storage returned them in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compare::judge::{Outcome, PairJudgement};
use crate::compare::score::{Scores, SimilarityMetric};
use crate::compare::summary::stats::{
    BootstrapConfig, Estimate, PairedSummary, Proportion, Summary, Z_95, summarize,
    summarize_paired, tango_interval,
};
use crate::compare::summary::verdict::{Evidence, Verdict, VerdictConfig, decide};
use crate::model::{Call, CallStatus};

/// What one call measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct CallOutcome {
    pub duration_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub error: bool,
}

impl CallOutcome {
    pub fn from_call(call: &Call) -> Self {
        Self {
            duration_ms: call.duration_ms,
            ttft_ms: call.ttft_ms,
            input_tokens: call.usage.input_tokens,
            output_tokens: call.usage.output_tokens,
            cost_usd: call.cost_usd,
            error: call.status == CallStatus::Error,
        }
    }

    /// Output tokens per second of total duration; `None` without both
    /// numbers or with a zero duration.
    pub fn output_tokens_per_s(&self) -> Option<f64> {
        let tokens = self.output_tokens? as f64;
        let duration_ms = self.duration_ms?;
        if duration_ms <= 0.0 {
            return None;
        }
        Some(tokens / (duration_ms / 1000.0))
    }
}

/// Grades from the rubric judge, 1 to 10, for both answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RubricPair {
    pub original: u8,
    pub candidate: u8,
}

/// One replayed item for one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// The replay item (usually the original call's id).
    pub item_id: String,
    /// The target the candidate came from (a model or provider/model name).
    pub target: String,
    pub original: CallOutcome,
    pub candidate: CallOutcome,
    #[serde(default)]
    pub scores: Option<Scores>,
    #[serde(default)]
    pub judgement: Option<PairJudgement>,
    #[serde(default)]
    pub rubric: Option<RubricPair>,
}

/// How to aggregate. Every field has a default, so a config file may set
/// only what it changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompareConfig {
    pub similarity_metric: SimilarityMetric,
    pub bootstrap: BootstrapConfig,
    pub verdict: VerdictConfig,
    /// How many worst regressions to list.
    pub worst_count: usize,
}

impl Default for CompareConfig {
    fn default() -> Self {
        Self {
            similarity_metric: SimilarityMetric::default(),
            bootstrap: BootstrapConfig::default(),
            verdict: VerdictConfig::default(),
            worst_count: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareConfigError {
    #[error("{name} is {value}; it must be at least 0 and below 1")]
    MarginOutOfRange { name: &'static str, value: f64 },
    #[error("bootstrap resamples is 0; use at least 1000 (2000 is the default)")]
    NoResamples,
}

impl CompareConfig {
    /// Checks the thresholds, so a bad config fails when loaded rather than
    /// producing verdicts that mean nothing.
    pub fn validate(&self) -> Result<(), CompareConfigError> {
        let verdict = &self.verdict;
        let mut margins = vec![
            ("verdict.win_margin", verdict.win_margin),
            ("verdict.error_margin", verdict.error_margin),
        ];
        if let Some(margin) = verdict.similarity_margin {
            margins.push(("verdict.similarity_margin", margin));
        }
        for (name, value) in margins {
            if !(0.0..1.0).contains(&value) {
                return Err(CompareConfigError::MarginOutOfRange { name, value });
            }
        }
        if self.bootstrap.resamples == 0 {
            return Err(CompareConfigError::NoResamples);
        }
        Ok(())
    }
}

/// Win/tie/loss from the candidate's side, after position-swap combination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeSummary {
    pub n: u64,
    pub wins: Proportion,
    pub ties: Proportion,
    pub losses: Proportion,
    /// (wins − losses)/n with its Tango interval.
    pub win_minus_loss: Estimate,
    /// Pairs whose two orders disagreed (counted as ties above).
    pub position_inconsistent: Proportion,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimilaritySummary {
    pub metric: SimilarityMetric,
    #[serde(flatten)]
    pub summary: Summary,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    pub original: Proportion,
    pub candidate: Proportion,
    /// Candidate − original error rate, with its Tango interval.
    pub difference: Estimate,
}

/// Refused or empty answers among the scored pairs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefusalSummary {
    pub original: Proportion,
    pub candidate: Proportion,
    /// Pairs where the candidate refused and the original did not.
    pub new_refusals: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegressionKind {
    /// The candidate failed where the original succeeded.
    CandidateError,
    /// The judge preferred the original in both orders.
    JudgeLoss,
    /// The candidate refused or answered nothing where the original did not.
    NewRefusal,
    /// Ranked by the similarity metric, lowest first.
    LowSimilarity,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    pub item_id: String,
    pub kind: RegressionKind,
    pub similarity: Option<f64>,
    pub judge: Option<Outcome>,
}

/// Everything known about one target against the originals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub target: String,
    pub n_items: usize,
    pub verdict: Verdict,
    pub judge: Option<JudgeSummary>,
    /// Candidate − original rubric grades, per pair.
    pub rubric: Option<PairedSummary>,
    pub similarity: Option<SimilaritySummary>,
    pub exact_match: Option<Proportion>,
    pub normalized_match: Option<Proportion>,
    /// Share of pairs checked for JSON where the candidate was valid JSON.
    pub json_valid: Option<Proportion>,
    pub refusals: Option<RefusalSummary>,
    pub errors: Option<ErrorSummary>,
    pub latency_ms: Option<PairedSummary>,
    pub ttft_ms: Option<PairedSummary>,
    pub output_tokens_per_s: Option<PairedSummary>,
    pub input_tokens: Option<PairedSummary>,
    pub output_tokens: Option<PairedSummary>,
    /// Per-call cost × 1,000: its mean (and the mean's interval) is the
    /// cost of 1,000 calls like these.
    pub cost_per_1000_calls_usd: Option<PairedSummary>,
    pub worst_regressions: Vec<Regression>,
}

/// One comparison per target, in target order.
pub fn build_comparisons(records: &[ItemRecord], config: &CompareConfig) -> Vec<Comparison> {
    let mut by_target: BTreeMap<&str, Vec<&ItemRecord>> = BTreeMap::new();
    for record in records {
        by_target
            .entry(record.target.as_str())
            .or_default()
            .push(record);
    }
    let mut comparisons = Vec::new();
    for (target, mut items) in by_target {
        items.sort_by(|a, b| a.item_id.cmp(&b.item_id));
        comparisons.push(build_comparison(target, &items, config));
    }
    comparisons
}

/// The comparison for one target's records (any order).
pub fn build_comparison(target: &str, items: &[&ItemRecord], config: &CompareConfig) -> Comparison {
    let bootstrap = &config.bootstrap;
    let judge = judge_summary(items);
    let similarity = similarity_summary(items, config.similarity_metric, bootstrap);
    let errors = error_summary(items);
    let evidence = Evidence {
        judge: judge.as_ref().map(|j| (j.n, &j.win_minus_loss)),
        similarity: similarity.as_ref().map(|s| &s.summary),
        error_difference: errors.as_ref().map(|e| &e.difference),
    };
    let verdict = decide(&evidence, &config.verdict);

    let succeeded: Vec<&ItemRecord> = items
        .iter()
        .copied()
        .filter(|item| !item.original.error && !item.candidate.error)
        .collect();
    let paired = |value: fn(&CallOutcome) -> Option<f64>| {
        let pairs: Vec<(Option<f64>, Option<f64>)> = succeeded
            .iter()
            .map(|item| (value(&item.original), value(&item.candidate)))
            .collect();
        summarize_paired(&pairs, bootstrap)
    };

    Comparison {
        target: target.to_owned(),
        n_items: items.len(),
        verdict,
        judge,
        rubric: rubric_summary(items, bootstrap),
        similarity,
        exact_match: score_rate(items, |s| s.exact_match),
        normalized_match: score_rate(items, |s| s.normalized_match),
        json_valid: score_rate(items, |s| s.json_valid),
        refusals: refusal_summary(items),
        errors,
        latency_ms: paired(|c| c.duration_ms),
        ttft_ms: paired(|c| c.ttft_ms),
        output_tokens_per_s: paired(CallOutcome::output_tokens_per_s),
        input_tokens: paired(|c| c.input_tokens.map(|t| t as f64)),
        output_tokens: paired(|c| c.output_tokens.map(|t| t as f64)),
        cost_per_1000_calls_usd: paired(|c| c.cost_usd.map(|usd| usd * 1000.0)),
        worst_regressions: worst_regressions(items, config.similarity_metric, config.worst_count),
    }
}

fn judge_summary(items: &[&ItemRecord]) -> Option<JudgeSummary> {
    let (mut wins, mut ties, mut losses, mut inconsistent) = (0u64, 0u64, 0u64, 0u64);
    for item in items {
        let Some(judgement) = item.judgement else {
            continue;
        };
        match judgement.outcome {
            Outcome::Win => wins += 1,
            Outcome::Tie => ties += 1,
            Outcome::Loss => losses += 1,
        }
        if judgement.position_inconsistent {
            inconsistent += 1;
        }
    }
    let n = wins + ties + losses;
    Some(JudgeSummary {
        n,
        wins: Proportion::new(wins, n)?,
        ties: Proportion::new(ties, n)?,
        losses: Proportion::new(losses, n)?,
        win_minus_loss: Estimate {
            estimate: (wins as f64 - losses as f64) / n as f64,
            ci95: tango_interval(wins, losses, n, Z_95)?,
        },
        position_inconsistent: Proportion::new(inconsistent, n)?,
    })
}

fn similarity_summary(
    items: &[&ItemRecord],
    metric: SimilarityMetric,
    bootstrap: &BootstrapConfig,
) -> Option<SimilaritySummary> {
    let mut values = Vec::new();
    for item in items {
        if let Some(value) = item.scores.as_ref().and_then(|s| metric.pick(s)) {
            values.push(value);
        }
    }
    Some(SimilaritySummary {
        metric,
        summary: summarize(&values, bootstrap)?,
    })
}

fn rubric_summary(items: &[&ItemRecord], bootstrap: &BootstrapConfig) -> Option<PairedSummary> {
    let mut pairs = Vec::new();
    for item in items {
        if let Some(grades) = item.rubric {
            pairs.push((
                Some(f64::from(grades.original)),
                Some(f64::from(grades.candidate)),
            ));
        }
    }
    summarize_paired(&pairs, bootstrap)
}

fn error_summary(items: &[&ItemRecord]) -> Option<ErrorSummary> {
    let n = items.len() as u64;
    let (mut original, mut candidate, mut candidate_only, mut original_only) =
        (0u64, 0u64, 0u64, 0u64);
    for item in items {
        original += u64::from(item.original.error);
        candidate += u64::from(item.candidate.error);
        match (item.original.error, item.candidate.error) {
            (false, true) => candidate_only += 1,
            (true, false) => original_only += 1,
            _ => {}
        }
    }
    Some(ErrorSummary {
        original: Proportion::new(original, n)?,
        candidate: Proportion::new(candidate, n)?,
        difference: Estimate {
            estimate: (candidate as f64 - original as f64) / n as f64,
            ci95: tango_interval(candidate_only, original_only, n, Z_95)?,
        },
    })
}

fn score_rate(items: &[&ItemRecord], field: fn(&Scores) -> Option<bool>) -> Option<Proportion> {
    let (mut count, mut n) = (0u64, 0u64);
    for item in items {
        if let Some(value) = item.scores.as_ref().and_then(field) {
            n += 1;
            count += u64::from(value);
        }
    }
    Proportion::new(count, n)
}

fn refusal_summary(items: &[&ItemRecord]) -> Option<RefusalSummary> {
    let (mut n, mut original, mut candidate, mut new_refusals) = (0u64, 0u64, 0u64, 0u64);
    for item in items {
        let Some(scores) = &item.scores else { continue };
        n += 1;
        let original_refused = scores.original_refusal.is_some();
        let candidate_refused = scores.candidate_refusal.is_some();
        original += u64::from(original_refused);
        candidate += u64::from(candidate_refused);
        new_refusals += u64::from(candidate_refused && !original_refused);
    }
    Some(RefusalSummary {
        original: Proportion::new(original, n)?,
        candidate: Proportion::new(candidate, n)?,
        new_refusals,
    })
}

/// The worst items: failures first, then judge losses, then new refusals,
/// then the lowest similarities; ties broken by similarity, then item id.
fn worst_regressions(
    items: &[&ItemRecord],
    metric: SimilarityMetric,
    count: usize,
) -> Vec<Regression> {
    let mut regressions = Vec::new();
    for item in items {
        let similarity = item.scores.as_ref().and_then(|s| metric.pick(s));
        let judge = item.judgement.map(|j| j.outcome);
        let refused = item
            .scores
            .as_ref()
            .is_some_and(|s| s.candidate_refusal.is_some() && s.original_refusal.is_none());
        let kind = if item.candidate.error && !item.original.error {
            RegressionKind::CandidateError
        } else if judge == Some(Outcome::Loss) {
            RegressionKind::JudgeLoss
        } else if refused {
            RegressionKind::NewRefusal
        } else if similarity.is_some_and(|s| s < 1.0) {
            RegressionKind::LowSimilarity
        } else {
            continue;
        };
        regressions.push(Regression {
            item_id: item.item_id.clone(),
            kind,
            similarity,
            judge,
        });
    }
    regressions.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then_with(|| compare_similarity(a.similarity, b.similarity))
            .then_with(|| a.item_id.cmp(&b.item_id))
    });
    regressions.truncate(count);
    regressions
}

/// Lower similarity first; a missing one after every present one.
fn compare_similarity(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::score::refusal::Refusal;
    use crate::compare::summary::verdict::{Basis, Decision};
    use crate::model::{CallId, Source};

    fn outcome(duration_ms: f64, cost_usd: f64) -> CallOutcome {
        CallOutcome {
            duration_ms: Some(duration_ms),
            ttft_ms: Some(duration_ms / 4.0),
            input_tokens: Some(100),
            output_tokens: Some(50),
            cost_usd: Some(cost_usd),
            error: false,
        }
    }

    fn record(index: usize, target: &str, judged: Outcome, similarity: f64) -> ItemRecord {
        ItemRecord {
            item_id: format!("item-{index:03}"),
            target: target.to_owned(),
            original: outcome(1000.0 + index as f64, 0.002),
            candidate: outcome(800.0 + index as f64, 0.001),
            scores: Some(Scores {
                token_f1: Some(similarity),
                exact_match: Some(similarity == 1.0),
                ..Scores::default()
            }),
            judgement: Some(PairJudgement {
                outcome: judged,
                position_inconsistent: false,
            }),
            rubric: None,
        }
    }

    /// 100 items for target "b": 30 wins, 60 ties, 10 losses.
    fn run() -> Vec<ItemRecord> {
        let mut records = Vec::new();
        for index in 0..100 {
            let judged = match index % 10 {
                0..=2 => Outcome::Win,
                3 => Outcome::Loss,
                _ => Outcome::Tie,
            };
            let similarity = if judged == Outcome::Loss { 0.2 } else { 0.9 };
            records.push(record(index, "b", judged, similarity));
        }
        records
    }

    #[test]
    fn summary_counts_judgements_and_decides() {
        let comparisons = build_comparisons(&run(), &CompareConfig::default());
        assert_eq!(comparisons.len(), 1);
        let comparison = &comparisons[0];
        assert_eq!(comparison.n_items, 100);
        let judge = comparison.judge.as_ref().expect("judged");
        assert_eq!(
            (judge.wins.count, judge.ties.count, judge.losses.count),
            (30, 60, 10)
        );
        assert!((judge.win_minus_loss.estimate - 0.2).abs() < 1e-12);
        assert_eq!(comparison.verdict.decision, Decision::Better);
        assert_eq!(comparison.verdict.basis, Basis::Judge);
    }

    #[test]
    fn latency_and_cost_are_paired_differences() {
        let comparisons = build_comparisons(&run(), &CompareConfig::default());
        let comparison = &comparisons[0];
        let latency = comparison.latency_ms.as_ref().expect("latency");
        // every candidate call is exactly 200 ms faster than its original
        assert_eq!(latency.n, 100);
        assert_eq!(latency.difference.median, -200.0);
        assert_eq!(
            latency.difference.median_ci95.map(|ci| ci.lower),
            Some(-200.0)
        );
        assert_eq!(latency.difference.p95, -200.0);
        let cost = comparison.cost_per_1000_calls_usd.as_ref().expect("cost");
        assert!((cost.original.mean - 2.0).abs() < 1e-9);
        assert!((cost.candidate.mean - 1.0).abs() < 1e-9);
        assert!((cost.difference.mean + 1.0).abs() < 1e-9);
        let throughput = comparison.output_tokens_per_s.as_ref().expect("throughput");
        // item 0: 50 tokens in 0.8 s = 62.5 tokens/s
        assert!((throughput.candidate.max - 62.5).abs() < 1e-9);
    }

    #[test]
    fn failed_calls_count_as_errors_not_latency() {
        let mut records = run();
        for record in records.iter_mut().take(20) {
            record.candidate.error = true;
            record.judgement = None;
        }
        let comparisons = build_comparisons(&records, &CompareConfig::default());
        let comparison = &comparisons[0];
        let errors = comparison.errors.as_ref().expect("errors");
        assert_eq!((errors.original.count, errors.candidate.count), (0, 20));
        assert!((errors.difference.estimate - 0.2).abs() < 1e-12);
        assert_eq!(comparison.latency_ms.as_ref().expect("latency").n, 80);
        // 20% more failures is far beyond the 2% margin
        assert_eq!(comparison.verdict.decision, Decision::Worse);
        assert_eq!(comparison.verdict.basis, Basis::Errors);
        assert_eq!(
            comparison.worst_regressions[0].kind,
            RegressionKind::CandidateError
        );
    }

    #[test]
    fn worst_regressions_rank_losses_before_low_similarity() {
        let mut records = run();
        records[5].scores = Some(Scores {
            token_f1: Some(0.05),
            candidate_refusal: Some(Refusal::Empty),
            ..Scores::default()
        });
        let config = CompareConfig {
            worst_count: 12,
            ..CompareConfig::default()
        };
        let comparisons = build_comparisons(&records, &config);
        let worst = &comparisons[0].worst_regressions;
        assert_eq!(worst.len(), 12);
        // the ten judge losses (items 3, 13, …, 93) come first, by id
        for (rank, regression) in worst.iter().take(10).enumerate() {
            assert_eq!(regression.kind, RegressionKind::JudgeLoss);
            assert_eq!(regression.item_id, format!("item-{:03}", rank * 10 + 3));
        }
        assert_eq!(worst[10].kind, RegressionKind::NewRefusal);
        assert_eq!(worst[10].item_id, "item-005");
        assert_eq!(worst[11].kind, RegressionKind::LowSimilarity);
    }

    #[test]
    fn targets_are_separate_and_record_order_does_not_matter() {
        let mut records = run();
        let mut other = run();
        for record in &mut other {
            record.target = "a".into();
        }
        records.extend(other);
        let forward = build_comparisons(&records, &CompareConfig::default());
        records.reverse();
        let backward = build_comparisons(&records, &CompareConfig::default());
        assert_eq!(forward, backward);
        let targets: Vec<&str> = forward.iter().map(|c| c.target.as_str()).collect();
        assert_eq!(targets, ["a", "b"]);
    }

    #[test]
    fn a_target_without_judge_or_similarity_is_inconclusive() {
        let records = vec![ItemRecord {
            item_id: "x".into(),
            target: "t".into(),
            original: outcome(10.0, 0.0),
            candidate: outcome(12.0, 0.0),
            scores: None,
            judgement: None,
            rubric: Some(RubricPair {
                original: 6,
                candidate: 8,
            }),
        }];
        let comparison = &build_comparisons(&records, &CompareConfig::default())[0];
        assert_eq!(comparison.judge, None);
        assert_eq!(comparison.similarity, None);
        assert_eq!(comparison.refusals, None);
        assert_eq!(comparison.verdict.decision, Decision::Inconclusive);
        assert_eq!(
            comparison
                .rubric
                .as_ref()
                .expect("rubric")
                .difference
                .median,
            2.0
        );
    }

    #[test]
    fn comparison_serializes_to_json() {
        let comparison = &build_comparisons(&run(), &CompareConfig::default())[0];
        let json = serde_json::to_value(comparison).expect("serialize");
        assert_eq!(json["verdict"]["label"], "better");
        assert_eq!(json["similarity"]["metric"], "token_f1");
        assert_eq!(json["judge"]["wins"]["count"], 30);
        let back: Comparison = serde_json::from_value(json).expect("deserialize");
        assert_eq!(&back, comparison);
    }

    #[test]
    fn config_loads_partially_and_validates() {
        let config: CompareConfig =
            serde_json::from_str(r#"{"verdict": {"win_margin": 0.1}, "worst_count": 3}"#)
                .expect("partial config");
        assert_eq!(config.verdict.win_margin, 0.1);
        assert_eq!(config.verdict.min_n, 30);
        assert_eq!(config.bootstrap, BootstrapConfig::default());
        assert_eq!(config.validate(), Ok(()));
        let mut bad = config.clone();
        bad.verdict.similarity_margin = Some(1.5);
        assert_eq!(
            bad.validate(),
            Err(CompareConfigError::MarginOutOfRange {
                name: "verdict.similarity_margin",
                value: 1.5
            })
        );
        let mut bad = config;
        bad.verdict.win_margin = f64::NAN;
        assert!(bad.validate().is_err());
    }

    #[test]
    fn call_outcome_reads_a_canonical_call() {
        let mut call = Call::new(CallId::random(0), Source::Replay, 0);
        call.duration_ms = Some(500.0);
        call.usage.output_tokens = Some(100);
        call.status = CallStatus::Error;
        let outcome = CallOutcome::from_call(&call);
        assert!(outcome.error);
        assert_eq!(outcome.output_tokens_per_s(), Some(200.0));
    }
}
