//! Text similarity between an original answer and a candidate: exact and
//! normalized match, SQuAD-style token F1, ROUGE-L, chrF, and embedding
//! cosine.
//!
//! Token F1 and ROUGE-L work on the normalized tokens of [`super::text`].
//! chrF works on the raw text, as sacreBLEU does, so its values can be
//! checked against sacreBLEU's: character n-grams up to order 6, whitespace
//! removed, β = 2, and sacreBLEU 2.x's default "effective order" averaging
//! (precision and recall are averaged over the orders that both strings are
//! long enough to have, then combined into one F-score). No crate was used:
//! the one chrF crate on crates.io averages per-order F-scores instead (the
//! pre-2.0 formula) and has a single maintainer; the algorithm is forty lines.
//!
//! Every similarity is symmetric except chrF (β weights recall of the
//! original) and lies in [0, 1], except cosine which lies in [−1, 1]. Two
//! empty texts are identical and score 1; sacreBLEU would give chrF 0 there,
//! which would report two empty answers as completely different.

use std::collections::HashMap;

use super::text::normalized_tokens;

/// ROUGE-L needs a table of `tokens × tokens` cells; past this many the pair
/// is not scored rather than tying up a core for seconds on one item.
pub const MAX_LCS_CELLS: usize = 25_000_000;

/// chrF's default maximum character n-gram order (sacreBLEU `char_order`).
pub const CHRF_ORDER: usize = 6;

/// chrF's default β: recall weighs β² = 4 times as much as precision.
pub const CHRF_BETA: f64 = 2.0;

/// Byte-for-byte equality.
pub fn exact_match(original: &str, candidate: &str) -> bool {
    original == candidate
}

/// Equality after normalization (NFKC, lower case, whitespace collapsed,
/// punctuation around words stripped).
pub fn normalized_match(original: &str, candidate: &str) -> bool {
    normalized_tokens(original) == normalized_tokens(candidate)
}

/// SQuAD-style token F1: the harmonic mean of precision and recall of the
/// multiset of normalized tokens. Two texts with no tokens score 1, one
/// with none scores 0 (as the SQuAD v2 script does).
pub fn token_f1(original: &str, candidate: &str) -> f64 {
    let original_tokens = normalized_tokens(original);
    let candidate_tokens = normalized_tokens(candidate);
    if original_tokens.is_empty() || candidate_tokens.is_empty() {
        return bool_score(original_tokens.is_empty() && candidate_tokens.is_empty());
    }
    let mut remaining: HashMap<&str, usize> = HashMap::new();
    for token in &original_tokens {
        *remaining.entry(token.as_str()).or_insert(0) += 1;
    }
    let mut common = 0usize;
    for token in &candidate_tokens {
        if let Some(count) = remaining.get_mut(token.as_str())
            && *count > 0
        {
            *count -= 1;
            common += 1;
        }
    }
    f1(common, candidate_tokens.len(), original_tokens.len())
}

/// ROUGE-L F-measure (β = 1): the longest common subsequence of normalized
/// tokens, as precision over the candidate and recall over the original.
/// `None` when the pair is too long to score (see [`MAX_LCS_CELLS`]).
pub fn rouge_l(original: &str, candidate: &str) -> Option<f64> {
    let original_tokens = normalized_tokens(original);
    let candidate_tokens = normalized_tokens(candidate);
    if original_tokens.is_empty() || candidate_tokens.is_empty() {
        return Some(bool_score(
            original_tokens.is_empty() && candidate_tokens.is_empty(),
        ));
    }
    let cells = original_tokens.len().saturating_mul(candidate_tokens.len());
    if cells > MAX_LCS_CELLS {
        return None;
    }
    let lcs = lcs_length(&original_tokens, &candidate_tokens);
    Some(f1(lcs, candidate_tokens.len(), original_tokens.len()))
}

/// Length of the longest common subsequence, in O(len(b)) memory.
fn lcs_length(a: &[String], b: &[String]) -> usize {
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for token_a in a {
        for (j, token_b) in b.iter().enumerate() {
            current[j + 1] = if token_a == token_b {
                previous[j] + 1
            } else {
                current[j].max(previous[j + 1])
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// chrF with sacreBLEU's defaults (order 6, β = 2, whitespace removed), on
/// a 0–1 scale (sacreBLEU prints 0–100). The original is the reference.
pub fn chrf(original: &str, candidate: &str) -> f64 {
    chrf_with(original, candidate, CHRF_ORDER, CHRF_BETA)
}

/// chrF with an explicit maximum n-gram order and β.
pub fn chrf_with(original: &str, candidate: &str, max_order: usize, beta: f64) -> f64 {
    let reference: Vec<char> = original.chars().filter(|c| !c.is_whitespace()).collect();
    let hypothesis: Vec<char> = candidate.chars().filter(|c| !c.is_whitespace()).collect();
    if reference.is_empty() && hypothesis.is_empty() {
        return 1.0;
    }
    let mut precision_sum = 0.0;
    let mut recall_sum = 0.0;
    let mut effective_order = 0usize;
    for order in 1..=max_order {
        let stats = ngram_match_stats(&hypothesis, &reference, order);
        // An order that one side is too short to have says nothing about
        // the match; sacreBLEU 2.x leaves it out of the average.
        if stats.hypothesis_count == 0 || stats.reference_count == 0 {
            continue;
        }
        precision_sum += stats.matches as f64 / stats.hypothesis_count as f64;
        recall_sum += stats.matches as f64 / stats.reference_count as f64;
        effective_order += 1;
    }
    if effective_order == 0 {
        return 0.0;
    }
    let precision = precision_sum / effective_order as f64;
    let recall = recall_sum / effective_order as f64;
    if precision + recall == 0.0 {
        return 0.0;
    }
    let beta_squared = beta * beta;
    (1.0 + beta_squared) * precision * recall / (beta_squared * precision + recall)
}

struct NgramStats {
    hypothesis_count: usize,
    reference_count: usize,
    matches: usize,
}

fn ngram_match_stats(hypothesis: &[char], reference: &[char], order: usize) -> NgramStats {
    let hypothesis_counts = count_ngrams(hypothesis, order);
    let reference_counts = count_ngrams(reference, order);
    let mut matches = 0;
    for (ngram, count) in &hypothesis_counts {
        if let Some(reference_count) = reference_counts.get(ngram) {
            matches += (*count).min(*reference_count);
        }
    }
    NgramStats {
        hypothesis_count: hypothesis.len().saturating_sub(order - 1),
        reference_count: reference.len().saturating_sub(order - 1),
        matches,
    }
}

fn count_ngrams(chars: &[char], order: usize) -> HashMap<&[char], usize> {
    let mut counts = HashMap::new();
    if order == 0 {
        return counts;
    }
    for window in chars.windows(order) {
        *counts.entry(window).or_insert(0) += 1;
    }
    counts
}

/// Cosine similarity of two embedding vectors, in [−1, 1]. `None` when the
/// vectors differ in length, are empty, contain a non-finite number, or one
/// has zero length (its direction is undefined).
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let mut dot = 0.0f64;
    let mut norm_a = 0.0f64;
    let mut norm_b = 0.0f64;
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        norm_a += x * x;
        norm_b += y * y;
    }
    if !(dot.is_finite() && norm_a.is_finite() && norm_b.is_finite()) {
        return None;
    }
    if norm_a == 0.0 || norm_b == 0.0 {
        return None;
    }
    // Rounding can push identical vectors a hair past 1.
    Some((dot / (norm_a.sqrt() * norm_b.sqrt())).clamp(-1.0, 1.0))
}

/// F1 from a match count and the two totals (both non-zero).
fn f1(matches: usize, candidate_total: usize, original_total: usize) -> f64 {
    if matches == 0 {
        return 0.0;
    }
    let precision = matches as f64 / candidate_total as f64;
    let recall = matches as f64 / original_total as f64;
    2.0 * precision * recall / (precision + recall)
}

fn bool_score(equal: bool) -> f64 {
    if equal { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-9
    }

    #[test]
    fn exact_and_normalized_match() {
        assert!(exact_match("Paris", "Paris"));
        assert!(!exact_match("Paris", "Paris."));
        assert!(normalized_match("Paris", "  paris. "));
        assert!(!normalized_match("Paris", "Lyon"));
    }

    #[test]
    fn token_f1_counts_each_token_once() {
        // original: the cat sat on the mat (6 tokens)
        // candidate: the cat the the (4 tokens)
        // common multiset: the×2 (original has two), cat×1 → 3
        // P = 3/4, R = 3/6 = 1/2, F1 = 2·(3/4)(1/2)/(3/4 + 1/2) = 0.75/1.25 = 0.6
        assert!(close(
            token_f1("The cat sat on the mat.", "the cat the the"),
            0.6
        ));
    }

    #[test]
    fn token_f1_edges() {
        assert!(close(token_f1("", "  "), 1.0));
        assert!(close(token_f1("", "text"), 0.0));
        assert!(close(token_f1("alpha beta", "gamma delta"), 0.0));
    }

    #[test]
    fn rouge_l_matches_the_rouge_score_package() {
        // LCS("the cat is on the mat", "the cat sat on the mat") = the cat on
        // the mat = 5 of 6 tokens each side: P = R = F = 5/6. Google's
        // rouge-score 0.1.2 gives fmeasure 0.8333333333333334.
        let score = rouge_l("The cat is on the mat", "the cat sat on the mat");
        assert!(close(score.expect("scored"), 5.0 / 6.0));
        // Lin (2004) section 3.1 example: S1 = "police killed the gunman",
        // S2 = "police kill the gunman", LCS = 3 of 4: F = 0.75.
        let score = rouge_l("police killed the gunman", "police kill the gunman");
        assert!(close(score.expect("scored"), 0.75));
    }

    #[test]
    fn rouge_l_respects_order_where_f1_does_not() {
        // Same bag of words, reversed: token F1 = 1, LCS = 1 of 3 → 1/3.
        assert!(close(token_f1("a b c", "c b a"), 1.0));
        assert!(close(rouge_l("a b c", "c b a").expect("scored"), 1.0 / 3.0));
    }

    #[test]
    fn rouge_l_declines_pairs_too_long_to_score() {
        let long = "word ".repeat(6_000);
        assert_eq!(rouge_l(&long, &long), None);
    }

    // Reference values from sacreBLEU's own tests (test/test_chrf.py,
    // effective-order cases with β = 3, which sacreBLEU 2.x uses by
    // default) and from sacreBLEU 2.6.0 `CHRF().sentence_score` (β = 2).
    #[test]
    fn chrf_matches_sacrebleu_effective_order_cases() {
        assert!(close(chrf_with("a", "a", 6, 3.0), 1.0));
        assert!(close(chrf_with("reference", "", 6, 3.0), 0.0));
        assert!(close(chrf_with("abc", "a b c", 6, 3.0), 1.0));
        // "aa" vs "ab": order 1 P = R = 1/2, order 2 P = R = 0, orders 3+
        // absent: mean P = mean R = 1/4, so F = 1/4 for any β.
        assert!(close(chrf_with("ab", "aa", 6, 3.0), 0.25));
        assert!(close(chrf("ab", "aa"), 0.25));
    }

    #[test]
    fn chrf_matches_sacrebleu_sentences() {
        let score = chrf("The cat is on the mat.", "The cat sat on the mat.");
        assert!((score - 0.6717273492330233).abs() < 1e-12);
        let score = chrf(
            "Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.",
            "Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
        );
        assert!((score - 0.571_574_275_128_240_6).abs() < 1e-12);
        // Characters beyond ASCII, code with newlines and indentation, and a
        // short hypothesis that only some orders exist for.
        let cases = [
            (
                "日本の首都は東京です。",
                "東京は日本の首都です。",
                0.422_883_597_883_597_86,
            ),
            (
                "def add(x, y):\n    return x + y",
                "def add(a, b):\n    return a + b",
                0.543_789_313_971_202_6,
            ),
            ("No, it is not.", "Yes", 0.035_460_992_907_801_42),
        ];
        for (reference, hypothesis, expected) in cases {
            let score = chrf(reference, hypothesis);
            assert!((score - expected).abs() < 1e-12, "{hypothesis}: {score}");
        }
    }

    #[test]
    fn chrf_of_empty_texts() {
        assert!(close(chrf("", ""), 1.0));
        assert!(close(chrf("b", ""), 0.0));
    }

    #[test]
    fn cosine_similarity_cases() {
        assert!(close(
            cosine_similarity(&[1.0, 0.0], &[0.0, 2.0]).expect("defined"),
            0.0
        ));
        assert!(close(
            cosine_similarity(&[1.0, 1.0], &[-2.0, -2.0]).expect("defined"),
            -1.0
        ));
        // (1,2,3)·(4,5,6) = 32; |a| = √14, |b| = √77; 32/√1078 ≈ 0.9746318
        let value = cosine_similarity(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).expect("defined");
        assert!((value - 32.0 / 1078f64.sqrt()).abs() < 1e-12);
        assert_eq!(cosine_similarity(&[1.0], &[1.0, 2.0]), None);
        assert_eq!(cosine_similarity(&[0.0, 0.0], &[1.0, 2.0]), None);
        assert_eq!(cosine_similarity(&[], &[]), None);
        assert_eq!(cosine_similarity(&[f32::NAN], &[1.0]), None);
    }

    proptest! {
        #[test]
        fn token_f1_is_symmetric_and_bounded(a in "[a-c ,.]{0,30}", b in "[a-c ,.]{0,30}") {
            let ab = token_f1(&a, &b);
            prop_assert!((0.0..=1.0).contains(&ab));
            prop_assert!((ab - token_f1(&b, &a)).abs() < 1e-12);
        }

        #[test]
        fn identical_texts_score_one(text in "\\PC{0,60}") {
            prop_assert!(exact_match(&text, &text));
            prop_assert!(normalized_match(&text, &text));
            prop_assert!((token_f1(&text, &text) - 1.0).abs() < 1e-12);
            prop_assert!((rouge_l(&text, &text).unwrap_or(0.0) - 1.0).abs() < 1e-12);
            prop_assert!((chrf(&text, &text) - 1.0).abs() < 1e-12);
        }

        #[test]
        fn rouge_l_and_chrf_are_bounded(a in "[a-d ]{0,40}", b in "[a-d ]{0,40}") {
            let r = rouge_l(&a, &b).unwrap_or(0.0);
            prop_assert!((0.0..=1.0).contains(&r));
            prop_assert!((r - rouge_l(&b, &a).unwrap_or(0.0)).abs() < 1e-12);
            let c = chrf(&a, &b);
            prop_assert!((0.0..=1.0 + 1e-12).contains(&c));
        }
    }
}
