//! Mirrors of `builtin_interfaces` messages.

use std::time::Duration;

use super::ros_message;

ros_message! {
    /// A point in time: seconds and nanoseconds since the epoch of the publishing clock.
    pub struct Time = "builtin_interfaces/msg/Time";
    fields {
        /// Whole seconds; negative before the epoch.
        sec: i32 as "int32",
        /// Nanoseconds past `sec`, below 1e9 in well-formed messages.
        nanosec: u32 as "uint32",
    }
}

impl Time {
    /// The time `since_epoch` after the epoch; saturates at the latest representable time
    /// (`i32::MAX` seconds, in 2038) instead of wrapping.
    pub fn from_duration(since_epoch: Duration) -> Self {
        match i32::try_from(since_epoch.as_secs()) {
            Ok(sec) => Self {
                sec,
                nanosec: since_epoch.subsec_nanos(),
            },
            Err(_) => Self {
                sec: i32::MAX,
                nanosec: 999_999_999,
            },
        }
    }

    /// The time since the epoch, or `None` before the epoch, which `Duration` cannot hold.
    ///
    /// A `nanosec` of 1e9 or more (malformed but seen on the wire) carries into seconds.
    pub fn to_duration(&self) -> Option<Duration> {
        let sec = u64::try_from(self.sec).ok()?;
        // Cannot overflow: sec < 2^31 and the carry from nanosec is at most 4 s.
        Some(Duration::from_secs(sec) + Duration::from_nanos(u64::from(self.nanosec)))
    }
}

impl From<Duration> for Time {
    fn from(since_epoch: Duration) -> Self {
        Self::from_duration(since_epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_round_trips_through_time() {
        let d = Duration::new(1_700_000_000, 123_456_789);
        let t = Time::from(d);
        assert_eq!((t.sec, t.nanosec), (1_700_000_000, 123_456_789));
        assert_eq!(t.to_duration(), Some(d));
    }

    #[test]
    fn durations_past_2038_saturate_instead_of_wrapping() {
        let t = Time::from_duration(Duration::from_secs(u64::MAX));
        assert_eq!((t.sec, t.nanosec), (i32::MAX, 999_999_999));
        let just_over = Time::from_duration(Duration::from_secs(i32::MAX as u64 + 1));
        assert_eq!(just_over.sec, i32::MAX);
    }

    #[test]
    fn times_before_the_epoch_have_no_duration() {
        let t = Time {
            sec: -1,
            nanosec: 500_000_000,
        };
        assert_eq!(t.to_duration(), None);
        let min = Time {
            sec: i32::MIN,
            nanosec: 0,
        };
        assert_eq!(min.to_duration(), None);
    }

    #[test]
    fn an_overlong_nanosec_carries_into_seconds_without_panicking() {
        let t = Time {
            sec: i32::MAX,
            nanosec: u32::MAX,
        };
        assert_eq!(
            t.to_duration(),
            Some(Duration::from_secs(i32::MAX as u64) + Duration::from_nanos(u32::MAX as u64))
        );
    }
}
