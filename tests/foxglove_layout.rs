//! `config/foxglove_layout.json` is a Foxglove layout that only references what the suite
//! serves: valid JSON, a panel tree over its panel configs of known panel types, topics
//! that the Foxglove server advertises (the same as the README's topic table), and message
//! paths whose every field, array step and filter exists in the advertised `ros2msg`
//! schema of the topic's channel.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::foxglove::Client;
use common::repo;
use serde_json::Value;
use vla_perf::transport::inproc::InprocTransport;
use vla_perf::transport::{NodeOptions, Transport};

fn layout() -> Value {
    let text = std::fs::read_to_string(repo().join("config/foxglove_layout.json")).unwrap();
    serde_json::from_str(&text).expect("config/foxglove_layout.json is valid JSON")
}

/// Topic -> ROS type (`vla_perf/MetricArray`) from the README's `| \`/topic\` | \`type\` |`
/// table rows.
fn readme_topics() -> BTreeMap<String, String> {
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

/// `pkg/msg/Type` or `pkg/Type` as `pkg/Type`.
fn short(type_name: &str) -> String {
    type_name.replace("/msg/", "/")
}

/// Field name -> (type: primitive or `pkg/Type`, is array), per message type.
type Types = BTreeMap<String, BTreeMap<String, (String, bool)>>;

const PRIMITIVES: [&str; 15] = [
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
    "uint32", "int64", "uint64", "string", "wstring",
];

/// The message types of one `ros2msg` schema: the root's definition, then each
/// `MSG: pkg/Type` block after a line of `=`.
fn parse_schema(root: &str, schema: &str, types: &mut Types) {
    for (i, block) in schema.split(&"=".repeat(80)).enumerate() {
        let mut lines = block
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim());
        let name = match i {
            0 => short(root),
            _ => {
                let header = lines.find(|l| !l.is_empty()).expect("MSG: line");
                short(header.strip_prefix("MSG: ").expect("MSG: line"))
            }
        };
        let package = name.split('/').next().unwrap().to_owned();
        let mut fields = BTreeMap::new();
        for l in lines.filter(|l| !l.is_empty()) {
            let (ty, field) = l.split_once(char::is_whitespace).expect("type name");
            if field.contains('=') {
                continue; // a constant
            }
            let array = ty.ends_with(']');
            let base = ty.split('[').next().unwrap();
            let base = if PRIMITIVES.contains(&base) || base.contains('/') {
                short(base)
            } else if base == "Header" {
                "std_msgs/Header".to_owned()
            } else {
                format!("{package}/{base}")
            };
            fields.insert(field.trim().to_owned(), (base, array));
        }
        types.insert(name, fields);
    }
}

/// What the Foxglove server advertises when it serves the suite's topics: topic -> root
/// type (`pkg/Type`), and every type of every schema.
fn advertised() -> (BTreeMap<String, String>, Types) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let transport: Arc<dyn Transport> = Arc::new(InprocTransport::new());
        let mut node = transport
            .create_node(&NodeOptions::new("layout_test", "/"))
            .unwrap();
        let topics = vla_perf::foxglove::output_topics("/vla_perf");
        let server =
            vla_perf::foxglove::Server::start(([127, 0, 0, 1], 0).into(), node.as_mut(), &topics)
                .await
                .unwrap();
        let client = Client::connect(&server.url(), topics.len()).await;
        assert_eq!(client.server_info["name"], "vla_perf");
        let mut roots = BTreeMap::new();
        let mut types = Types::new();
        for c in &client.channels {
            assert_eq!(
                (c.encoding.as_str(), c.schema_encoding.as_str()),
                ("cdr", "ros2msg"),
                "{}",
                c.topic
            );
            roots.insert(c.topic.clone(), short(&c.schema_name));
            parse_schema(&c.schema_name, &c.schema, &mut types);
        }
        server.stop().await;
        (roots, types)
    })
}

/// Where a path walk stands: a type (primitive or `pkg/Type`) and whether it is an array
/// not yet sliced.
#[derive(Debug, Clone)]
struct At {
    ty: String,
    array: bool,
}

fn is_message(ty: &str) -> bool {
    ty.contains('/')
}

/// The type of field `name` of `at` (a message, not an array).
fn field(types: &Types, path: &str, at: &At, name: &str) -> At {
    assert!(!at.array, "{path}: `.{name}` on an array; slice it first");
    let fields = types
        .get(&at.ty)
        .unwrap_or_else(|| panic!("{path}: `.{name}` inside {} (not a message)", at.ty));
    let (ty, array) = fields
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("{path}: {} has no field {name}", at.ty));
    At { ty, array }
}

/// Walks a Foxglove message path (`/topic.a[:]{b=="x"}{c==10}.d`) over `root` (`pkg/Type`);
/// returns the type it ends on.
fn walk(types: &Types, path: &str, root: &str) -> At {
    let field = |path: &str, at: &At, name: &str| field(types, path, at, name);
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
fn every_topic_is_advertised_by_the_foxglove_server_and_every_path_exists_in_its_schema() {
    let (roots, types) = advertised();
    // The server serves exactly the topics README lists, under the same types.
    let readme: BTreeMap<String, String> = readme_topics();
    assert_eq!(roots, readme, "advertised channels vs README's topic table");
    let layout = layout();
    let refs = references(&layout);
    let mut used = BTreeSet::new();
    for (panel, path) in &refs {
        let topic: String = path
            .chars()
            .take_while(|c| !matches!(c, '.' | '{' | '['))
            .collect();
        let root = roots
            .get(&topic)
            .unwrap_or_else(|| panic!("{panel}: {topic} is not advertised"));
        used.insert(topic.clone());
        if topic == *path {
            continue;
        }
        let end = walk(&types, path, root);
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
    let (_, types) = advertised();
    let root = "vla_perf/MetricArray";
    let rejects = |path: &str| {
        std::panic::catch_unwind(|| walk(&types, path, root))
            .expect_err(&format!("{path} was accepted"));
    };
    walk(
        &types,
        r#"/vla_perf/metrics.metrics[:]{name=="stage_latency"}{window==10}.p95"#,
        root,
    );
    let stamp = walk(&types, "/vla_perf/metrics.header.stamp.sec", root);
    assert_eq!(stamp.ty, "int32");
    rejects(r#"/vla_perf/metrics.metrics[:]{name=="stage_latency"}.p96"#);
    rejects(r#"/vla_perf/metrics.metrics[:]{stage=="plan"}.p95"#);
    rejects(r#"/vla_perf/metrics.metrics[:]{window=="10"}.p95"#);
    rejects(r#"/vla_perf/metrics.metrics.p95"#);
    rejects(r#"/vla_perf/metrics.robot_id[0]"#);
    rejects(r#"/vla_perf/metrics.header.stamp.seconds"#);
}
