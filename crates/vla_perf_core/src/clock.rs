//! Steps of the wall clock (an NTP correction, a manual `date -s`, a VM resumed), found by
//! comparing how far the wall clock and a monotonic clock moved between two readings.
//!
//! Stamps from publishers are wall-clock times, so the collector must keep comparing them
//! with the wall clock; a step is counted as an anomaly and logged, never turned into a
//! latency.

use std::time::{Duration, UNIX_EPOCH};

/// RFC 3339 text (millisecond precision, UTC) of a time since the UNIX epoch.
pub fn rfc3339(since_epoch: Duration) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + since_epoch).to_string()
}

/// A step of the wall clock relative to the monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The wall clock moved this much further than the monotonic clock.
    Forward(Duration),
    /// The wall clock moved this much less than the monotonic clock (possibly backwards).
    Backward(Duration),
}

/// Compares successive (wall, monotonic) readings.
#[derive(Debug, Clone)]
pub struct ClockWatch {
    tolerance: Duration,
    last: Option<(Duration, Duration)>,
    steps: u64,
}

impl ClockWatch {
    /// Differences up to `tolerance` between the two clocks' progress are drift or slewing,
    /// not steps.
    pub fn new(tolerance: Duration) -> Self {
        Self {
            tolerance,
            last: None,
            steps: 0,
        }
    }

    /// Feeds a reading of both clocks, taken together; returns the step since the previous
    /// reading, if the clocks disagree by more than the tolerance.
    pub fn observe(&mut self, wall: Duration, monotonic: Duration) -> Option<Step> {
        let (last_wall, last_mono) = self.last.replace((wall, monotonic))?;
        let mono = monotonic.saturating_sub(last_mono);
        let step = match wall.checked_sub(last_wall) {
            Some(moved) if moved > mono => Step::Forward(moved - mono),
            Some(moved) => Step::Backward(mono - moved),
            None => Step::Backward(mono + (last_wall - wall)),
        };
        let size = match step {
            Step::Forward(d) | Step::Backward(d) => d,
        };
        (size > self.tolerance).then(|| {
            self.steps += 1;
            step
        })
    }

    /// Steps seen so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: f64) -> Duration {
        Duration::from_secs_f64(v)
    }

    #[test]
    fn clocks_that_move_together_show_no_step() {
        let mut w = ClockWatch::new(s(0.25));
        assert_eq!(w.observe(s(1000.0), s(5.0)), None);
        assert_eq!(w.observe(s(1001.0), s(6.0)), None);
        // 100 ms of disagreement is within tolerance (slewing, a late reading).
        assert_eq!(w.observe(s(1002.1), s(7.0)), None);
        assert_eq!(w.steps(), 0);
    }

    #[test]
    fn a_wall_clock_set_back_or_ahead_is_a_step_of_its_size() {
        let mut w = ClockWatch::new(s(0.25));
        w.observe(s(1000.0), s(5.0));
        assert_eq!(w.observe(s(940.0), s(6.0)), Some(Step::Backward(s(61.0))));
        assert_eq!(w.observe(s(4541.0), s(7.0)), Some(Step::Forward(s(3600.0))));
        // A wall clock that stood still while a second passed stepped back by a second.
        assert_eq!(w.observe(s(4541.0), s(8.0)), Some(Step::Backward(s(1.0))));
        assert_eq!(w.steps(), 3);
    }
}
