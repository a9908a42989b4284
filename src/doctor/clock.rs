//! Wall-clock jumps, seen by comparing how far the wall clock and the monotonic clock moved
//! between two looks. VRRP never reads the wall clock; its logs do.

use std::time::{Instant, SystemTime};

/// A jump smaller than this is a slew or scheduling noise.
const JUMP_MS: i64 = 1000;

#[derive(Debug, Default)]
pub struct ClockWatch {
    last: Option<(Instant, SystemTime)>,
}

impl ClockWatch {
    /// Look at both clocks now; the wall clock's jump in ms (positive: forward) since the
    /// last look, if it moved more than a second beyond the monotonic clock.
    pub fn observe(&mut self, mono: Instant, wall: SystemTime) -> Option<i64> {
        let last = self.last.replace((mono, wall));
        let (m0, w0) = last?;
        let mono_ms = mono.saturating_duration_since(m0).as_millis() as i64;
        let wall_ms = match wall.duration_since(w0) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        };
        let jump = wall_ms - mono_ms;
        (jump.abs() >= JUMP_MS).then_some(jump)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn steady_clocks_and_small_slews_are_no_jump() {
        let (m, w) = (Instant::now(), SystemTime::now());
        let mut c = ClockWatch::default();
        assert_eq!(
            c.observe(m, w),
            None,
            "the first look has nothing to compare"
        );
        let s = Duration::from_secs(1);
        assert_eq!(c.observe(m + s, w + s), None);
        assert_eq!(
            c.observe(m + 2 * s, w + 2 * s + Duration::from_millis(300)),
            None
        );
    }

    #[test]
    fn steps_both_ways_are_measured() {
        let (m, w) = (Instant::now(), SystemTime::now());
        let mut c = ClockWatch::default();
        c.observe(m, w);
        let s = Duration::from_secs(1);
        assert_eq!(c.observe(m + s, w + 61 * s), Some(60_000));
        assert_eq!(c.observe(m + 2 * s, w + 31 * s), Some(-31_000));
    }
}
