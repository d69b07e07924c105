//! Offline analysis of rosbag2 recordings written by an independent writer.
//!
//! `tests/peers/bag_writer.py` writes a simulated VLA stack into a rosbag2 directory with
//! the Python `rosbags` library (MCAP, zstd-compressed MCAP and sqlite3 storage) and prints
//! the log time of every stage message: the ground truth. The analysis must reproduce every
//! command's outcome and stage latencies within 1 ms, the latency percentiles, SLO,
//! success rates and topic rates; damaged copies must yield the readable part with a
//! warning; a recorded type unlike the configured one must be skipped and counted.
//! `tests/peers/bag_reader.py` reads the MCAP the analysis writes back with `rosbags`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use vla_perf::analyze::{self, Options, Outputs};
use vla_perf::config::{self, CollectorConfig};

const STAGES: [&str; 6] = [
    "voice",
    "transcript",
    "plan",
    "vision",
    "action_start",
    "action_done",
];
const START_NS: u64 = 1_700_000_000_000_000_000;
const CAMERA_HZ: f64 = 10.0;
const TOLERANCE: f64 = 1e-3;

const SETTINGS: &str = r#"  robot_id: bag_test
  command_timeout: 4s
  significant_digits: 5
  publish_period: 1s
  windows: [10s]
  slo: {threshold: 3s, target: 0.9}
  prometheus: {enabled: false}
"#;
const TOPICS: &str = r#"  topics:
    - topic: /camera/image_raw
      msg_type: sensor_msgs/msg/Image
      expected_rate_hz: 10
    # Recorded as geometry_msgs/msg/PoseStamped: a type mismatch to skip and count.
    - topic: /odom
      msg_type: nav_msgs/msg/Odometry
"#;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A deterministic spread of delays (a linear congruential generator, seeded per command).
fn delay(seed: u64, lo: f64, hi: f64) -> f64 {
    let x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    lo + (hi - lo) * ((x >> 33) as f64 / (1u64 << 31) as f64)
}

/// Commands of every outcome; a lost one is followed by a pause longer than the timeout so
/// the next command's vision and action messages cannot pair with it.
fn plan(storage: &str, compress: bool, duration: f64) -> (Value, usize) {
    let outcomes = [
        "succeeded",
        "succeeded",
        "rejected",
        "succeeded",
        "aborted",
        "succeeded",
        "lost",
        "succeeded",
        "succeeded",
        "rejected",
        "succeeded",
        "aborted",
        "succeeded",
        "succeeded",
        "succeeded",
        "succeeded",
    ];
    let mut commands = Vec::new();
    let mut at = 0.3;
    for (i, outcome) in outcomes.iter().enumerate() {
        let s = i as u64 * 10;
        let delays = serde_json::json!({
            "transcript": delay(s + 1, 0.05, 0.4),
            "plan": delay(s + 2, 0.3, 1.2),
            "vision": delay(s + 3, 0.02, 0.2),
            "action_start": delay(s + 4, 0.01, 0.1),
            "action_done": delay(s + 5, 0.5, 2.0),
        });
        let total: f64 = [
            "transcript",
            "plan",
            "vision",
            "action_start",
            "action_done",
        ]
        .iter()
        .map(|k| delays[k].as_f64().unwrap_or(0.0))
        .sum();
        commands.push(serde_json::json!({
            "id": format!("c{i}"), "at": at, "outcome": outcome, "delays": delays,
            "confidence": 0.5 + i as f64 / 40.0,
        }));
        at += total + 0.25 + if *outcome == "lost" { 5.0 } else { 0.0 };
    }
    let plan = serde_json::json!({
        "storage": storage, "compress": compress, "start_ns": START_NS,
        "commands": commands,
        "streams": [
            {"topic": "/camera/image_raw", "type": "sensor_msgs/msg/Image",
             "rate": CAMERA_HZ, "duration": duration.max(at), "width": 160, "height": 120},
            {"topic": "/odom", "type": "geometry_msgs/msg/PoseStamped",
             "rate": 5, "duration": 4},
        ],
    });
    (plan, outcomes.len())
}

/// One command as the writer recorded it.
#[derive(Debug, Default, Clone)]
struct Truth {
    outcome: String,
    times: BTreeMap<String, u64>,
}

/// Writes the bag; returns its directory and the ground truth per command id.
fn write_bag(dir: &Path, name: &str, plan: &Value) -> (PathBuf, BTreeMap<String, Truth>) {
    let plan_path = dir.join(format!("{name}.json"));
    std::fs::write(&plan_path, plan.to_string()).unwrap();
    let bag = dir.join(name);
    let out = common::python()
        .arg(repo().join("tests/peers/bag_writer.py"))
        .arg(&plan_path)
        .arg(&bag)
        .output()
        .expect("running the bag writer peer");
    assert!(
        out.status.success(),
        "bag_writer.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcomes: BTreeMap<String, String> = plan["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let id = c["id"].as_str().unwrap().to_owned();
            let outcome = match c["outcome"].as_str().unwrap() {
                "succeeded" => "succeeded",
                "rejected" | "aborted" => "failed",
                _ => "timed_out",
            };
            (id, outcome.to_owned())
        })
        .collect();
    let mut truth: BTreeMap<String, Truth> = BTreeMap::new();
    let mut done = false;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["done"] == true {
            done = true;
            continue;
        }
        let id = v["id"].as_str().unwrap().to_owned();
        let t = truth.entry(id.clone()).or_default();
        t.outcome = outcomes[&id].clone();
        t.times.insert(
            v["stage"].as_str().unwrap().into(),
            v["t_ns"].as_u64().unwrap(),
        );
    }
    assert!(done, "the writer did not finish");
    (bag, truth)
}

/// Per stage latency (seconds since the previous reached stage) of a truth entry.
fn stage_latencies(t: &Truth) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut previous: Option<u64> = None;
    for stage in STAGES {
        if let Some(&at) = t.times.get(stage) {
            if let Some(p) = previous {
                out.insert(stage.to_owned(), (at - p) as f64 / 1e9);
            }
            previous = Some(at);
        }
    }
    out
}

/// The stage a failed command failed at: the last one it reached.
fn failed_stage(t: &Truth) -> Option<&'static str> {
    if t.outcome != "failed" {
        return None;
    }
    STAGES
        .iter()
        .rev()
        .copied()
        .find(|s| t.times.contains_key(*s))
}

fn end_to_end(t: &Truth) -> Option<f64> {
    (t.outcome == "succeeded").then(|| (t.times["action_done"] - t.times["voice"]) as f64 / 1e9)
}

/// Nearest-rank percentile, what an HDR histogram reports.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn load_config(dir: &Path) -> (CollectorConfig, PathBuf) {
    let path = dir.join("collector.yaml");
    std::fs::write(&path, common::stack_peer_config(SETTINGS, TOPICS)).unwrap();
    (config::load_collector(&path).unwrap(), path)
}

fn analyse(dir: &Path, bag: &Path, name: &str, mcap: bool) -> analyze::Analysis {
    let (config, config_path) = load_config(dir);
    let outputs = Outputs {
        dir: dir.join(format!("{name}_report")),
        csv: Some(dir.join(format!("{name}.csv"))),
        mcap: mcap.then(|| dir.join(format!("{name}_out.mcap"))),
    };
    analyze::run(
        bag,
        &config,
        Some(&config_path),
        Options::default(),
        &outputs,
        &mut |_, _| {},
    )
    .expect("the analysis runs")
}

/// CSV rows by command id: outcome and the latency columns.
fn csv_rows(path: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let row: BTreeMap<String, String> = header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect();
            (row["command_id"].clone(), row)
        })
        .collect()
}

fn close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= TOLERANCE,
        "{what}: analysed {actual}, ground truth {expected}"
    );
}

/// Every command of `truth` (or the ones listed) appears in the CSV with its outcome and
/// stage latencies.
fn check_commands(csv: &Path, truth: &BTreeMap<String, Truth>, only: Option<&[String]>) {
    let rows = csv_rows(csv);
    for (id, t) in truth {
        if only.is_some_and(|ids| !ids.contains(id)) {
            continue;
        }
        let row = rows
            .get(id)
            .unwrap_or_else(|| panic!("command {id} missing from the CSV: {rows:?}"));
        assert_eq!(row["outcome"], t.outcome, "command {id}");
        for (stage, expected) in stage_latencies(t) {
            let value: f64 = row[&stage]
                .parse()
                .unwrap_or_else(|_| panic!("{id} {stage}: `{}`", row[&stage]));
            close(value, expected, &format!("{id} {stage}"));
        }
        match end_to_end(t) {
            Some(e2e) => close(
                row["end_to_end"].parse().unwrap(),
                e2e,
                &format!("{id} e2e"),
            ),
            None => assert_eq!(row["end_to_end"], "", "{id}"),
        }
    }
}

/// The full check of one bag's analysis against its ground truth.
fn check_full(analysis: &analyze::Analysis, csv: &Path, truth: &BTreeMap<String, Truth>) {
    let r = &analysis.report;
    assert!(
        r.warnings.iter().all(|w| !w.contains("damaged")),
        "{:?}",
        r.warnings
    );
    check_commands(csv, truth, None);
    let count = |o: &str| truth.values().filter(|t| t.outcome == o).count() as u64;
    assert_eq!(r.commands.succeeded, count("succeeded"));
    assert_eq!(r.commands.failed, count("failed"));
    assert_eq!(r.commands.timed_out, count("timed_out"));
    assert_eq!(r.commands.abandoned, 0);
    // Percentiles per stage and end to end.
    for stage in &r.stages[1..] {
        // The failing stage's time is time-to-failure, not a latency.
        let mut samples: Vec<f64> = truth
            .values()
            .filter(|t| failed_stage(t) != Some(stage.name.as_str()))
            .filter_map(|t| stage_latencies(t).get(&stage.name).copied())
            .collect();
        samples.sort_by(f64::total_cmp);
        let s = stage.latency.summary.expect("every stage has latencies");
        assert_eq!(s.count, samples.len() as u64, "stage {}", stage.name);
        for (q, v) in [(0.5, s.p50), (0.9, s.p90), (0.95, s.p95), (0.99, s.p99)] {
            close(v, percentile(&samples, q), &format!("{} p{q}", stage.name));
        }
        close(
            s.max,
            samples[samples.len() - 1],
            &format!("{} max", stage.name),
        );
        close(s.min, samples[0], &format!("{} min", stage.name));
    }
    let mut e2e: Vec<f64> = truth.values().filter_map(end_to_end).collect();
    e2e.sort_by(f64::total_cmp);
    let s = r.end_to_end.summary.expect("succeeded commands");
    assert_eq!(s.count, e2e.len() as u64);
    for (q, v) in [(0.5, s.p50), (0.9, s.p90), (0.95, s.p95), (0.99, s.p99)] {
        close(v, percentile(&e2e, q), &format!("end to end p{q}"));
    }
    close(
        s.mean,
        e2e.iter().sum::<f64>() / e2e.len() as f64,
        "end to end mean",
    );
    // SLO: succeeded within the threshold over succeeded plus timed out.
    let good = e2e.iter().filter(|v| **v <= r.slo.threshold).count() as f64;
    let slo = good / (e2e.len() as u64 + count("timed_out")) as f64;
    assert!(
        (r.slo.compliance.unwrap() - slo).abs() < 1e-9,
        "{:?} vs {slo}",
        r.slo
    );
    assert_eq!(r.slo.met, slo >= r.slo.target);
    // Accuracy: rejected plans fail the plan stage; finished commands count for the task.
    let finished = truth.len() as f64;
    let rejected = truth
        .values()
        .filter(|t| t.outcome == "failed" && !t.times.contains_key("vision"))
        .count() as f64;
    let understanding = r.accuracy.understanding_rate.unwrap();
    assert!((understanding - (finished - rejected) / finished).abs() < 1e-9);
    let task = r.accuracy.task_success_rate.unwrap();
    assert!((task - count("succeeded") as f64 / finished).abs() < 1e-9);
    // Topic health: the camera stream's count and rate, the transcript confidences.
    let camera = r
        .topics
        .iter()
        .find(|t| t.topic == "/camera/image_raw")
        .unwrap();
    assert!(camera.messages > 100, "{camera:?}");
    assert!(
        camera.bytes >= camera.messages * 160 * 120 * 3,
        "{camera:?}"
    );
    let window = camera.window_rate_hz.unwrap();
    assert!((window - CAMERA_HZ).abs() < 0.5, "{camera:?}");
    assert_eq!(camera.status, "OK", "{camera:?}");
    let transcript = &r.stages[1];
    let confidence = transcript
        .confidence
        .expect("transcripts carry confidences");
    assert_eq!(confidence.count, truth.len() as u64);
    // The mismatching topic is skipped and counted, with a warning naming it.
    let odom = r
        .skips
        .iter()
        .find(|s| s.topic == "/odom")
        .expect("odom skipped");
    assert_eq!(odom.messages, 20);
    assert!(
        odom.reason.contains("geometry_msgs/msg/PoseStamped"),
        "{odom:?}"
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("/odom")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn an_mcap_recording_reproduces_the_ground_truth_of_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = plan("mcap", false, 0.0);
    let (bag, truth) = write_bag(dir.path(), "stack", &plan);
    let analysis = analyse(dir.path(), &bag, "full", false);
    check_full(&analysis, &dir.path().join("full.csv"), &truth);
    assert_eq!(analysis.read.damaged_files, 0);
    assert_eq!(analysis.report.source.format, "mcap");
    // The report files exist and parse.
    let report_dir = dir.path().join("full_report");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(
        json["commands"]["succeeded"].as_u64(),
        Some(analysis.report.commands.succeeded)
    );
    assert_eq!(
        json["source"]["config_sha256"].as_str().map(str::len),
        Some(64)
    );
    let md = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    assert!(
        md.contains("| action_done |") && md.contains("/odom"),
        "{md}"
    );
    let svgs = ["latency_cdf.svg", "latency_over_time.svg", "throughput.svg"];
    for svg in svgs {
        let text = std::fs::read_to_string(report_dir.join(svg)).unwrap();
        assert_well_formed_xml(&text, svg);
        assert!(text.contains("<polyline"), "{svg} has no line");
    }
    // And an XML parser nobody here wrote agrees, finding an svg root in the SVG namespace.
    common::assert_svgs_parse(&svgs.map(|f| report_dir.join(f)));
}

#[test]
fn a_compressed_mcap_and_a_sqlite3_recording_give_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    for (storage, compress) in [("mcap", true), ("sqlite3", false)] {
        let (plan, _) = plan(storage, compress, 0.0);
        let name = format!("{storage}{compress}");
        let (bag, truth) = write_bag(dir.path(), &name, &plan);
        let analysis = analyse(dir.path(), &bag, &name, false);
        check_full(&analysis, &dir.path().join(format!("{name}.csv")), &truth);
        assert_eq!(analysis.report.source.format, storage);
    }
}

/// The bag's single storage file.
fn storage_file(bag: &Path, ext: &str) -> PathBuf {
    std::fs::read_dir(bag)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == ext))
        .unwrap()
}

/// A damaged copy: the readable commands match the truth, later ones are missing, and the
/// report says the recording is damaged.
fn check_partial(dir: &Path, damaged: &Path, name: &str, truth: &BTreeMap<String, Truth>) {
    let analysis = analyse(dir, damaged, name, false);
    let r = &analysis.report;
    assert_eq!(analysis.read.damaged_files, 1);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("damaged") && w.contains("after byte")),
        "{:?}",
        r.warnings
    );
    let end_ns = (r.source.end.expect("some messages were read") * 1e9) as u64;
    // Commands whose every message lies before the last one read are complete.
    let complete: Vec<String> = truth
        .iter()
        .filter(|(_, t)| t.times.values().all(|at| *at + 1_000 < end_ns))
        .filter(|(_, t)| t.outcome != "timed_out")
        .map(|(id, _)| id.clone())
        .collect();
    assert!(complete.len() >= 3, "too little was readable: {complete:?}");
    assert!(r.commands.total() < truth.len() as u64, "{:?}", r.commands);
    check_commands(&dir.join(format!("{name}.csv")), truth, Some(&complete));
    let md = std::fs::read_to_string(dir.join(format!("{name}_report/report.md"))).unwrap();
    assert!(md.contains("## Warnings") && md.contains("damaged"), "{md}");
}

#[test]
fn a_truncated_or_garbled_mcap_yields_the_readable_part_and_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = plan("mcap", false, 0.0);
    let (bag, truth) = write_bag(dir.path(), "stack", &plan);
    let bytes = std::fs::read(storage_file(&bag, "mcap")).unwrap();
    // Cut in the middle (no summary section, no footer, a chunk cut off).
    let cut = dir.path().join("cut.mcap");
    std::fs::write(&cut, &bytes[..bytes.len() * 55 / 100]).unwrap();
    check_partial(dir.path(), &cut, "cut", &truth);
    // Garbage over a stretch in the middle of the data, long enough to cover record headers
    // (the writer stores no chunk CRC, so garbage inside a payload alone is undetectable).
    let mut garbled = bytes.clone();
    let at = bytes.len() * 60 / 100;
    for (i, b) in garbled[at..at + (256 << 10)].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    let garbled_path = dir.path().join("garbled.mcap");
    std::fs::write(&garbled_path, &garbled).unwrap();
    let analysis = analyse(dir.path(), &garbled_path, "garbled", false);
    let r = &analysis.report;
    assert_eq!(analysis.read.damaged_files, 1);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("damaged after byte") && w.contains("next intact chunk")),
        "{:?}",
        r.warnings
    );
    // Reading resumed after the damage: the first commands and the last one are exact,
    // and some messages were lost.
    let last = format!("c{}", truth.len() - 1);
    let exact = ["c0".to_owned(), "c1".to_owned(), last];
    check_commands(&dir.path().join("garbled.csv"), &truth, Some(&exact));
    let intact = analyse(dir.path(), &bag, "intact", false);
    assert!(analysis.read.messages < intact.read.messages);
    assert!(analysis.read.messages > intact.read.messages / 2);
}

#[test]
fn a_truncated_sqlite3_recording_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = plan("sqlite3", false, 0.0);
    let (bag, _) = write_bag(dir.path(), "stack", &plan);
    let bytes = std::fs::read(storage_file(&bag, "db3")).unwrap();
    let cut = dir.path().join("cut.db3");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (config, config_path) = load_config(dir.path());
    let outputs = Outputs {
        dir: dir.path().join("cut_report"),
        ..Outputs::default()
    };
    let analysis = analyze::run(
        &cut,
        &config,
        Some(&config_path),
        Options::default(),
        &outputs,
        &mut |_, _| {},
    )
    .expect("a damaged database is a warning, not an error");
    assert_eq!(analysis.read.damaged_files, 1);
    assert!(
        analysis
            .report
            .warnings
            .iter()
            .any(|w| w.contains("sqlite3 storage damaged")),
        "{:?}",
        analysis.report.warnings
    );
    assert!(dir.path().join("cut_report/report.json").exists());
}

/// Balanced tags, one root, the XML declaration: enough to catch a broken writer.
fn assert_well_formed_xml(text: &str, what: &str) {
    assert!(text.starts_with("<?xml"), "{what}");
    let mut stack: Vec<String> = Vec::new();
    let mut rest = text;
    let mut roots = 0;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').expect("unclosed tag") + open;
        let tag = &rest[open + 1..close];
        assert!(!rest[..open].contains('>'), "{what}: stray > before {tag}");
        rest = &rest[close + 1..];
        if tag.starts_with('?') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name),
                "{what}: mismatched </{name}>"
            );
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap_or_default().to_owned();
            if stack.is_empty() {
                roots += 1;
            }
            stack.push(name);
        } else if stack.is_empty() {
            roots += 1;
        }
        // Attribute values must not hold raw < or unescaped quotes.
        assert!(!tag.contains('<'), "{what}: < inside {tag}");
    }
    assert!(stack.is_empty(), "{what}: unclosed {stack:?}");
    assert_eq!(roots, 1, "{what}: one root element");
    for entity in text.match_indices('&') {
        let after = &text[entity.0..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| after.starts_with(e)),
            "{what}: bare & at {}",
            entity.0
        );
    }
}

#[test]
fn the_computed_messages_written_to_mcap_are_read_back_by_rosbags() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = plan("mcap", false, 0.0);
    let (bag, truth) = write_bag(dir.path(), "stack", &plan);
    let analysis = analyse(dir.path(), &bag, "out", true);
    let out = dir.path().join("out_out.mcap");
    assert!(analysis.written.contains(&out));
    let read = common::python()
        .arg(repo().join("tests/peers/bag_reader.py"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "bag_reader.py: {}",
        String::from_utf8_lossy(&read.stderr)
    );
    let v: Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(
        v["topics"]["/vla_perf/command_latency"]["type"],
        "vla_perf/msg/CommandLatency"
    );
    let commands = v["commands"].as_array().unwrap();
    assert_eq!(commands.len(), truth.len());
    for c in commands {
        let id = c["command_id"].as_str().unwrap();
        let t = &truth[id];
        for (stage, expected) in stage_latencies(t) {
            close(
                c["stages"][&stage].as_f64().unwrap(),
                expected,
                &format!("{id} {stage}"),
            );
        }
        match end_to_end(t) {
            Some(e2e) => close(c["end_to_end"].as_f64().unwrap(), e2e, id),
            None => assert!(c["end_to_end"].is_null(), "{id}: {c}"),
        }
    }
    // One snapshot per second of the recording, with the collector's metric names.
    let snapshots = v["topics"]["/vla_perf/metrics"]["count"].as_u64().unwrap();
    assert!(
        (snapshots as f64 - analysis.report.duration).abs() <= 2.0,
        "{snapshots} snapshots over {} s",
        analysis.report.duration
    );
    let names: Vec<&str> = v["metric_names"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for name in [
        "stage_latency",
        "end_to_end_latency",
        "slo_compliance",
        "understanding_rate",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let diagnostics = v["diagnostics"].to_string();
    assert!(
        diagnostics.contains("vla_perf: stage plan"),
        "{diagnostics}"
    );
    assert!(v["topics"]["/vla_perf/topic_health"]["count"].as_u64() > Some(0));
}

#[test]
fn the_cli_writes_every_output_and_reports_its_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = plan("mcap", false, 0.0);
    let (bag, truth) = write_bag(dir.path(), "stack", &plan);
    let (_, config_path) = load_config(dir.path());
    let out = dir.path().join("report");
    let output = Command::new(env!("CARGO_BIN_EXE_vla-perf"))
        .arg("analyze")
        .arg(&bag)
        .arg("--config")
        .arg(&config_path)
        .arg("--out")
        .arg(&out)
        .arg("--csv")
        .arg(dir.path().join("commands.csv"))
        .arg("--mcap-out")
        .arg(dir.path().join("vla_perf.mcap"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("messages/s") && stdout.contains("MB/s"),
        "{stdout}"
    );
    assert!(stderr.contains("warning: topic /odom"), "{stderr}");
    assert!(
        stdout.contains(&format!("{} commands", truth.len())),
        "{stdout}"
    );
    for f in ["report.json", "report.md", "latency_cdf.svg"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert_eq!(
        csv_rows(&dir.path().join("commands.csv")).len(),
        truth.len()
    );
    assert!(dir.path().join("vla_perf.mcap").is_file());
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .chain(std::fs::read_dir(dir.path()).unwrap())
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A missing bag is a clear error, not a panic.
    let missing = Command::new(env!("CARGO_BIN_EXE_vla-perf"))
        .args(["analyze", "/nonexistent/bag", "--out"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("/nonexistent/bag") && !err.contains("panicked"),
        "{err}"
    );
}
