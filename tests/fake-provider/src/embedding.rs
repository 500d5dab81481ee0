//! Deterministic embeddings in which cosine similarity means something.
//!
//! Each text becomes a hashed bag of words: every lower-cased alphanumeric
//! word adds ±1 to one coordinate chosen by its hash, and the vector is
//! scaled to unit length like the real models' vectors. Texts that share
//! words point the same way, unrelated texts are nearly orthogonal, and the
//! same text always gives the same vector.

use super::seed::stable_hash;

/// The unit-length embedding of `text` with `dimensions` coordinates.
pub(crate) fn embed(text: &str, dimensions: usize) -> Vec<f32> {
    let dimensions = dimensions.max(1);
    let mut vector = vec![0f32; dimensions];
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let hash = stable_hash(&[word.to_lowercase().as_bytes()]);
        let index = (hash % dimensions as u64) as usize;
        // The top bit picks the sign so colliding words tend to cancel
        // rather than pile up.
        let sign = if hash >> 63 == 1 { -1.0 } else { 1.0 };
        vector[index] += sign;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut vector {
            *x /= norm;
        }
    }
    vector
}

/// The vector as little-endian `f32` bytes: the payload of
/// `encoding_format: "base64"`.
pub(crate) fn to_le_bytes(vector: &[f32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(vector.len() * 4);
    for x in vector {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn vectors_are_unit_length_and_deterministic() {
        let vector = embed("The quick brown fox", 64);
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert_eq!(vector, embed("the QUICK brown fox!", 64));
    }

    #[test]
    fn shared_words_mean_higher_similarity() {
        let anchor = embed("how do I reset my password", 256);
        let close = embed("how can I reset a forgotten password", 256);
        let far = embed("best pizza toppings in naples", 256);
        assert!(cosine(&anchor, &close) > 0.4);
        assert!(cosine(&anchor, &close) > cosine(&anchor, &far) + 0.3);
    }

    #[test]
    fn text_without_words_is_the_zero_vector() {
        assert!(embed("?!", 8).iter().all(|x| *x == 0.0));
    }
}
