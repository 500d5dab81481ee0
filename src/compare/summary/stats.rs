//! Statistics for paired comparisons: every original call and its replay
//! form one pair, and every quantity here is computed from the per-pair
//! values or differences, never by comparing two separately computed means.
//! Pairing removes the variation between prompts (a long prompt is slow for
//! both models), which is most of the variation.
//!
//! The methods, each chosen because it behaves well at the small N a replay
//! often has:
//!
//! - **Proportions** (win, tie, loss, error and refusal rates) get the
//!   Wilson score interval (Wilson 1927; Newcombe 1998, method 3), which
//!   stays inside [0, 1] and keeps near-nominal coverage at 0 and n, where
//!   the Wald interval collapses.
//! - **Paired differences of proportions** — the judge's win rate minus its
//!   loss rate, (W − L)/n, and the candidate's error rate minus the
//!   original's — get Tango's asymptotic score interval (Tango 1998), the
//!   interval Fagerland, Lydersen & Laake (2014) recommend for paired
//!   proportions. It needs only the two discordant counts and n, which is
//!   exactly what win/tie/loss counts are: a win is "candidate better only",
//!   a loss "original better only", a tie concordant.
//! - **Means and medians** of a per-pair value (a similarity, a latency
//!   difference) get a percentile bootstrap interval: `resamples` resamples
//!   of the pairs with replacement, the 2.5th and 97.5th percentiles of the
//!   resampled statistic. The generator is xoshiro256++ (`rand`'s
//!   `Xoshiro256PlusPlus`, a fixed, documented algorithm rather than
//!   `StdRng`, whose algorithm may change between `rand` releases) seeded
//!   with [`DEFAULT_BOOTSTRAP_SEED`] unless the caller gives another seed, so
//!   the same values in the same order give the same interval on every run.
//! - **Percentiles** use linear interpolation between closest ranks
//!   (Hyndman & Fan 1996 type 7; R's `quantile` default and numpy's
//!   `linear`): for sorted x₀…xₙ₋₁ and p in [0, 1], h = (n − 1)·p and the
//!   result is x⌊h⌋ + (h − ⌊h⌋)·(x⌊h⌋₊₁ − x⌊h⌋).
//!
//! Non-finite values (NaN, ±∞) are dropped before any statistic, and
//! counted, so one corrupt record cannot poison a summary.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

pub use crate::quantile::{percentile, percentile_sorted, sorted_finite};

/// The standard normal quantile for a two-sided 95% interval, Φ⁻¹(0.975).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The bootstrap seed used unless the caller picks one: the bytes of
/// "reprise" read as a big-endian integer.
pub const DEFAULT_BOOTSTRAP_SEED: u64 = 0x0072_6570_7269_7365;

/// Default number of bootstrap resamples. 2,000 puts the Monte Carlo error
/// of a 95% percentile bound well below the interval's own width.
pub const DEFAULT_RESAMPLES: usize = 2_000;

/// A two-sided confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }

    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }
}

/// A count out of n, its rate and the rate's 95% Wilson interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    pub count: u64,
    pub n: u64,
    pub rate: f64,
    pub ci95: Interval,
}

impl Proportion {
    /// `None` when n is 0 (no rate to speak of) or count exceeds n.
    pub fn new(count: u64, n: u64) -> Option<Self> {
        let ci95 = wilson_interval(count, n, Z_95)?;
        Some(Self {
            count,
            n,
            rate: count as f64 / n as f64,
            ci95,
        })
    }
}

/// An estimate with its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub estimate: f64,
    pub ci95: Interval,
}

/// The Wilson score interval for `successes` out of `n`; `None` when n is 0
/// or successes exceed n.
pub fn wilson_interval(successes: u64, n: u64, z: f64) -> Option<Interval> {
    if n == 0 || successes > n {
        return None;
    }
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denominator;
    let half_width = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denominator;
    // At 0 and n the bounds are exactly 0 and 1; rounding must not move them.
    let lower = if successes == 0 {
        0.0
    } else {
        (centre - half_width).max(0.0)
    };
    let upper = if successes == n {
        1.0
    } else {
        (centre + half_width).min(1.0)
    };
    Some(Interval { lower, upper })
}

/// Tango's score interval for the paired difference (b − c)/n, where b and
/// c are the discordant counts (here: wins and losses, or candidate-only
/// and original-only errors) among n pairs. `None` when n is 0 or b + c
/// exceeds n.
pub fn tango_interval(b: u64, c: u64, n: u64, z: f64) -> Option<Interval> {
    if n == 0 || b.checked_add(c)? > n {
        return None;
    }
    let estimate = (b as f64 - c as f64) / n as f64;
    // The score statistic decreases in δ, so the lower bound is where it
    // falls to z and the upper where it falls to −z.
    let lower = if tango_statistic(b, c, n, -1.0) <= z {
        -1.0
    } else {
        bisect(-1.0, estimate, |delta| tango_statistic(b, c, n, delta) - z)
    };
    let upper = if tango_statistic(b, c, n, 1.0) >= -z {
        1.0
    } else {
        bisect(estimate, 1.0, |delta| tango_statistic(b, c, n, delta) + z)
    };
    Some(Interval { lower, upper })
}

/// Tango's (1998) score statistic for H₀: p_b − p_c = δ:
/// Z(δ) = (b − c − nδ) / √(n(2q̂ + δ(1 − δ))), with q̂ the restricted maximum
/// likelihood estimate of p_c, the root of 2n·q² + B·q − c·δ(1 − δ) = 0,
/// B = −b − c + (2n − b + c)δ.
fn tango_statistic(b: u64, c: u64, n: u64, delta: f64) -> f64 {
    let (b, c, n) = (b as f64, c as f64, n as f64);
    let linear = -b - c + (2.0 * n - b + c) * delta;
    let discriminant = (linear * linear + 8.0 * n * c * delta * (1.0 - delta)).max(0.0);
    let q = (discriminant.sqrt() - linear) / (4.0 * n);
    let numerator = b - c - n * delta;
    let variance = n * (2.0 * q + delta * (1.0 - delta));
    if variance <= 0.0 {
        // Only at δ = ±1 with the data exactly there: no evidence against.
        if numerator == 0.0 {
            return 0.0;
        }
        return numerator.signum() * f64::INFINITY;
    }
    numerator / variance.sqrt()
}

/// A root of a decreasing `f` on [low, high] with f(low) ≥ 0 ≥ f(high),
/// to well below the precision anyone reports.
fn bisect(mut low: f64, mut high: f64, f: impl Fn(f64) -> f64) -> f64 {
    for _ in 0..100 {
        let middle = 0.5 * (low + high);
        if f(middle) > 0.0 {
            low = middle;
        } else {
            high = middle;
        }
        if high - low < 1e-12 {
            break;
        }
    }
    0.5 * (low + high)
}

/// The statistic a bootstrap interval is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    Mean,
    Median,
}

/// How to bootstrap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BootstrapConfig {
    pub resamples: usize,
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            resamples: DEFAULT_RESAMPLES,
            seed: DEFAULT_BOOTSTRAP_SEED,
        }
    }
}

/// The 95% percentile bootstrap interval of `statistic` over `values`
/// (non-finite values dropped); `None` when no finite value is left or
/// `resamples` is 0.
pub fn bootstrap_interval(
    values: &[f64],
    statistic: Statistic,
    config: &BootstrapConfig,
) -> Option<Interval> {
    let sorted = sorted_finite(values);
    if sorted.is_empty() || config.resamples == 0 {
        return None;
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
    // A resample is kept as how many times each sorted value was drawn:
    // the mean and the median then need no copy and no sort.
    let mut draws = vec![0u32; sorted.len()];
    let mut statistics = Vec::with_capacity(config.resamples);
    for _ in 0..config.resamples {
        draws.fill(0);
        for _ in 0..sorted.len() {
            draws[rng.random_range(0..sorted.len())] += 1;
        }
        statistics.push(match statistic {
            Statistic::Mean => weighted_mean(&sorted, &draws),
            Statistic::Median => weighted_median(&sorted, &draws),
        });
    }
    statistics.sort_by(f64::total_cmp);
    Some(Interval {
        lower: percentile_sorted(&statistics, 0.025)?,
        upper: percentile_sorted(&statistics, 0.975)?,
    })
}

fn mean(values: &[f64]) -> f64 {
    let mut sum = 0.0;
    for value in values {
        sum += value;
    }
    sum / values.len() as f64
}

/// The mean of a resample given as draw counts per sorted value.
fn weighted_mean(sorted: &[f64], draws: &[u32]) -> f64 {
    let mut sum = 0.0;
    for (value, count) in sorted.iter().zip(draws) {
        sum += value * f64::from(*count);
    }
    sum / sorted.len() as f64
}

/// The type-7 median of a resample given as draw counts per sorted value:
/// the mean of the values at 0-based ranks ⌊(n−1)/2⌋ and ⌊n/2⌋.
fn weighted_median(sorted: &[f64], draws: &[u32]) -> f64 {
    let n = sorted.len();
    let lower_rank = (n - 1) / 2;
    let upper_rank = n / 2;
    let mut lower = None;
    let mut seen = 0usize;
    for (value, count) in sorted.iter().zip(draws) {
        seen += *count as usize;
        if lower.is_none() && seen > lower_rank {
            lower = Some(*value);
        }
        if seen > upper_rank {
            return 0.5 * (lower.unwrap_or(*value) + *value);
        }
    }
    // Unreachable: the counts sum to n, so rank n/2 < n is always passed.
    sorted[n - 1]
}

/// Location and spread of one per-pair quantity. `median_ci95` is only
/// computed where a median is the headline (differences), because it is the
/// costly interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Finite values used.
    pub n: usize,
    /// Non-finite values dropped.
    pub dropped: usize,
    pub mean: f64,
    pub mean_ci95: Interval,
    pub median: f64,
    pub median_ci95: Option<Interval>,
    pub p05: f64,
    pub p95: f64,
    pub min: f64,
    pub max: f64,
}

/// Summarizes values with bootstrap intervals for both the mean and the
/// median; `None` when no finite value is given.
pub fn summarize(values: &[f64], config: &BootstrapConfig) -> Option<Summary> {
    let mut summary = describe(values, config)?;
    summary.median_ci95 = Some(bootstrap_interval(values, Statistic::Median, config)?);
    Some(summary)
}

/// Summarizes values with a bootstrap interval for the mean only.
pub fn describe(values: &[f64], config: &BootstrapConfig) -> Option<Summary> {
    let sorted = sorted_finite(values);
    let first = *sorted.first()?;
    let last = *sorted.last()?;
    Some(Summary {
        n: sorted.len(),
        dropped: values.len() - sorted.len(),
        mean: mean(&sorted),
        mean_ci95: bootstrap_interval(&sorted, Statistic::Mean, config)?,
        median: percentile_sorted(&sorted, 0.5)?,
        median_ci95: None,
        p05: percentile_sorted(&sorted, 0.05)?,
        p95: percentile_sorted(&sorted, 0.95)?,
        min: first,
        max: last,
    })
}

/// A quantity measured on both sides of each pair: each side's summary
/// (over the pairs where both sides have a value, so the two are over the
/// same prompts) and the summary of the per-pair candidate − original
/// differences, whose median and its interval answer "how much slower or
/// faster", and whose mean and its interval "how much more per call".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedSummary {
    /// Pairs with a finite value on both sides.
    pub n: usize,
    pub original: Summary,
    pub candidate: Summary,
    pub difference: Summary,
}

/// Summarizes `(original, candidate)` values, skipping pairs where either
/// is missing or not finite; `None` when no pair is left.
pub fn summarize_paired(
    pairs: &[(Option<f64>, Option<f64>)],
    config: &BootstrapConfig,
) -> Option<PairedSummary> {
    let mut originals = Vec::new();
    let mut candidates = Vec::new();
    let mut differences = Vec::new();
    for pair in pairs {
        let (Some(original), Some(candidate)) = *pair else {
            continue;
        };
        if !(original.is_finite() && candidate.is_finite()) {
            continue;
        }
        originals.push(original);
        candidates.push(candidate);
        differences.push(candidate - original);
    }
    Some(PairedSummary {
        n: differences.len(),
        original: describe(&originals, config)?,
        candidate: describe(&candidates, config)?,
        difference: summarize(&differences, config)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} is not within {tolerance} of {expected}"
        );
    }

    // Newcombe, R. G. (1998). Two-sided confidence intervals for the single
    // proportion: comparison of seven methods. Statistics in Medicine 17,
    // 857–872: the worked examples 81/263, 15/148, 0/20 and 1/29 with the
    // score method without continuity correction, printed there to 4
    // decimals: (0.2553, 0.3662), (0.0624, 0.1605), (0, 0.1611),
    // (0.0061, 0.1718). 5/10 and 10/10 are R's
    // `prop.test(x, n, correct = FALSE)$conf.int`. The full-precision values
    // asserted to 1e-9 are statsmodels 0.15
    // `proportion_confint(x, n, method="wilson")`, which agree with the
    // printed ones.
    #[test]
    fn wilson_matches_reference_table() {
        let printed = [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ];
        for (x, n, lower, upper) in printed {
            let interval = wilson_interval(x, n, Z_95).expect("defined");
            assert_close(interval.lower, lower, 5e-5);
            assert_close(interval.upper, upper, 5e-5);
        }
        let precise = [
            (81, 263, 0.2552885198782742, 0.36620957698280004),
            (15, 148, 0.06238639953073628, 0.16048724172330803),
            (0, 20, 0.0, 0.1611251580528194),
            (1, 29, 0.006113214292762667, 0.17175521879320294),
            (5, 10, 0.23659309051256394, 0.7634069094874361),
            (10, 10, 0.7224672001371106, 1.0),
        ];
        for (x, n, lower, upper) in precise {
            let interval = wilson_interval(x, n, Z_95).expect("defined");
            assert_close(interval.lower, lower, 1e-9);
            assert_close(interval.upper, upper, 1e-9);
        }
    }

    #[test]
    fn wilson_is_undefined_without_trials() {
        assert_eq!(wilson_interval(0, 0, Z_95), None);
        assert_eq!(wilson_interval(3, 2, Z_95), None);
        assert_eq!(Proportion::new(1, 0), None);
    }

    // Fagerland, Lydersen & Laake, Statistical Analysis of Contingency
    // Tables (2017), chapter 8, Cavo et al. (2012) data: n12 = 6, n21 = 16,
    // N = 161; Tango asymptotic score CI for π1+ − π+1 = −0.0621 is
    // (−0.1240, −0.0054), as asserted by the authors' R package
    // contingencytables (tests/testthat/test-ch8.R).
    #[test]
    fn tango_matches_the_published_example() {
        let interval = tango_interval(6, 16, 161, Z_95).expect("defined");
        assert_close(interval.lower, -0.1240, 5e-5);
        assert_close(interval.upper, -0.0054, 5e-5);
    }

    #[test]
    fn tango_bounds_solve_the_score_equation() {
        let interval = tango_interval(30, 10, 100, Z_95).expect("defined");
        assert_close(tango_statistic(30, 10, 100, interval.lower), Z_95, 1e-6);
        assert_close(tango_statistic(30, 10, 100, interval.upper), -Z_95, 1e-6);
        assert!(interval.contains(0.2));
    }

    #[test]
    fn tango_at_the_extremes() {
        // All wins: the upper bound is 1, the lower bound below the estimate.
        let all_wins = tango_interval(20, 0, 20, Z_95).expect("defined");
        assert_close(all_wins.upper, 1.0, 1e-9);
        assert!(all_wins.lower > 0.5 && all_wins.lower < 1.0);
        // All ties: symmetric around 0 and narrow but not empty.
        let all_ties = tango_interval(0, 0, 50, Z_95).expect("defined");
        assert_close(all_ties.lower, -all_ties.upper, 1e-9);
        assert!(all_ties.upper > 0.0 && all_ties.upper < 0.15);
        assert_eq!(tango_interval(0, 0, 0, Z_95), None);
        assert_eq!(tango_interval(3, 3, 5, Z_95), None);
    }

    #[test]
    fn weighted_median_and_mean_read_draw_counts() {
        let sorted = [1.0, 2.0, 4.0, 8.0];
        // resample {1, 1, 4, 8}: ranks 1 and 2 are 1 and 4 → median 2.5
        assert_eq!(weighted_median(&sorted, &[2, 0, 1, 1]), 2.5);
        assert_eq!(weighted_mean(&sorted, &[2, 0, 1, 1]), 3.5);
        // resample {2, 2, 2, 8}: median 2
        assert_eq!(weighted_median(&sorted, &[0, 3, 0, 1]), 2.0);
        let odd = [1.0, 2.0, 3.0];
        assert_eq!(weighted_median(&odd, &[0, 0, 3]), 3.0);
        assert_eq!(weighted_median(&odd, &[1, 1, 1]), 2.0);
    }

    fn sample(n: usize) -> Vec<f64> {
        // A deterministic, skewed sample: squares of a low-discrepancy walk.
        (0..n)
            .map(|i| ((i as f64 * 0.618_034) % 1.0).powi(2))
            .collect()
    }

    #[test]
    fn bootstrap_is_reproducible_with_a_seed() {
        let values = sample(200);
        let config = BootstrapConfig::default();
        let first = bootstrap_interval(&values, Statistic::Median, &config);
        let second = bootstrap_interval(&values, Statistic::Median, &config);
        assert_eq!(first, second);
        let other_seed = BootstrapConfig { seed: 7, ..config };
        assert_ne!(
            first,
            bootstrap_interval(&values, Statistic::Median, &other_seed)
        );
    }

    #[test]
    fn bootstrap_contains_the_estimate_and_narrows_with_n() {
        let config = BootstrapConfig::default();
        let small = sample(40);
        let large = sample(1_000);
        for statistic in [Statistic::Mean, Statistic::Median] {
            let small_ci = bootstrap_interval(&small, statistic, &config).expect("defined");
            let large_ci = bootstrap_interval(&large, statistic, &config).expect("defined");
            let estimate = |values: &[f64]| match statistic {
                Statistic::Mean => mean(values),
                Statistic::Median => percentile(values, 0.5).expect("non-empty"),
            };
            let (small_estimate, large_estimate) = (estimate(&small), estimate(&large));
            assert!(
                small_ci.contains(small_estimate),
                "{statistic:?} {small_ci:?}"
            );
            assert!(
                large_ci.contains(large_estimate),
                "{statistic:?} {large_ci:?}"
            );
            assert!(large_ci.width() < small_ci.width() / 2.0, "{statistic:?}");
        }
    }

    #[test]
    fn bootstrap_of_a_constant_is_that_constant() {
        let ci = bootstrap_interval(&[0.5; 30], Statistic::Mean, &BootstrapConfig::default())
            .expect("defined");
        assert_eq!(
            ci,
            Interval {
                lower: 0.5,
                upper: 0.5
            }
        );
        assert_eq!(
            bootstrap_interval(&[], Statistic::Mean, &BootstrapConfig::default()),
            None
        );
    }

    #[test]
    fn paired_summary_uses_only_complete_pairs() {
        let pairs = [
            (Some(100.0), Some(80.0)),
            (Some(200.0), Some(150.0)),
            (Some(300.0), None),
            (None, Some(10.0)),
            (Some(400.0), Some(f64::NAN)),
            (Some(500.0), Some(530.0)),
        ];
        let summary = summarize_paired(&pairs, &BootstrapConfig::default()).expect("defined");
        assert_eq!(summary.n, 3);
        // differences −20, −50, +30: median −20, mean −40/3
        assert_eq!(summary.difference.median, -20.0);
        assert_close(summary.difference.mean, -40.0 / 3.0, 1e-12);
        assert_eq!(summary.original.median, 200.0);
        assert_eq!(summary.candidate.median, 150.0);
        assert_eq!(
            summarize_paired(&[(None, Some(1.0))], &BootstrapConfig::default()),
            None
        );
    }
}
