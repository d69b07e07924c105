//! Proves the CDR encoding of every mirror against the independent Python library `rosbags`.
//!
//! Rust writes, per case, the type name, its CDR bytes and the expected values as JSON;
//! `tests/peers/rosbags_peer.py` deserializes the bytes with rosbags and compares field for
//! field, then serializes the JSON values itself (both byte orders) for Rust to decode and
//! compare here. It also reports rosbags' own definitions of the standard messages, which
//! are compared with the mirrors, and serializes header-first messages Rust has no mirror
//! for (`sensor_msgs/Image` ...) to check `decode_header`.
//!
//! The LE bytes rosbags wrote are kept as golden files in `tests/fixtures/msg/cdr/`, which
//! `golden_cdr_fixtures_decode_and_encode_identically` checks without Python. Regenerate
//! them with `VLA_PERF_BLESS=1 cargo test --test rosbags_interop`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_value::Value;
use vla_perf::msg::action_msgs::{GoalInfo, GoalStatus, GoalStatusArray};
use vla_perf::msg::builtin_interfaces::Time;
use vla_perf::msg::cdr::{decode_header, from_cdr, to_cdr};
use vla_perf::msg::diagnostic_msgs::{DiagnosticArray, DiagnosticStatus, KeyValue};
use vla_perf::msg::std_msgs::{self, Header};
use vla_perf::msg::unique_identifier_msgs::UUID;
use vla_perf::msg::*;

/// One message value to send through rosbags.
struct Case {
    name: String,
    type_name: &'static str,
    bytes: Vec<u8>,
    expected: Value,
    decode: fn(&[u8]) -> Result<Value, String>,
}

fn decode<T: RosMessage>(bytes: &[u8]) -> Result<Value, String> {
    let message: T = from_cdr(bytes).map_err(|e| e.to_string())?;
    serde_value::to_value(&message).map_err(|e| e.to_string())
}

fn case<T: RosMessage>(label: &str, message: T) -> Case {
    let short = T::TYPE_NAME.rsplit('/').next().unwrap_or_default();
    Case {
        name: format!("{short}_{label}"),
        type_name: T::TYPE_NAME,
        bytes: to_cdr(&message).expect("every mirror encodes"),
        expected: serde_value::to_value(&message).expect("every mirror converts"),
        decode: decode::<T>,
    }
}

/// Floats special to IEEE 754 that a float64 field must carry unchanged.
const SPECIAL_FLOATS: [f64; 9] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -0.0,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    5e-324, // the smallest subnormal
    0.1,    // not exactly representable: shortest round-trip printing matters
];

const UNICODE: &str = "Grüße, 世界! 🤖🦾 ẞ \u{10FFFF}";

fn time(sec: i32, nanosec: u32) -> Time {
    Time { sec, nanosec }
}

fn header(sec: i32, nanosec: u32, frame_id: &str) -> Header {
    Header {
        stamp: time(sec, nanosec),
        frame_id: frame_id.into(),
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

fn special(i: usize) -> f64 {
    SPECIAL_FLOATS[i % SPECIAL_FLOATS.len()]
}

fn metric_summary(i: usize) -> MetricSummary {
    MetricSummary {
        name: format!("stage_latency_{i}"),
        unit: "s".into(),
        window: special(i),
        count: u64::MAX - i as u64,
        mean: special(i + 1),
        stddev: special(i + 2),
        min: special(i + 3),
        max: special(i + 4),
        p50: special(i + 5),
        p90: special(i + 6),
        p95: special(i + 7),
        p99: special(i + 8),
        p999: 1.0 / (i as f64 + 3.0),
        tags: (0..i % 4).map(|t| kv(&format!("k{t}"), UNICODE)).collect(),
    }
}

fn kpi(i: usize) -> Kpi {
    Kpi {
        name: format!("kpi_{i}_ü"),
        unit: "1".into(),
        value: special(i),
        compare: (i % 3) as u8,
        threshold: special(i + 4),
        passed: i.is_multiple_of(2),
    }
}

fn goal_status(i: usize) -> GoalStatus {
    GoalStatus {
        goal_info: GoalInfo {
            goal_id: UUID {
                uuid: std::array::from_fn(|b| (b * 17 + i) as u8),
            },
            stamp: time(i as i32 - 1, 999_999_999),
        },
        status: [GoalStatus::STATUS_ABORTED, i8::MIN, i8::MAX, -1][i % 4],
    }
}

fn cases() -> Vec<Case> {
    let mut cases = vec![
        case("zero", Time::default()),
        case("min", time(i32::MIN, 0)),
        case("max", time(i32::MAX, u32::MAX)),
        case("empty", Header::default()),
        case("unicode", header(-1, 1, UNICODE)),
        case("long_frame", header(7, 8, &"frame/".repeat(2000))),
        case("empty", std_msgs::String::default()),
        case(
            "unicode",
            std_msgs::String {
                data: UNICODE.into(),
            },
        ),
        // Lengths 1..=4 bytes before the next field exercise every padding amount.
        case("one_byte", std_msgs::String { data: "a".into() }),
        case("empty", KeyValue::default()),
        case("unicode", kv("ключ", UNICODE)),
        case("empty", DiagnosticStatus::default()),
        case(
            "stale",
            DiagnosticStatus {
                level: DiagnosticStatus::STALE,
                name: "vla_perf: collector".into(),
                message: UNICODE.into(),
                hardware_id: "gpu0".into(),
                values: (0..50)
                    .map(|i| kv(&format!("v{i}"), &"x".repeat(i)))
                    .collect(),
            },
        ),
        case(
            "level_max",
            DiagnosticStatus {
                level: u8::MAX,
                ..DiagnosticStatus::default()
            },
        ),
        case("empty", DiagnosticArray::default()),
        case(
            "several",
            DiagnosticArray {
                header: header(1_700_000_000, 5, "map"),
                status: (0..4u8)
                    .map(|level| DiagnosticStatus {
                        level,
                        name: format!("component {level}"),
                        values: vec![kv("a", "b"); level as usize],
                        ..DiagnosticStatus::default()
                    })
                    .collect(),
            },
        ),
        case("zero", UUID::default()),
        case(
            "ones",
            UUID {
                uuid: [u8::MAX; 16],
            },
        ),
        case(
            "counting",
            UUID {
                uuid: std::array::from_fn(|i| i as u8),
            },
        ),
        case("zero", GoalInfo::default()),
        case("extreme", goal_status(1).goal_info),
        case("zero", GoalStatus::default()),
        case("min_status", goal_status(1)),
        case("empty", GoalStatusArray::default()),
        case(
            "many",
            GoalStatusArray {
                status_list: (0..100).map(goal_status).collect(),
            },
        ),
        case("empty", StageEvent::default()),
        case(
            "unicode",
            StageEvent {
                header: header(i32::MIN, u32::MAX, UNICODE),
                command_id: "cmd-🤖-1".into(),
                stage: "plan".into(),
                phase: StageEvent::PHASE_FAIL,
                confidence: f64::NAN,
                detail: "refusé: ∅".into(),
            },
        ),
        case(
            "phase_max",
            StageEvent {
                phase: u8::MAX,
                confidence: 1.0,
                ..StageEvent::default()
            },
        ),
        case("empty", StageLatency::default()),
        case("empty", CommandLatency::default()),
        case(
            "long",
            CommandLatency {
                header: header(1_700_000_000, 1, "base"),
                robot_id: "robot-7".into(),
                command_id: UNICODE.into(),
                outcome: CommandLatency::OUTCOME_TIMED_OUT,
                failed_stage: "a".into(),
                started: time(i32::MIN, 0),
                ended: time(i32::MAX, u32::MAX),
                end_to_end: f64::NEG_INFINITY,
                stages: (0..300)
                    .map(|i| StageLatency {
                        stage: "s".repeat(i % 7),
                        reached: i % 3 != 0,
                        latency: special(i),
                    })
                    .collect(),
            },
        ),
        case("empty", MetricSummary::default()),
        case("empty", MetricArray::default()),
        case(
            "long",
            MetricArray {
                header: header(3, 4, "x"),
                robot_id: UNICODE.into(),
                metrics: (0..60).map(metric_summary).collect(),
            },
        ),
        case("empty", ProcessUsage::default()),
        case(
            "extreme",
            ProcessUsage {
                name: UNICODE.into(),
                pid: u32::MAX,
                cpu_percent: 1e308,
                rss_bytes: u64::MAX,
            },
        ),
        case("empty", GpuUsage::default()),
        case(
            "extreme",
            GpuUsage {
                index: u32::MAX,
                name: "NVIDIA H200".into(),
                uuid: "GPU-🤖".into(),
                utilization_percent: f64::NAN,
                memory_used_bytes: u64::MAX,
                memory_total_bytes: 1,
                temperature_celsius: -0.0,
                power_watts: f64::INFINITY,
            },
        ),
        case("empty", ResourceUsage::default()),
        case(
            "long",
            ResourceUsage {
                header: header(9, 10, "y"),
                robot_id: "r".into(),
                cpu_percent: f64::MIN_POSITIVE,
                cpu_per_core_percent: (0..1024).map(special).collect(),
                memory_used_bytes: u64::MAX,
                memory_total_bytes: u64::MAX - 1,
                disk_read_bytes_per_second: f64::MAX,
                disk_write_bytes_per_second: f64::MIN,
                network_rx_bytes_per_second: 5e-324,
                network_tx_bytes_per_second: -0.0,
                temperature_labels: (0..64)
                    .map(|i| format!("{}{i}", "🌡".repeat(i % 5)))
                    .collect(),
                temperatures_celsius: (0..64).map(|i| special(i + 3)).collect(),
                processes: (0..100)
                    .map(|i| ProcessUsage {
                        name: "n".repeat(i % 9),
                        pid: i as u32,
                        cpu_percent: special(i),
                        rss_bytes: u64::MAX >> (i % 64),
                    })
                    .collect(),
                gpu_available: true,
                gpu_status: String::new(),
                gpus: (0..8)
                    .map(|i| GpuUsage {
                        index: i,
                        name: "g".repeat(i as usize),
                        uuid: UNICODE.into(),
                        utilization_percent: special(i as usize),
                        memory_used_bytes: u64::from(i),
                        memory_total_bytes: u64::MAX,
                        temperature_celsius: special(i as usize + 1),
                        power_watts: special(i as usize + 2),
                    })
                    .collect(),
            },
        ),
        case("empty", Alert::default()),
        case(
            "firing",
            Alert {
                header: header(-7, 3, "🔥"),
                alert_id: "a1".into(),
                rule: "end_to_end_p95".into(),
                robot_id: "robot".into(),
                state: Alert::STATE_FIRING,
                severity: Alert::SEVERITY_CRITICAL,
                metric: "end_to_end_latency".into(),
                value: f64::NAN,
                warning_threshold: f64::INFINITY,
                critical_threshold: -0.0,
                message: UNICODE.into(),
                active_since: time(i32::MAX, 0),
                labels: vec![kv("stage", "plan"), kv("", "")],
            },
        ),
        case("empty", Kpi::default()),
        case("extreme", kpi(0)),
        case("empty", BenchmarkResult::default()),
        case(
            "full",
            BenchmarkResult {
                header: header(1, 2, "bench"),
                robot_id: "robot".into(),
                run_id: "run-⏱".into(),
                suite: "end_to_end".into(),
                scenario: UNICODE.into(),
                commands_sent: u32::MAX,
                commands_succeeded: 0,
                commands_failed: 1,
                commands_timed_out: u32::MAX - 1,
                duration: f64::MAX,
                throughput: f64::NAN,
                latencies: (0..20).map(metric_summary).collect(),
                kpis: (0..30).map(kpi).collect(),
                passed: true,
                report_path: "/tmp/räport.json".into(),
            },
        ),
    ];
    for (i, value) in SPECIAL_FLOATS.iter().enumerate() {
        cases.push(case(
            &format!("special_float_{i}"),
            StageLatency {
                stage: "x".repeat(i),
                reached: i % 2 == 1,
                latency: *value,
            },
        ));
    }
    cases
}

/// Header-first messages rosbags serializes and `decode_header` must read.
const PROBES: &[(&str, &str, usize)] = &[
    ("image", "sensor_msgs/msg/Image", 4_000_000),
    (
        "compressed_image",
        "sensor_msgs/msg/CompressedImage",
        12_345,
    ),
    ("point_cloud", "sensor_msgs/msg/PointCloud2", 3),
    ("odometry", "nav_msgs/msg/Odometry", 0),
];

fn probe_header(i: usize) -> Header {
    header(
        1_700_000_000 + i as i32,
        123 + i as u32,
        &format!("{}{i}", UNICODE),
    )
}

// ---------------------------------------------------------------------------- JSON

/// The JSON the peer reads: struct fields by name, non-finite floats as strings.
fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Bool(b) => J::Bool(*b),
        Value::U8(n) => (*n).into(),
        Value::U16(n) => (*n).into(),
        Value::U32(n) => (*n).into(),
        Value::U64(n) => (*n).into(),
        Value::I8(n) => (*n).into(),
        Value::I16(n) => (*n).into(),
        Value::I32(n) => (*n).into(),
        Value::I64(n) => (*n).into(),
        Value::F32(f) => float_json(f64::from(*f)),
        Value::F64(f) => float_json(*f),
        Value::String(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(fields) => J::Object(
            fields
                .iter()
                .map(|(k, v)| match k {
                    Value::String(k) => (k.clone(), to_json(v)),
                    other => panic!("non-string field name {other:?}"),
                })
                .collect(),
        ),
        other => panic!("no ROS message field serializes as {other:?}"),
    }
}

fn float_json(f: f64) -> serde_json::Value {
    match serde_json::Number::from_f64(f) {
        Some(n) => serde_json::Value::Number(n),
        None if f.is_nan() => "NaN".into(),
        None if f > 0.0 => "Infinity".into(),
        None => "-Infinity".into(),
    }
}

/// The first difference between two values; floats compare bit for bit.
fn difference(path: &str, actual: &Value, expected: &Value) -> Option<String> {
    match (actual, expected) {
        (Value::F64(a), Value::F64(e)) if a.to_bits() == e.to_bits() => None,
        (Value::Seq(a), Value::Seq(e)) => {
            if a.len() != e.len() {
                return Some(format!("{path}: {} items, expected {}", a.len(), e.len()));
            }
            a.iter()
                .zip(e)
                .enumerate()
                .find_map(|(i, (a, e))| difference(&format!("{path}[{i}]"), a, e))
        }
        (Value::Map(a), Value::Map(e)) => {
            if a.keys().ne(e.keys()) {
                return Some(format!(
                    "{path}: fields {:?}, expected {:?}",
                    a.keys(),
                    e.keys()
                ));
            }
            a.iter().zip(e).find_map(|((k, a), (_, e))| {
                let key = match k {
                    Value::String(s) => s.as_str(),
                    _ => "?",
                };
                difference(&format!("{path}.{key}"), a, e)
            })
        }
        (a, e) if !matches!(a, Value::F64(_)) && a == e => None,
        (a, e) => Some(format!("{path}: {a:?}, expected {e:?}")),
    }
}

// ---------------------------------------------------------------------------- peer

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn golden_dir() -> PathBuf {
    repo().join("tests/fixtures/msg/cdr")
}

fn require_rosbags() {
    let probe = common::python()
        .args(["-c", "import rosbags.typesys, numpy"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "the project's Python cannot import rosbags ({}); run `bash .ci/setup` to install it",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("no output")
        ),
        Err(e) => panic!("python3 is not runnable ({e}); run `bash .ci/setup`"),
    }
}

fn write_inputs(dir: &Path, cases: &[Case]) {
    std::fs::create_dir_all(dir.join("cases")).unwrap();
    std::fs::create_dir_all(dir.join("probes")).unwrap();
    for case in cases {
        let spec = serde_json::json!({ "type": case.type_name, "values": to_json(&case.expected) });
        let stem = dir.join("cases").join(&case.name);
        std::fs::write(stem.with_extension("json"), spec.to_string()).unwrap();
        std::fs::write(stem.with_extension("cdr"), &case.bytes).unwrap();
    }
    for (i, (name, type_name, payload_len)) in PROBES.iter().enumerate() {
        let header = serde_value::to_value(probe_header(i)).unwrap();
        let spec = serde_json::json!({
            "type": type_name, "header": to_json(&header), "payload_len": payload_len,
        });
        std::fs::write(
            dir.join("probes").join(format!("{name}.json")),
            spec.to_string(),
        )
        .unwrap();
    }
}

/// Resolves a type as written in a `.msg` file of `package` to rosbags' spelling.
fn resolve(written: &str, package: &str) -> String {
    let (element, suffix) = written.split_at(written.find('[').unwrap_or(written.len()));
    if !element.contains('/') && element.starts_with(|c: char| c.is_ascii_lowercase()) {
        return written.to_owned();
    }
    let full = match element.split('/').collect::<Vec<_>>().as_slice() {
        [name] => format!("{package}/msg/{name}"),
        [pkg, name] => format!("{pkg}/msg/{name}"),
        _ => element.to_owned(),
    };
    format!("{full}{suffix}")
}

/// Mirrors whose fields or constants differ from rosbags' definition of the same type.
fn definition_mismatches(definitions: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for mirror in VLA_PERF_MESSAGES.iter().chain(STANDARD_MESSAGES) {
        let Some(theirs) = definitions.get(mirror.type_name) else {
            out.push(format!(
                "{}: rosbags reported no definition",
                mirror.type_name
            ));
            continue;
        };
        let ours_fields: Vec<serde_json::Value> = mirror
            .fields
            .iter()
            .map(|f| serde_json::json!([f.name, resolve(f.ros_type, mirror.package())]))
            .collect();
        if theirs["fields"].as_array() != Some(&ours_fields) {
            out.push(format!(
                "{}: fields {ours_fields:?}, rosbags has {}",
                mirror.type_name, theirs["fields"]
            ));
        }
        let ours_constants: Vec<serde_json::Value> = mirror
            .constants
            .iter()
            .map(|c| serde_json::json!([c.name, c.ros_type, c.value as i64]))
            .collect();
        if theirs["constants"].as_array() != Some(&ours_constants) {
            out.push(format!(
                "{}: constants {ours_constants:?}, rosbags has {}",
                mirror.type_name, theirs["constants"]
            ));
        }
    }
    out
}

#[test]
fn cases_cover_every_mirrored_message() {
    let covered: std::collections::BTreeSet<&str> = cases().iter().map(|c| c.type_name).collect();
    for mirror in VLA_PERF_MESSAGES.iter().chain(STANDARD_MESSAGES) {
        assert!(
            covered.contains(mirror.type_name),
            "no case for {}",
            mirror.type_name
        );
    }
    let mut names: Vec<String> = cases().into_iter().map(|c| c.name).collect();
    let total = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), total, "case names must be unique");
}

#[test]
fn rosbags_reads_what_rust_writes_and_rust_reads_what_rosbags_writes() {
    require_rosbags();
    let cases = cases();
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), &cases);

    let output = common::python()
        .arg(repo().join("tests/peers/rosbags_peer.py"))
        .arg(dir.path())
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "rosbags peer failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let out = dir.path().join("out");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["checked"], cases.len() + PROBES.len(), "{report}");

    let mut problems = Vec::new();
    let bless = std::env::var_os("VLA_PERF_BLESS").is_some();
    if bless {
        std::fs::create_dir_all(golden_dir()).unwrap();
    }
    for case in &cases {
        for order in ["le", "be"] {
            let theirs = std::fs::read(out.join(format!("{}.{order}.cdr", case.name))).unwrap();
            match (case.decode)(&theirs) {
                Ok(value) => problems.extend(difference(
                    &format!("{} ({order})", case.name),
                    &value,
                    &case.expected,
                )),
                Err(e) => problems.push(format!(
                    "{} ({order}): cannot decode rosbags' bytes: {e}",
                    case.name
                )),
            }
            if order == "le" && theirs != case.bytes {
                problems.push(format!(
                    "{}: Rust and rosbags wrote different LE bytes",
                    case.name
                ));
            }
            if order == "le" && bless {
                std::fs::write(golden_dir().join(format!("{}.cdr", case.name)), &theirs).unwrap();
            }
        }
    }
    for (i, (name, type_name, payload_len)) in PROBES.iter().enumerate() {
        for order in ["le", "be"] {
            let theirs =
                std::fs::read(out.join("probes").join(format!("{name}.{order}.cdr"))).unwrap();
            assert!(theirs.len() > *payload_len, "{type_name}: payload missing");
            match decode_header(&theirs) {
                Ok(h) if h == probe_header(i) => {}
                other => problems.push(format!(
                    "{type_name} ({order}): decode_header gave {other:?}"
                )),
            }
        }
    }
    let definitions: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("definitions.json")).unwrap())
            .unwrap();
    problems.extend(definition_mismatches(&definitions));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn golden_cdr_fixtures_decode_and_encode_identically() {
    let mut problems = Vec::new();
    for case in cases() {
        let path = golden_dir().join(format!("{}.cdr", case.name));
        let Ok(golden) = std::fs::read(&path) else {
            problems.push(format!(
                "{} is missing; run `VLA_PERF_BLESS=1 cargo test --test rosbags_interop` (needs `bash .ci/setup`)",
                path.display()
            ));
            continue;
        };
        if golden != case.bytes {
            problems.push(format!(
                "{}: to_cdr differs from the rosbags golden file",
                case.name
            ));
        }
        match (case.decode)(&golden) {
            Ok(value) => problems.extend(difference(&case.name, &value, &case.expected)),
            Err(e) => problems.push(format!("{}: {e}", case.name)),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_value_comparison_notices_a_changed_float_bit_and_a_changed_string() {
    let original = serde_value::to_value(StageEvent::default()).unwrap();
    let negative_zero = serde_value::to_value(StageEvent {
        confidence: -0.0,
        ..StageEvent::default()
    })
    .unwrap();
    let renamed = serde_value::to_value(StageEvent {
        stage: "x".into(),
        ..StageEvent::default()
    })
    .unwrap();
    let nan = serde_value::to_value(StageEvent {
        confidence: f64::NAN,
        ..StageEvent::default()
    })
    .unwrap();
    assert_eq!(difference("m", &original, &original), None);
    assert_eq!(difference("m", &nan, &nan), None);
    assert!(difference("m", &negative_zero, &original)
        .unwrap()
        .contains("m.confidence"));
    assert!(difference("m", &renamed, &original)
        .unwrap()
        .contains("m.stage"));
}

#[test]
fn non_finite_floats_reach_the_peer_as_strings_it_can_parse() {
    assert_eq!(float_json(f64::NAN), "NaN");
    assert_eq!(float_json(f64::INFINITY), "Infinity");
    assert_eq!(float_json(f64::NEG_INFINITY), "-Infinity");
    assert_eq!(float_json(-0.0).to_string(), "-0.0");
    let map: BTreeMap<&str, f64> = [("x", 0.1)].into();
    assert_eq!(to_json(&serde_value::to_value(map).unwrap())["x"], 0.1);
}
