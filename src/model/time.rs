//! Wall-clock time as reprise keeps it: Unix nanoseconds, a `u64` in the
//! domain and an `i64` in the store's INTEGER columns (both good until 2262).

use std::time::{SystemTime, UNIX_EPOCH};

/// `time` in Unix nanoseconds; 0 for a time before 1970.
pub fn unix_nano(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

/// Now, on the wall clock: the one place reprise reads it (clippy.toml
/// holds everyone else to this function).
#[allow(clippy::disallowed_methods, reason = "this is the clock's one reader")]
pub fn now() -> SystemTime {
    SystemTime::now()
}

/// Now, in Unix nanoseconds.
pub fn now_unix_nano() -> u64 {
    unix_nano(now())
}

/// Now, as the store's columns hold it.
pub fn now_unix_nano_i64() -> i64 {
    now_unix_nano() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_before_the_epoch_are_zero_and_after_it_exact() {
        assert_eq!(unix_nano(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert_eq!(
            unix_nano(UNIX_EPOCH + Duration::from_nanos(1_765_000_000_123_456_789)),
            1_765_000_000_123_456_789
        );
    }
}
