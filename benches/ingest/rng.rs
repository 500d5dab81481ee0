//! The only source of variation in the workload: a seeded SplitMix64
//! generator and a few distributions on top of it.
//!
//! It is written out here rather than taken from `rand` because a
//! benchmark's workload must not change when a crate is upgraded: the same
//! `--seed` has to produce the same bytes next year, or results stop being
//! comparable. SplitMix64 (Steele, Lea and Flood, 2014) is tiny and more
//! than good enough for picking words and sizes.

pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// A generator for a sub-stream, so that adding draws in one part of
    /// the workload does not shift every value drawn after it elsewhere.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float in `[0, 1)` with 53 bits of precision.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A value in `0..bound` (0 when `bound` is 0). The modulo bias is
    /// irrelevant at the bounds used here.
    pub fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            return 0;
        }
        (self.next_u64() % bound as u64) as usize
    }

    /// A value in `low..=high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        if high <= low {
            return low;
        }
        low + self.below(high - low + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A value between `low` and `high` whose logarithm is uniform: most
    /// draws are small and a few are large, as message sizes are in real
    /// traffic.
    pub fn log_uniform(&mut self, low: usize, high: usize) -> usize {
        if high <= low || low == 0 {
            return low;
        }
        let (ln_low, ln_high) = ((low as f64).ln(), (high as f64).ln());
        let value = (ln_low + self.unit() * (ln_high - ln_low)).exp();
        (value.round() as usize).clamp(low, high)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index drawn with the given relative weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut target = self.next_u64() % total.max(1);
        for (index, &weight) in weights.iter().enumerate() {
            if target < u64::from(weight) {
                return index;
            }
            target -= u64::from(weight);
        }
        weights.len().saturating_sub(1)
    }

    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        out
    }
}

/// Ranks `0..n` drawn with Zipf–Mandelbrot probabilities, `p(r) ∝ 1 / (r +
/// q)^s`: the shape of word frequencies in natural language. The offset
/// `q` flattens the head so "the" is about as common as in English prose
/// (~5%) instead of the ~12% pure Zipf would give over a few thousand words.
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, exponent: f64, offset: f64) -> Zipf {
        let mut cumulative = Vec::with_capacity(n);
        let mut total = 0.0;
        for rank in 0..n {
            total += 1.0 / (rank as f64 + 1.0 + offset).powf(exponent);
            cumulative.push(total);
        }
        for value in &mut cumulative {
            *value /= total;
        }
        Zipf { cumulative }
    }

    pub fn sample(&self, rng: &mut Rng) -> usize {
        let target = rng.unit();
        let index = self.cumulative.partition_point(|&c| c < target);
        index.min(self.cumulative.len().saturating_sub(1))
    }
}
