//! The verdict for one target: is the candidate better, not worse, or worse
//! than the original on this traffic, or can the data not tell yet?
//!
//! The decision is made from 95% confidence intervals, never from point
//! estimates, and each rule below is checked in order; the first that holds
//! decides.
//!
//! **Judge rule** (used whenever any pair was judged). Let n be the judged
//! pairs, W and L the candidate's wins and losses after position-swap
//! combination, d = (W − L)/n the win-rate difference, [lo, hi] its Tango
//! 95% interval and m = `win_margin` the non-inferiority margin:
//!
//! 1. n < `min_n`: **inconclusive, N too small**.
//! 2. lo > 0: **better** (superiority: the candidate wins more often than it
//!    loses, and the interval excludes no difference).
//! 3. lo > −m: **not worse at 95%** (non-inferiority: even the pessimistic
//!    end of the interval loses by less than the margin). A candidate whose
//!    interval lies wholly in (−m, 0) is still "not worse": that is what
//!    choosing a margin means.
//! 4. hi < 0: **worse** (it loses significantly more than it wins, and
//!    non-inferiority could not be shown).
//! 5. otherwise: **inconclusive** (the interval spans both −m and 0).
//!
//! Each bound of a two-sided 95% interval is a one-sided test at 2.5%, the
//! conventional level for non-inferiority claims (ICH E9; FDA 2016
//! non-inferiority guidance).
//!
//! **Similarity rule** (only when no pair was judged, and only when
//! `similarity_margin` is set, because agreement with the original is a
//! quality claim only for tasks with one right answer: extraction,
//! classification, JSON, tool use). Let s̄ be the mean per-pair similarity of
//! the configured metric over n pairs, [lo, hi] its bootstrap 95% interval,
//! and t = 1 − `similarity_margin`:
//!
//! 1. n < `min_n`: **inconclusive, N too small**.
//! 2. lo ≥ t: **not worse at 95%** (the candidate reproduces the original's
//!    answers to within the margin, on average). There is no "better": a
//!    candidate cannot agree with the original more than the original does.
//! 3. hi < t: **worse**.
//! 4. otherwise: **inconclusive**.
//!
//! With neither judge data nor a similarity margin the verdict is
//! **inconclusive** and says why.
//!
//! **Error guard** (applied last, over all pairs). Judges only see pairs
//! where both calls succeeded, so a candidate that fails more often would
//! otherwise look as good as its successful answers. Let e be the
//! candidate's error rate minus the original's, with its Tango 95%
//! interval. When the interval's lower bound exceeds `error_margin`, the
//! verdict becomes **worse**, whatever the quality rule said. The guard only
//! demotes: a "not worse" verdict is a claim about answer quality, and the
//! comparison reports the error-rate difference with its interval beside it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::compare::summary::stats::{Estimate, Summary};

/// Thresholds for the decision rules in the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VerdictConfig {
    /// Fewest pairs (judged, or with a similarity) to decide anything.
    pub min_n: u64,
    /// Non-inferiority margin on (W − L)/n.
    pub win_margin: f64,
    /// When set, decide on similarity without judge data: "not worse" when
    /// the mean similarity's lower bound is at least 1 − margin.
    pub similarity_margin: Option<f64>,
    /// How much higher the candidate's error rate may be, at the lower
    /// bound of its interval, before the verdict is "worse".
    pub error_margin: f64,
}

impl Default for VerdictConfig {
    fn default() -> Self {
        Self {
            min_n: 30,
            win_margin: 0.05,
            similarity_margin: None,
            error_margin: 0.02,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Better,
    NotWorse,
    Worse,
    Inconclusive,
    InconclusiveNTooSmall,
}

impl Decision {
    /// The words the CLI and API show.
    pub fn label(self) -> &'static str {
        match self {
            Decision::Better => "better",
            Decision::NotWorse => "not worse at 95%",
            Decision::Worse => "worse",
            Decision::Inconclusive => "inconclusive",
            Decision::InconclusiveNTooSmall => "inconclusive, N too small",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What the decision rested on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    Judge,
    Similarity,
    Errors,
    Nothing,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub decision: Decision,
    /// `decision.label()`, stored so JSON readers need no table.
    pub label: String,
    pub basis: Basis,
    /// One sentence with the numbers the rule used.
    pub reason: String,
}

impl Verdict {
    fn new(decision: Decision, basis: Basis, reason: String) -> Self {
        Self {
            decision,
            label: decision.label().to_owned(),
            basis,
            reason,
        }
    }
}

/// The evidence for one target.
#[derive(Clone, Copy, Debug, Default)]
pub struct Evidence<'a> {
    /// Judged pairs and (W − L)/n with its Tango interval.
    pub judge: Option<(u64, &'a Estimate)>,
    /// The per-pair similarity summary (mean and its interval are used).
    pub similarity: Option<&'a Summary>,
    /// Candidate − original error rate with its Tango interval.
    pub error_difference: Option<&'a Estimate>,
}

/// Applies the rules in the module docs.
pub fn decide(evidence: &Evidence<'_>, config: &VerdictConfig) -> Verdict {
    let quality = quality_verdict(evidence, config);
    let Some(errors) = evidence.error_difference else {
        return quality;
    };
    if errors.ci95.lower > config.error_margin {
        return Verdict::new(
            Decision::Worse,
            Basis::Errors,
            format!(
                "the candidate's error rate is higher by {:.3} (95% CI {:.3} to {:.3}), more than the {:.3} margin; quality alone: {}",
                errors.estimate,
                errors.ci95.lower,
                errors.ci95.upper,
                config.error_margin,
                quality.label
            ),
        );
    }
    quality
}

fn quality_verdict(evidence: &Evidence<'_>, config: &VerdictConfig) -> Verdict {
    if let Some((n, difference)) = evidence.judge
        && n > 0
    {
        return judge_verdict(n, difference, config);
    }
    match (evidence.similarity, config.similarity_margin) {
        (Some(similarity), Some(margin)) => similarity_verdict(similarity, margin, config),
        (None, Some(_)) => Verdict::new(
            Decision::Inconclusive,
            Basis::Nothing,
            "no pair was judged and none has the similarity metric".to_owned(),
        ),
        (_, None) => Verdict::new(
            Decision::Inconclusive,
            Basis::Nothing,
            "no pair was judged; run a judge, or set a similarity margin for tasks with one right answer"
                .to_owned(),
        ),
    }
}

fn judge_verdict(n: u64, difference: &Estimate, config: &VerdictConfig) -> Verdict {
    let (lower, upper) = (difference.ci95.lower, difference.ci95.upper);
    let numbers = format!(
        "(wins − losses)/n = {:.3}, 95% CI {:.3} to {:.3}, n = {n}, margin {:.3}",
        difference.estimate, lower, upper, config.win_margin
    );
    let decision = if n < config.min_n {
        Decision::InconclusiveNTooSmall
    } else if lower > 0.0 {
        Decision::Better
    } else if lower > -config.win_margin {
        Decision::NotWorse
    } else if upper < 0.0 {
        Decision::Worse
    } else {
        Decision::Inconclusive
    };
    let reason = match decision {
        Decision::InconclusiveNTooSmall => format!(
            "{numbers}; at least {} judged pairs are needed",
            config.min_n
        ),
        Decision::Better => format!("{numbers}; the lower bound is above 0"),
        Decision::NotWorse => format!("{numbers}; the lower bound is above −margin"),
        Decision::Worse => format!("{numbers}; the upper bound is below 0"),
        Decision::Inconclusive => format!("{numbers}; the interval spans both −margin and 0"),
    };
    Verdict::new(decision, Basis::Judge, reason)
}

fn similarity_verdict(similarity: &Summary, margin: f64, config: &VerdictConfig) -> Verdict {
    let threshold = 1.0 - margin;
    let (lower, upper) = (similarity.mean_ci95.lower, similarity.mean_ci95.upper);
    let numbers = format!(
        "mean similarity {:.3}, 95% CI {:.3} to {:.3}, n = {}, threshold {:.3}",
        similarity.mean, lower, upper, similarity.n, threshold
    );
    let decision = if (similarity.n as u64) < config.min_n {
        Decision::InconclusiveNTooSmall
    } else if lower >= threshold {
        Decision::NotWorse
    } else if upper < threshold {
        Decision::Worse
    } else {
        Decision::Inconclusive
    };
    let reason = match decision {
        Decision::InconclusiveNTooSmall => {
            format!("{numbers}; at least {} pairs are needed", config.min_n)
        }
        Decision::NotWorse => format!("{numbers}; the lower bound reaches the threshold"),
        Decision::Worse => format!("{numbers}; the upper bound is below the threshold"),
        _ => format!("{numbers}; the interval spans the threshold"),
    };
    Verdict::new(decision, Basis::Similarity, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::summary::stats::{
        BootstrapConfig, Interval, Z_95, summarize, tango_interval,
    };

    fn win_loss(wins: u64, losses: u64, n: u64) -> Estimate {
        Estimate {
            estimate: (wins as f64 - losses as f64) / n as f64,
            ci95: tango_interval(wins, losses, n, Z_95).expect("defined"),
        }
    }

    fn judged(wins: u64, losses: u64, n: u64) -> Decision {
        let difference = win_loss(wins, losses, n);
        let evidence = Evidence {
            judge: Some((n, &difference)),
            ..Evidence::default()
        };
        decide(&evidence, &VerdictConfig::default()).decision
    }

    #[test]
    fn too_few_judged_pairs_is_inconclusive_whatever_the_result() {
        assert_eq!(judged(29, 0, 29), Decision::InconclusiveNTooSmall);
        assert_eq!(judged(0, 29, 29), Decision::InconclusiveNTooSmall);
    }

    #[test]
    fn clear_win_is_better() {
        assert_eq!(judged(60, 10, 100), Decision::Better);
    }

    #[test]
    fn clear_loss_is_worse() {
        assert_eq!(judged(10, 60, 100), Decision::Worse);
    }

    #[test]
    fn mostly_ties_with_enough_pairs_is_not_worse() {
        // 1000 pairs, 20 wins, 20 losses: d = 0, Tango CI about ±0.0125,
        // lower bound −0.0125 > −0.05.
        assert_eq!(judged(20, 20, 1000), Decision::NotWorse);
    }

    #[test]
    fn a_small_even_sample_is_inconclusive() {
        // 40 pairs, 10 wins, 10 losses: CI about ±0.2 spans −0.05 and 0.
        assert_eq!(judged(10, 10, 40), Decision::Inconclusive);
    }

    #[test]
    fn the_margin_edge_is_decided_by_the_lower_bound() {
        let at = |lower: f64| {
            let difference = Estimate {
                estimate: 0.0,
                ci95: Interval { lower, upper: 0.03 },
            };
            let evidence = Evidence {
                judge: Some((100, &difference)),
                ..Evidence::default()
            };
            decide(&evidence, &VerdictConfig::default()).decision
        };
        assert_eq!(at(-0.049), Decision::NotWorse);
        // Exactly at −margin non-inferiority is not shown (strict >).
        assert_eq!(at(-0.05), Decision::Inconclusive);
    }

    #[test]
    fn similarity_decides_only_when_configured() {
        let high = summarize(&[0.99; 40], &BootstrapConfig::default()).expect("summary");
        let evidence = Evidence {
            similarity: Some(&high),
            ..Evidence::default()
        };
        let unset = decide(&evidence, &VerdictConfig::default());
        assert_eq!(
            (unset.decision, unset.basis),
            (Decision::Inconclusive, Basis::Nothing)
        );
        let config = VerdictConfig {
            similarity_margin: Some(0.05),
            ..VerdictConfig::default()
        };
        assert_eq!(decide(&evidence, &config).decision, Decision::NotWorse);
        let low = summarize(&[0.5; 40], &BootstrapConfig::default()).expect("summary");
        let evidence = Evidence {
            similarity: Some(&low),
            ..Evidence::default()
        };
        assert_eq!(decide(&evidence, &config).decision, Decision::Worse);
        let few = summarize(&[1.0; 5], &BootstrapConfig::default()).expect("summary");
        let evidence = Evidence {
            similarity: Some(&few),
            ..Evidence::default()
        };
        assert_eq!(
            decide(&evidence, &config).decision,
            Decision::InconclusiveNTooSmall
        );
    }

    #[test]
    fn significantly_more_errors_demotes_to_worse() {
        let difference = win_loss(60, 10, 100);
        // candidate failed on 15 more of 100 calls than the original
        let errors = win_loss(15, 0, 100);
        let evidence = Evidence {
            judge: Some((100, &difference)),
            error_difference: Some(&errors),
            ..Evidence::default()
        };
        let verdict = decide(&evidence, &VerdictConfig::default());
        assert_eq!(
            (verdict.decision, verdict.basis),
            (Decision::Worse, Basis::Errors)
        );
        assert!(
            verdict.reason.contains("quality alone: better"),
            "{}",
            verdict.reason
        );
        // one extra error in 100 does not
        let errors = win_loss(1, 0, 100);
        let evidence = Evidence {
            error_difference: Some(&errors),
            ..evidence
        };
        assert_eq!(
            decide(&evidence, &VerdictConfig::default()).decision,
            Decision::Better
        );
    }

    #[test]
    fn decisions_serialize_with_their_label() {
        assert_eq!(Decision::NotWorse.to_string(), "not worse at 95%");
        assert_eq!(
            serde_json::to_value(Decision::InconclusiveNTooSmall).expect("json"),
            "inconclusive_n_too_small"
        );
    }
}
