//! `config/foxglove_layout.json` is a Foxglove layout that only references what the suite
//! publishes: valid JSON, a panel tree over its panel configs, topics from the README's topic
//! tables (the collector's and the alert node's), and message paths whose every field, array
//! step and filter exists in the `.msg` files of `msg/`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::repo;
use serde_json::Value;

fn layout() -> Value {
    let text = std::fs::read_to_string(repo().join("config/foxglove_layout.json")).unwrap();
    serde_json::from_str(&text).expect("config/foxglove_layout.json is valid JSON")
}

/// Topic -> ROS type (`vla_perf/MetricArray`) from the README's `| \`/topic\` | \`type\` |`
/// table rows.
fn published_topics() -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    readme
        .lines()
        .filter_map(|l| {
            let mut cells = l.strip_prefix("| `/")?.split('|');
            let topic = format!("/{}", cells.next()?.trim().trim_end_matches('`'));
            let ty = cells.next()?.trim().trim_matches('`').to_owned();
            Some((topic, ty))
        })
        .collect()
}

/// Field name -> (type as written, is array) of `msg/<name>.msg`.
fn msg_fields(name: &str) -> BTreeMap<String, (String, bool)> {
    let path = repo().join(format!("msg/{name}.msg"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty() && !l.contains('='))
        .map(|l| {
            let (ty, field) = l.split_once(char::is_whitespace).expect("type name");
            let array = ty.ends_with(']');
            let ty = ty.split('[').next().unwrap().to_owned();
            (field.trim().to_owned(), (ty, array))
        })
        .collect()
}

/// Where a path walk stands: a message type (None for a primitive) and whether it is an
/// array not yet sliced.
#[derive(Debug, Clone)]
struct At {
    ty: String,
    array: bool,
}

fn is_message(ty: &str) -> bool {
    ty.chars().next().is_some_and(char::is_uppercase) && !ty.contains('/')
}

/// The type of field `name` of `at` (a vla_perf message, not an array).
fn field(path: &str, at: &At, name: &str) -> At {
    assert!(!at.array, "{path}: `.{name}` on an array; slice it first");
    assert!(
        is_message(&at.ty),
        "{path}: `.{name}` inside {} (not a vla_perf message of msg/)",
        at.ty
    );
    let (ty, array) = msg_fields(&at.ty)
        .remove(name)
        .unwrap_or_else(|| panic!("{path}: {} has no field {name}", at.ty));
    At { ty, array }
}

/// Walks a Foxglove message path (`/topic.a[:]{b=="x"}{c==10}.d`) over `root`; returns the
/// type it ends on.
fn walk(path: &str, root: &str) -> At {
    let rest = path.trim_start_matches(|c| c != '.' && c != '{' && c != '[');
    let mut at = At {
        ty: root.to_owned(),
        array: false,
    };
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = |open: char, close: char| {
            rest[i..]
                .find(close)
                .map(|n| i + n)
                .unwrap_or_else(|| panic!("{path}: unclosed {open}"))
        };
        match c {
            '.' => {
                let n = rest[i + 1..]
                    .find(['.', '[', '{'])
                    .map_or(rest.len(), |n| i + 1 + n);
                at = field(path, &at, &rest[i + 1..n]);
                while chars.peek().is_some_and(|(j, _)| *j < n) {
                    chars.next();
                }
            }
            '[' => {
                let close = end('[', ']');
                assert!(at.array, "{path}: slice of {} which is not an array", at.ty);
                at.array = false;
                while chars.peek().is_some_and(|(j, _)| *j <= close) {
                    chars.next();
                }
            }
            '{' => {
                let close = end('{', '}');
                let filter = &rest[i + 1..close];
                let (lhs, value) = filter
                    .split_once("==")
                    .unwrap_or_else(|| panic!("{path}: filter {filter} is not field==value"));
                let mut target = at.clone();
                for name in lhs.split('.') {
                    target = field(path, &target, name);
                }
                let quoted = value.starts_with('"') || value.starts_with('\'');
                let numeric = value.parse::<f64>().is_ok();
                match target.ty.as_str() {
                    "string" => assert!(quoted, "{path}: {lhs} is a string, {value} is not"),
                    t if t.starts_with("float")
                        || t.starts_with("int")
                        || t.starts_with("uint") =>
                    {
                        assert!(numeric, "{path}: {lhs} is a number, {value} is not")
                    }
                    other => panic!("{path}: cannot filter on {lhs} of type {other}"),
                }
                while chars.peek().is_some_and(|(j, _)| *j <= close) {
                    chars.next();
                }
            }
            other => panic!("{path}: unexpected {other:?}"),
        }
    }
    at
}

/// Every (panel id, message path or topic) the layout references.
fn references(layout: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (id, config) in layout["configById"].as_object().unwrap() {
        for p in config["paths"].as_array().into_iter().flatten() {
            out.push((id.clone(), p["value"].as_str().unwrap().to_owned()));
        }
        for key in ["topicPath", "topicToRender"] {
            if let Some(topic) = config[key].as_str() {
                out.push((id.clone(), topic.to_owned()));
            }
        }
    }
    out
}

fn panel_ids(node: &Value, out: &mut BTreeSet<String>) {
    match node {
        Value::String(id) => {
            out.insert(id.clone());
        }
        Value::Object(split) => {
            panel_ids(&split["first"], out);
            panel_ids(&split["second"], out);
            assert!(
                matches!(split["direction"].as_str(), Some("row" | "column")),
                "{split:?}"
            );
        }
        other => panic!("layout node {other}"),
    }
}

#[test]
fn the_layout_is_a_panel_tree_over_its_panel_configs() {
    let layout = layout();
    let mut ids = BTreeSet::new();
    panel_ids(&layout["layout"], &mut ids);
    let configs: BTreeSet<String> = layout["configById"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(ids, configs);
    let kinds: BTreeSet<&str> = ids.iter().filter_map(|id| id.split('!').next()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "Plot",
            "DiagnosticSummary",
            "DiagnosticStatusPanel",
            "RawMessages"
        ])
    );
    // Stage percentiles are plotted against the stage's index in the latest batch.
    let stage = &layout["configById"]["Plot!stage_percentiles"];
    assert_eq!(stage["xAxisVal"], "index");
    assert_eq!(stage["paths"].as_array().unwrap().len(), 3);
    assert_eq!(
        layout["configById"]["RawMessages!alerts"]["topicPath"],
        "/vla_perf/alerts"
    );
}

#[test]
fn every_topic_is_published_by_the_suite_and_every_path_exists_in_the_msg_files() {
    let topics = published_topics();
    assert!(topics.contains_key("/vla_perf/metrics"), "{topics:?}");
    let layout = layout();
    let refs = references(&layout);
    let mut used = BTreeSet::new();
    for (panel, path) in &refs {
        let topic: String = path
            .chars()
            .take_while(|c| !matches!(c, '.' | '{' | '['))
            .collect();
        let ty = topics
            .get(&topic)
            .unwrap_or_else(|| panic!("{panel}: {topic} is not a topic the suite publishes"));
        used.insert(topic.clone());
        if topic == *path {
            continue;
        }
        let root = ty
            .strip_prefix("vla_perf/")
            .unwrap_or_else(|| panic!("{panel}: {path} descends into {ty}, not in msg/"));
        let end = walk(path, root);
        if panel.starts_with("Plot!") {
            assert!(
                !end.array && !is_message(&end.ty) && end.ty != "string" && end.ty != "bool",
                "{panel}: {path} ends on {end:?}, not a number"
            );
        }
    }
    for topic in [
        "/vla_perf/metrics",
        "/vla_perf/command_latency",
        "/vla_perf/resources",
        "/vla_perf/alerts",
        "/diagnostics",
    ] {
        assert!(used.contains(topic), "the layout does not show {topic}");
    }
}

#[test]
fn the_path_check_rejects_unknown_fields_bad_filters_and_unsliced_arrays() {
    let rejects = |path: &str| {
        std::panic::catch_unwind(|| walk(path, "MetricArray"))
            .expect_err(&format!("{path} was accepted"));
    };
    walk(
        r#"/vla_perf/metrics.metrics[:]{name=="stage_latency"}{window==10}.p95"#,
        "MetricArray",
    );
    rejects(r#"/vla_perf/metrics.metrics[:]{name=="stage_latency"}.p96"#);
    rejects(r#"/vla_perf/metrics.metrics[:]{stage=="plan"}.p95"#);
    rejects(r#"/vla_perf/metrics.metrics[:]{window=="10"}.p95"#);
    rejects(r#"/vla_perf/metrics.metrics.p95"#);
    rejects(r#"/vla_perf/metrics.robot_id[0]"#);
    rejects(r#"/vla_perf/metrics.header.stamp.sec"#);
}
