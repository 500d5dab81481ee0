//! Quantiles of a sample by linear interpolation between closest ranks
//! (Hyndman & Fan 1996 type 7; R's `quantile` default and numpy's
//! `linear`): for sorted x₀…xₙ₋₁ and p in [0, 1], h = (n − 1)·p and the
//! result is x⌊h⌋ + (h − ⌊h⌋)·(x⌊h⌋₊₁ − x⌊h⌋). Replay summaries and the
//! comparison statistics ([`crate::compare::summary::stats`]) both use them, so a
//! p95 means the same everywhere. Non-finite values are dropped first.

/// The p-quantile (p in [0, 1]) of sorted finite values by linear
/// interpolation (see the module docs); `None` when empty or p is outside
/// [0, 1].
pub fn percentile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let below = h.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    Some(sorted[below] + (h - below as f64) * (sorted[above] - sorted[below]))
}

/// The p-quantile of any finite values, in any order.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let sorted = sorted_finite(values);
    percentile_sorted(&sorted, p)
}

/// The finite values, sorted ascending.
pub fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} vs {expected}"
        );
    }

    #[test]
    fn percentiles_interpolate_linearly() {
        // numpy.percentile (method="linear") gives these.
        assert_eq!(percentile(&[4.0, 1.0, 3.0, 2.0], 0.5), Some(2.5));
        let one_to_ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_close(percentile(&one_to_ten, 0.95).expect("defined"), 9.55, 1e-12);
        let values = [15.0, 20.0, 35.0, 40.0, 50.0];
        // h = 4·0.05 = 0.2 → 15 + 0.2·5 = 16; h = 4·0.3 = 1.2 → 20 + 0.2·15 = 23
        assert_close(percentile(&values, 0.05).expect("defined"), 16.0, 1e-12);
        assert_close(percentile(&values, 0.30).expect("defined"), 23.0, 1e-12);
        assert_close(percentile(&values, 0.40).expect("defined"), 29.0, 1e-12);
        assert_close(percentile(&values, 0.95).expect("defined"), 48.0, 1e-12);
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[1.0], 1.5), None);
        assert_eq!(percentile(&[f64::NAN, 2.0], 0.5), Some(2.0));
    }
}
