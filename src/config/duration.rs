//! Durations in YAML: a number of seconds (`2`, `0.25`) or a humantime string (`250ms`,
//! `5s`, `1m 30s`, `2h`), parsed and printed by the `humantime` crate.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Parses a duration: a plain number of seconds (`40`, `0.5`, as ROS parameters give them)
/// or a humantime string (`250ms`, `1m 30s`); the error says what a config author can write.
/// Every command-line duration and every duration in configuration goes through here.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(format!(
            "negative duration `{trimmed}`; durations must be >= 0"
        ));
    }
    if let Ok(secs) = trimmed.parse::<f64>() {
        return from_secs(secs).map_err(|e| format!("invalid duration `{trimmed}`: {e}"));
    }
    humantime::parse_duration(trimmed).map_err(|e| {
        format!("invalid duration `{trimmed}`: {e} (write e.g. `250ms`, `5s`, `1m 30s`, or a plain number of seconds)")
    })
}

/// A duration from a float number of seconds; rejects NaN, infinity and negatives.
pub fn from_secs(secs: f64) -> Result<Duration, String> {
    if secs.is_nan() {
        return Err("NaN is not a duration".to_owned());
    }
    if secs < 0.0 {
        return Err(format!("negative duration {secs}; durations must be >= 0"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("duration {secs} s is out of range"))
}

/// Renders a duration the way a config author would write it (`250ms`, `5s`, `1m 30s`).
pub fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// A [`Duration`] as written in YAML, for `deserialize_with` helpers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct YamlDuration(pub(crate) Duration);

impl<'de> Deserialize<'de> for YamlDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = YamlDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration: seconds as a number, or a string like `250ms`, `5s`, `1m`")
    }

    fn visit_u64<E: de::Error>(self, secs: u64) -> Result<Self::Value, E> {
        Ok(YamlDuration(Duration::from_secs(secs)))
    }

    fn visit_i64<E: de::Error>(self, secs: i64) -> Result<Self::Value, E> {
        u64::try_from(secs)
            .map(|secs| YamlDuration(Duration::from_secs(secs)))
            .map_err(|_| E::custom(format!("negative duration {secs}; durations must be >= 0")))
    }

    fn visit_f64<E: de::Error>(self, secs: f64) -> Result<Self::Value, E> {
        from_secs(secs).map(YamlDuration).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        parse_duration(text).map(YamlDuration).map_err(E::custom)
    }
}

/// `deserialize_with` for a required [`Duration`].
pub(crate) fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    YamlDuration::deserialize(deserializer).map(|d| d.0)
}

/// `deserialize_with` for an optional [`Duration`] (`null` or absent is `None`).
pub(crate) fn optional<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    Option::<YamlDuration>::deserialize(deserializer).map(|d| d.map(|d| d.0))
}

/// `deserialize_with` for a list of [`Duration`]s.
pub(crate) fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Duration>, D::Error> {
    Vec::<YamlDuration>::deserialize(deserializer).map(|v| v.into_iter().map(|d| d.0).collect())
}

/// `deserialize_with` for a map of names to [`Duration`]s.
pub(crate) fn map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<std::collections::BTreeMap<String, Duration>, D::Error> {
    std::collections::BTreeMap::<String, YamlDuration>::deserialize(deserializer)
        .map(|m| m.into_iter().map(|(k, d)| (k, d.0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humantime_strings_parse_into_durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h2m3s"), Ok(Duration::from_secs(3723)));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
    }

    #[test]
    fn a_plain_number_is_seconds() {
        assert_eq!(parse_duration("40"), Ok(Duration::from_secs(40)));
        assert_eq!(parse_duration(" 0.25 "), Ok(Duration::from_millis(250)));
        assert!(parse_duration("-3").unwrap_err().contains("negative"));
    }

    #[test]
    fn malformed_duration_strings_are_rejected_with_a_reason() {
        for bad in ["", "5 parsecs", "fast", "1.2.3s", "nan", "inf"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("invalid duration"), "{bad:?}: {err}");
        }
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
    }

    #[test]
    fn seconds_as_numbers_reject_nan_and_negatives() {
        assert_eq!(from_secs(0.25), Ok(Duration::from_millis(250)));
        assert!(from_secs(f64::NAN).is_err());
        assert!(from_secs(-1.0).is_err());
        assert!(from_secs(f64::INFINITY).is_err());
    }

    #[test]
    fn yaml_numbers_and_strings_both_deserialize() {
        let parse = |text: &str| serde_yaml::from_str::<YamlDuration>(text).map(|d| d.0);
        assert_eq!(parse("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("\"250ms\"").unwrap(), Duration::from_millis(250));
        assert!(parse("-3").unwrap_err().to_string().contains("negative"));
        assert!(parse("-0.5").unwrap_err().to_string().contains("negative"));
        assert!(parse(".nan").unwrap_err().to_string().contains("NaN"));
        assert!(parse("[1]").is_err());
    }

    #[test]
    fn formatting_round_trips_through_parsing() {
        for d in [
            Duration::from_millis(250),
            Duration::from_secs(5),
            Duration::from_secs(90),
            Duration::from_secs(3723),
            Duration::from_millis(1500),
            Duration::from_micros(7),
            Duration::ZERO,
        ] {
            let text = format_duration(d);
            assert_eq!(parse_duration(&text), Ok(d), "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_duration_below_a_month_round_trips_through_its_text(nanos in 0_u64..(1_u64 << 51)) {
            let duration = Duration::from_nanos(nanos);
            proptest::prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }

        #[test]
        fn arbitrary_duration_text_is_parsed_or_rejected_without_panicking(text in "\\PC{0,40}") {
            let _ = parse_duration(&text);
        }
    }
}
