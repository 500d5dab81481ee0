//! The keys themselves: `rpk_` followed by 32 random bytes in URL-safe
//! base64 (43 characters). The prefix makes a leaked key recognizable (the
//! redactor's `reprise_key` detector finds it in telemetry, and secret
//! scanners can be taught it); the 256 random bits make guessing hopeless,
//! which is why a plain fast hash is enough to store them: there is no
//! dictionary to attack, unlike passwords.

use base64::Engine as _;

use crate::model::project::KeyHash;

/// What every key starts with.
pub const KEY_PREFIX: &str = "rpk_";

/// Characters of a key kept in the clear in listings, prefix included.
const SHOWN_CHARS: usize = 10;

/// A new random key, to be shown once and never stored.
pub fn generate_key() -> String {
    let mut secret = [0u8; 32];
    rand::fill(&mut secret);
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    format!("{KEY_PREFIX}{encoded}")
}

pub fn hash_key(key: &str) -> KeyHash {
    *blake3::hash(key.as_bytes()).as_bytes()
}

/// The start of a key, enough to tell keys apart in `reprise keys list`
/// without revealing anything useful.
pub fn shown_prefix(key: &str) -> String {
    key.chars().take(SHOWN_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_prefix_and_differ() {
        let a = generate_key();
        let b = generate_key();
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 43);
        assert_ne!(a, b);
        assert_ne!(hash_key(&a), hash_key(&b));
    }

    #[test]
    fn the_hash_depends_on_every_character() {
        assert_ne!(hash_key("rpk_abc"), hash_key("rpk_abd"));
        assert_eq!(hash_key("rpk_abc"), hash_key("rpk_abc"));
    }
}
