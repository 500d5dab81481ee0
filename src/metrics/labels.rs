//! Label values that come from telemetry (models, providers) or from
//! configuration (replay targets) are not under reprise's control, and
//! every distinct value is a new series in Prometheus for as long as the
//! process lives. A [`LabelCap`] lets through the first values it sees, up
//! to a limit, and folds every later one into [`OTHER`]: the dashboards
//! stay right in total while a client that sends a fresh model name per
//! request cannot blow up the series count.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex, PoisonError};

/// The value standing in for values past the cap (and for absurdly long ones).
pub const OTHER: &str = "other";
/// The value for a label the telemetry did not carry.
pub const UNKNOWN: &str = "unknown";

/// Longest label value kept as is. Real model and provider names are far
/// shorter; anything longer is more likely garbage than a name.
const MAX_VALUE_BYTES: usize = 200;

/// Distinct models kept as label values.
pub const MAX_MODELS: usize = 200;
/// Distinct providers kept as label values.
pub const MAX_PROVIDERS: usize = 50;
/// Distinct replay targets kept as label values.
pub const MAX_TARGETS: usize = 100;

pub static MODELS: LazyLock<LabelCap> = LazyLock::new(|| LabelCap::new(MAX_MODELS));
pub static PROVIDERS: LazyLock<LabelCap> = LazyLock::new(|| LabelCap::new(MAX_PROVIDERS));
pub static TARGETS: LazyLock<LabelCap> = LazyLock::new(|| LabelCap::new(MAX_TARGETS));

/// A bounded set of label values: the first `limit` distinct values seen.
pub struct LabelCap {
    limit: usize,
    seen: Mutex<HashSet<String>>,
}

impl LabelCap {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// The label value to use for `value`: itself if it is already known or
    /// there is room for it, [`OTHER`] if not, [`UNKNOWN`] if absent.
    pub fn admit(&self, value: Option<&str>) -> String {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return UNKNOWN.to_owned();
        };
        if value.len() > MAX_VALUE_BYTES {
            return OTHER.to_owned();
        }
        // A panic elsewhere while holding the lock leaves the set intact
        // (inserts are atomic from our point of view), so keep using it.
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.contains(value) {
            return value.to_owned();
        }
        if seen.len() >= self.limit {
            return OTHER.to_owned();
        }
        seen.insert(value.to_owned());
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_past_the_cap_become_other_and_known_ones_stay() {
        let cap = LabelCap::new(2);
        assert_eq!(cap.admit(Some("a")), "a");
        assert_eq!(cap.admit(Some("b")), "b");
        assert_eq!(cap.admit(Some("c")), OTHER);
        assert_eq!(
            cap.admit(Some("a")),
            "a",
            "a value seen before the cap is kept"
        );
        assert_eq!(cap.admit(Some("d")), OTHER);
    }

    #[test]
    fn absent_empty_and_overlong_values_do_not_take_a_slot() {
        let cap = LabelCap::new(1);
        assert_eq!(cap.admit(None), UNKNOWN);
        assert_eq!(cap.admit(Some("")), UNKNOWN);
        assert_eq!(cap.admit(Some(&"x".repeat(MAX_VALUE_BYTES + 1))), OTHER);
        assert_eq!(
            cap.admit(Some("gpt-4o")),
            "gpt-4o",
            "the one slot is still free"
        );
    }
}
