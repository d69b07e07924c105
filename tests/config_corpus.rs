//! Every malformed config in `tests/fixtures/bad_configs/` fails with its own specific
//! error: the right line, field path and message. The table below is the single list of
//! expectations, and every file in the directory must appear in it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use vla_perf::config::{check_file, ConfigError};

/// What one bad file must produce.
struct Expected {
    file: &'static str,
    /// 1-based line the error points at.
    line: usize,
    /// Field path, for errors about one field; `None` for syntax and kind errors.
    field: Option<&'static str>,
    /// A fragment the message must contain.
    fragment: &'static str,
}

const fn bad(
    file: &'static str,
    line: usize,
    field: Option<&'static str>,
    fragment: &'static str,
) -> Expected {
    Expected {
        file,
        line,
        field,
        fragment,
    }
}

const EXPECTED: &[Expected] = &[
    // Wrong types.
    bad(
        "wrong_type_max_open_commands.yaml",
        4,
        Some("collector.max_open_commands"),
        "invalid type: string \"many\", expected usize",
    ),
    bad(
        "wrong_type_collector_is_a_list.yaml",
        2,
        Some("collector"),
        "invalid type: sequence",
    ),
    // Unknown keys at several depths.
    bad(
        "unknown_key_top_level.yaml",
        3,
        Some("colector_extra"),
        "unknown field `colector_extra`",
    ),
    bad(
        "unknown_key_in_slo.yaml",
        4,
        Some("collector.slo.targett"),
        "unknown field `targett`",
    ),
    bad(
        "unknown_key_in_stage.yaml",
        8,
        Some("collector.stages[1].topik"),
        "unknown field `topik`",
    ),
    bad(
        "unknown_key_in_channel.yaml",
        7,
        Some("notifications.channels[0].token"),
        "unknown field `token`",
    ),
    bad(
        "missing_stage_topic.yaml",
        3,
        Some("collector.stages[0]"),
        "missing field `topic`",
    ),
    // Durations and windows.
    bad(
        "negative_window.yaml",
        2,
        Some("collector.windows[1]"),
        "negative duration -60",
    ),
    bad(
        "zero_window.yaml",
        3,
        Some("collector.windows[0]"),
        "must be greater than zero",
    ),
    bad(
        "nan_publish_period.yaml",
        2,
        Some("collector.publish_period"),
        "NaN is not a duration",
    ),
    bad(
        "bad_duration_string.yaml",
        2,
        Some("collector.command_timeout"),
        "unknown time unit \"parsecs\"",
    ),
    bad(
        "zero_evaluation_window.yaml",
        5,
        Some("performance_alerts.success_rate.evaluation_window"),
        "must be greater than zero",
    ),
    // Collector semantics.
    bad(
        "empty_stage_list.yaml",
        3,
        Some("collector.stages"),
        "at least one stage is required",
    ),
    bad(
        "duplicate_stage_names.yaml",
        5,
        Some("collector.stages[2].name"),
        "duplicate stage name; stages[1]",
    ),
    bad(
        "bad_correlation_mode.yaml",
        7,
        Some("collector.stages[0].correlation.mode"),
        "unknown variant `timestamp`",
    ),
    bad(
        "header_stamp_on_string_topic.yaml",
        6,
        Some("collector.stages[0].correlation.mode"),
        "std_msgs/msg/String has no header",
    ),
    bad(
        "bad_msg_type.yaml",
        5,
        Some("collector.stages[0].msg_type"),
        "message type must be `package/msg/Type`",
    ),
    bad(
        "slo_target_above_one.yaml",
        4,
        Some("collector.slo.target"),
        "must be in (0, 1]",
    ),
    bad(
        "significant_digits_out_of_range.yaml",
        2,
        Some("collector.significant_digits"),
        "between 1 and 5",
    ),
    bad(
        "zero_max_open_commands.yaml",
        2,
        Some("collector.max_open_commands"),
        "must be > 0",
    ),
    bad(
        "negative_expected_rate.yaml",
        5,
        Some("collector.topics[0].expected_rate_hz"),
        "greater than zero",
    ),
    bad(
        "audio_on_an_image_topic.yaml",
        5,
        Some("collector.topics[0].audio"),
        "audio applies only to audio_common_msgs",
    ),
    bad(
        "bad_audio_sample_format.yaml",
        5,
        Some("collector.topics[0].audio.sample_format"),
        "sample_format must be like S16LE",
    ),
    bad(
        "unknown_qos_profile.yaml",
        5,
        Some("collector.topics[0].qos"),
        "qos must be one of reliable, sensor_data",
    ),
    bad(
        "zero_qos_depth.yaml",
        5,
        Some("collector.topics[0].qos_depth"),
        "qos_depth must be from 1 to 10000",
    ),
    bad(
        "bad_listen_address.yaml",
        4,
        Some("collector.prometheus.listen"),
        "invalid socket address",
    ),
    // Alert rules.
    bad(
        "warning_beyond_critical_higher_is_worse.yaml",
        3,
        Some("performance_alerts.cpu_usage.warning_threshold"),
        "beyond critical 80 for a metric where higher is worse",
    ),
    bad(
        "warning_beyond_critical_lower_is_worse.yaml",
        5,
        Some("rules[0].warning"),
        "beyond critical 0.9 for a metric where lower is worse",
    ),
    bad(
        "unknown_channel_type.yaml",
        6,
        Some("notifications.channels[1].type"),
        "unknown variant `slack`",
    ),
    bad(
        "bad_smtp_tls_mode.yaml",
        8,
        Some("notifications.channels[0].tls"),
        "unknown variant `ssl`, expected one of `none`, `starttls`, `tls`",
    ),
    bad(
        "bad_webhook_url.yaml",
        6,
        Some("notifications.channels[0].url"),
        "must start with http:// or https://",
    ),
    // Security rules: credentials only from the environment (and the message must not
    // repeat them), scenario paths inside the scenario's directory.
    bad(
        "credentials_in_webhook_url.yaml",
        6,
        Some("notifications.channels[0].url"),
        "credentials (user:password@host) (found: https://***@hooks.example.com/...)",
    ),
    bad(
        "scenario_path_escapes_its_directory.yaml",
        6,
        Some("scenario.commands[0].audio"),
        "inside the scenario file's directory",
    ),
    bad(
        "unknown_aggregation.yaml",
        5,
        Some("rules[0].aggregation"),
        "unknown variant `p999`",
    ),
    bad(
        "negative_consecutive_violations.yaml",
        6,
        Some("performance_alerts.response_time.consecutive_violations"),
        "integer `-2`, expected u32",
    ),
    bad(
        "unknown_template_placeholder.yaml",
        6,
        Some("rules[0].message"),
        "unknown placeholder `{hostname}`",
    ),
    bad(
        "no_alert_rules.yaml",
        1,
        Some("(document)"),
        "no alert rules",
    ),
    // Scenarios.
    bad(
        "bad_load_mode.yaml",
        7,
        Some("scenario.load.mode"),
        "unknown variant `burst`",
    ),
    bad(
        "fixed_rate_without_rate.yaml",
        7,
        Some("scenario.load.rate_hz"),
        "mode fixed_rate requires `rate_hz`",
    ),
    bad(
        "empty_command_list.yaml",
        4,
        Some("scenario.commands"),
        "at least one command is required",
    ),
    bad(
        "unknown_suite.yaml",
        3,
        Some("scenario.suites[1]"),
        "unknown variant `telepathy`",
    ),
    // Not a config at all.
    bad("invalid_yaml_syntax.yaml", 4, None, "invalid YAML"),
    bad(
        "no_known_kind.yaml",
        2,
        None,
        "found top-level keys [pipeline]; expected `collector`",
    ),
    bad("mixed_kinds.yaml", 1, None, "several config kinds"),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad_configs")
}

#[test]
fn every_bad_config_fails_with_its_specific_error() {
    let mut failures = Vec::new();
    for expected in EXPECTED {
        let path = corpus_dir().join(expected.file);
        let error = match check_file(&path) {
            Ok(_) => {
                failures.push(format!("{}: loaded without error", expected.file));
                continue;
            }
            Err(error) => error,
        };
        let text = error.to_string();
        let line = error.position().map(|(line, _)| line);
        if line != Some(expected.line) {
            failures.push(format!(
                "{}: line {line:?}, expected {}: {text}",
                expected.file, expected.line
            ));
        }
        if error.field() != expected.field {
            failures.push(format!(
                "{}: field {:?}, expected {:?}: {text}",
                expected.file,
                error.field(),
                expected.field
            ));
        }
        if !text.contains(expected.fragment) {
            failures.push(format!(
                "{}: message lacks {:?}: {text}",
                expected.file, expected.fragment
            ));
        }
        // The message starts with file:line:column, so editors and CI logs can jump to it.
        let (line, column) = error.position().unwrap_or_default();
        let prefix = format!("{}:{line}:{column}: ", path.display());
        if !text.starts_with(&prefix) {
            failures.push(format!(
                "{}: message does not start with {prefix:?}: {text}",
                expected.file
            ));
        }
        if matches!(
            error,
            ConfigError::Read { .. } | ConfigError::WrongKind { .. }
        ) {
            failures.push(format!("{}: unexpected error kind: {text}", expected.file));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn field_errors_quote_the_offending_value_as_written() {
    for (file, value) in [
        ("bad_correlation_mode.yaml", "timestamp"),
        ("negative_window.yaml", "-60"),
        ("bad_listen_address.yaml", "localhost:9464"),
        ("warning_beyond_critical_lower_is_worse.yaml", "0.80"),
        ("unknown_key_in_stage.yaml", "topik"),
        ("zero_window.yaml", "0"),
    ] {
        let error = check_file(corpus_dir().join(file)).unwrap_err();
        assert_eq!(error.value(), Some(value), "{file}: {error}");
        assert!(
            error.to_string().contains(&format!("(found: {value})")),
            "{error}"
        );
    }
}

#[test]
fn every_file_in_the_corpus_has_an_expectation_and_vice_versa() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let in_table: BTreeSet<String> = EXPECTED.iter().map(|e| e.file.to_owned()).collect();
    assert_eq!(
        in_table.len(),
        EXPECTED.len(),
        "a file appears twice in the table"
    );
    let untested: Vec<&String> = on_disk.difference(&in_table).collect();
    let missing: Vec<&String> = in_table.difference(&on_disk).collect();
    assert!(
        untested.is_empty(),
        "files without an expectation: {untested:?}"
    );
    assert!(
        missing.is_empty(),
        "expectations without a file: {missing:?}"
    );
    assert!(on_disk.len() >= 20);
}
