//! The bodies of the fuzz targets, one function per target.
//!
//! Kept out of the `fuzz_targets/` files so that `tests/fuzz_regressions.rs` (a plain
//! `cargo test` at the repository root) replays every committed seed and regression input
//! through exactly the code libFuzzer runs: it includes this file with `#[path]`. A target
//! fails by panicking; every function here must return normally for any input.

use std::time::Duration;

use vla_perf::collector::inputs::{Payload, StageInput};
use vla_perf::collector::pipeline::Message;
use vla_perf::config::{self, FieldMatch, JsonFields, StageConfig};
use vla_perf::core::extract::{JsonPath, JsonPayload};
use vla_perf::core::timeline::Correlation;
use vla_perf::msg::cdr;
use vla_perf::msg::{action_msgs, audio_common_msgs, sensor_msgs, std_msgs};
use vla_perf::msg::{vision_msgs, RosMessage};
use vla_perf::sim::SimConfig;

/// A target's body: takes libFuzzer's input, panics on a finding.
pub type Body = fn(&[u8]);

/// Every target: its name (the `fuzz_targets/<name>.rs` binary and the `seeds/<name>/` and
/// `regressions/<name>/` directories) and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("config_collector", config_collector),
    ("config_alerts", config_alerts),
    ("config_scenario", config_scenario),
    ("config_sim", config_sim),
    ("cdr_inputs", cdr_inputs),
    ("cdr_messages", cdr_messages),
    ("json_extract", json_extract),
];

/// Config files are text; bytes that are not UTF-8 are rejected by the loaders' callers
/// (`std::fs::read_to_string`) before parsing, so they are not interesting here.
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Errors must render: every message names file, position, field and value.
fn render<T, E: std::fmt::Display>(result: Result<T, E>) {
    if let Err(e) = result {
        let _ = e.to_string();
    }
}

/// The collector config loader (`collector:`), and kind detection as `check-config` does it.
pub fn config_collector(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(loaded) = config::parse_collector("fuzz.yaml", text) {
        // What the node builds from a valid config must be buildable too.
        let _ = loaded.config.summary();
        let _ = loaded.config.tracker_config();
        render(vla_perf::collector::Pipeline::new(&loaded.config));
    }
    let _ = config::detect_kind(text);
    render(config::parse_any("fuzz.yaml", text).map(|l| l.config.summary()));
}

/// The alert rules loader (`rules:` / `performance_alerts:` / `notifications:`).
pub fn config_alerts(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(loaded) = config::parse_alerts("fuzz.yaml", text) {
        let _ = loaded.config.summary();
    }
    render(config::parse_any("fuzz.yaml", text).map(|l| l.config.summary()));
}

/// The benchmark scenario loader (`scenario:`).
pub fn config_scenario(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(loaded) = config::parse_scenario("fuzz.yaml", text) {
        let _ = loaded.config.summary();
    }
    render(config::parse_any("fuzz.yaml", text).map(|l| l.config.summary()));
}

/// The simulated stack's config loader (`sim_stack:`).
pub fn config_sim(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(sim) = SimConfig::parse(text) {
        render(sim.effective().validate());
    }
}

/// Every input type the collector accepts, decoded as `collector::pipeline::Message` does
/// (the live node's subscription decoders and `vla-perf analyze` share it), with the first
/// byte choosing the type; what decodes is then read by a stage input of that type.
pub const INPUT_TYPES: &[&str] = &[
    std_msgs::String::TYPE_NAME,
    action_msgs::GoalStatusArray::TYPE_NAME,
    vla_perf::msg::StageEvent::TYPE_NAME,
    audio_common_msgs::AUDIO_DATA,
    audio_common_msgs::AUDIO_DATA_STAMPED,
    // Any other type is read header-only; two real ones stand for all of them.
    sensor_msgs::Image::TYPE_NAME,
    vision_msgs::Detection2DArray::TYPE_NAME,
];

/// See [`INPUT_TYPES`].
pub fn cdr_inputs(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let msg_type = INPUT_TYPES[usize::from(selector) % INPUT_TYPES.len()];
    let Ok(message) = Message::decode(msg_type, bytes) else {
        return;
    };
    let _ = message.stamp();
    // A field each payload kind can match on: a JSON key, a goal status, a StageEvent
    // field, the header's frame id.
    let field = match &message {
        Message::Text(_) => "meta.status",
        Message::Goals(_) => "status",
        Message::StageEvent(_) => "stage",
        Message::Header(_) | Message::Audio(_) => "header.frame_id",
    };
    let mut stage = StageConfig::new("s", "/fuzz", msg_type, Correlation::Fifo);
    stage.accept = Some(FieldMatch {
        field: field.to_owned(),
        values: vec!["4".into(), "done".into()],
    });
    let Ok(mut input) = StageInput::new(1, &stage) else {
        panic!("a stage input of {msg_type} with a valid path must build");
    };
    render(input.extract(Duration::from_secs(1), message.payload()));
}

/// Decodes `T`; what decodes must encode again and decode to the same bytes.
fn round_trip<T: RosMessage>(bytes: &[u8]) {
    let Ok(value) = cdr::from_cdr::<T>(bytes) else {
        return;
    };
    let first = cdr::to_cdr(&value)
        .unwrap_or_else(|e| panic!("{}: a decoded value must encode: {e}", T::TYPE_NAME));
    let again: T = cdr::from_cdr(&first)
        .unwrap_or_else(|e| panic!("{}: our own encoding must decode: {e}", T::TYPE_NAME));
    let second = cdr::to_cdr(&again).unwrap_or_else(|e| panic!("{}: {e}", T::TYPE_NAME));
    assert_eq!(first, second, "{}: encoding is not stable", T::TYPE_NAME);
}

/// The decoders of every message mirror, chosen by the first byte: `(type name, decoder)`.
pub const MESSAGES: &[(&str, Body)] = {
    macro_rules! messages {
        ($($t:ty),* $(,)?) => { &[$((<$t as RosMessage>::TYPE_NAME, round_trip::<$t>)),*] };
    }
    use vla_perf::msg::*;
    messages![
        StageEvent,
        StageLatency,
        CommandLatency,
        MetricSummary,
        MetricArray,
        ProcessUsage,
        GpuUsage,
        ResourceUsage,
        Alert,
        Kpi,
        BenchmarkResult,
        std_msgs::Header,
        std_msgs::String,
        diagnostic_msgs::DiagnosticArray,
        action_msgs::GoalStatusArray,
        sensor_msgs::Image,
        vision_msgs::Detection2DArray,
        audio_common_msgs::AudioStamped,
    ]
};

/// Every vla_perf message and the standard messages the suite reads or writes: decode, and
/// for what decodes, a stable re-encoding. See [`MESSAGES`].
pub fn cdr_messages(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let (_, decode) = MESSAGES[usize::from(selector) % MESSAGES.len()];
    decode(bytes);
}

/// JSON field extraction from `std_msgs/String` payloads. The first line is a dotted path,
/// the rest the payload: read directly, and through a stage input that takes the path as
/// its id, confidence, status and accept field as the collector does.
pub fn json_extract(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let (path, payload) = text.split_once('\n').unwrap_or((text, ""));
    let parsed_path = JsonPath::parse(path);
    if let (Ok(p), Ok(json)) = (&parsed_path, JsonPayload::parse(payload)) {
        if let Ok(Some(scalar)) = json.field(p) {
            let _ = (scalar.to_key(), scalar.to_f64());
        }
    }
    if parsed_path.is_err() {
        return;
    }
    let stage = StageConfig::new(
        "plan",
        "/fuzz",
        std_msgs::String::TYPE_NAME,
        Correlation::Id {
            field: path.to_owned(),
        },
    )
    .with_json(JsonFields {
        id: Some(path.to_owned()),
        confidence: Some(path.to_owned()),
        status: Some(path.to_owned()),
    });
    let mut stage = stage;
    stage.accept = Some(FieldMatch {
        field: path.to_owned(),
        values: vec!["ok".into()],
    });
    let Ok(mut input) = StageInput::new(2, &stage) else {
        panic!("a stage input with a valid path must build");
    };
    render(input.extract(Duration::from_secs(1), Payload::Text(payload)));
}
