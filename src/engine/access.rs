//! The coarse clock of key accesses behind OBJECT IDLETIME: whole seconds of
//! the engine's clock in 32 bits, as every entry stores it. Like Redis's LRU
//! clock it counts seconds, and it wraps (every 136 years), so an idle time
//! is the difference of two stamps modulo 2^32.

/// The access stamp of an access at `now_ms` (Unix milliseconds).
pub fn stamp(now_ms: u64) -> u32 {
    // Keeping only the low 32 bits of the seconds is the wrap.
    (now_ms / 1000) as u32
}

/// Whole seconds from an access stamped `at` to `now_ms`. A stamp that lies
/// ahead of `now_ms` (the wall clock was set back) counts as just used.
pub fn idle_seconds(at: u32, now_ms: u64) -> u64 {
    let idle = stamp(now_ms).wrapping_sub(at);
    // A difference in the upper half of the ring is a stamp from the future.
    if idle > i32::MAX as u32 {
        0
    } else {
        u64::from(idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_time_counts_whole_seconds_between_stamps() {
        let at = stamp(1_700_000_000_999);
        assert_eq!(idle_seconds(at, 1_700_000_000_999), 0);
        assert_eq!(idle_seconds(at, 1_700_000_001_000), 1);
        assert_eq!(idle_seconds(at, 1_700_000_042_500), 42);
    }

    #[test]
    fn idle_time_survives_the_wrap_and_a_clock_set_back() {
        let wrap_ms = (1u64 << 32) * 1000;
        let at = stamp(wrap_ms - 2_000);
        assert_eq!(at, u32::MAX - 1);
        assert_eq!(idle_seconds(at, wrap_ms + 3_000), 5);
        let later = stamp(1_000_000_000);
        assert_eq!(idle_seconds(later, 999_000_000), 0);
    }
}
