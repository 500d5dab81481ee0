//! Stable hashing and a seeded generator: the only sources of variation in
//! the fake provider's answers, ids and jitter.
//!
//! Both are written out here rather than taken from `std` or `rand` because
//! their output must not change between Rust or crate versions: recorded
//! benchmark results and test expectations depend on it. The hash is
//! BLAKE3 (already a dependency); the generator is SplitMix64.

/// A 64-bit hash of `parts`, stable across platforms and versions. Each part
/// is length-prefixed so `["ab", "c"]` and `["a", "bc"]` differ.
pub(crate) fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast and good enough for
/// picking words and jitter.
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (0 when `bound` is 0). The modulo bias is
    /// irrelevant at the bounds used here.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        self.next_u64() % bound
    }
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `prefix` followed by `length` alphanumeric characters drawn from `seed`,
/// shaped like the providers' ids (`chatcmpl-…`, `msg_…`, `call_…`).
pub(crate) fn stable_id(prefix: &str, seed: u64, length: usize) -> String {
    let mut generator = SplitMix64::new(seed);
    let mut id = String::with_capacity(prefix.len() + length);
    id.push_str(prefix);
    for _ in 0..length {
        let index = generator.below(ID_ALPHABET.len() as u64) as usize;
        id.push(char::from(ID_ALPHABET[index]));
    }
    id
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_separates_part_boundaries() {
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
        assert_eq!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"ab", b"c"]));
    }

    #[test]
    fn splitmix_matches_reference_output() {
        // First outputs for seed 1234567 from the reference C implementation.
        let mut generator = SplitMix64::new(1_234_567);
        assert_eq!(generator.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(generator.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn stable_id_has_prefix_and_length() {
        let id = stable_id("msg_01", 42, 22);
        assert!(id.starts_with("msg_01"));
        assert_eq!(id.len(), 28);
        assert!(id[6..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(stable_id("msg_01", 43, 22), id);
    }
}
