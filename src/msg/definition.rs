//! The `ros2msg` text of a mirrored message, as rosbag2 writes it into MCAP schemas and as
//! `foxglove_bridge` advertises it: the message's own definition (constants, then fields),
//! then every type it uses, depth first and once each, each after a line of 80 `=` and
//! `MSG: pkg/Type`.

use super::{MessageDescription, EXTRA_MESSAGES, STANDARD_MESSAGES, VLA_PERF_MESSAGES};

const PRIMITIVES: [&str; 17] = [
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
    "uint32", "int64", "uint64", "string", "wstring", "octet", "duration",
];

/// The type a field's ROS type refers to (`StageLatency[]` in package vla_perf ->
/// `vla_perf/msg/StageLatency`), or `None` for a primitive.
pub(super) fn referenced_type(ros_type: &str, package: &str) -> Option<String> {
    let base = ros_type.split(['[', '<']).next().unwrap_or(ros_type).trim();
    if PRIMITIVES.contains(&base) {
        return None;
    }
    Some(match base.split_once('/') {
        Some((pkg, name)) => format!("{pkg}/msg/{}", name.rsplit('/').next().unwrap_or(name)),
        None if base == "Header" => "std_msgs/msg/Header".into(),
        None => format!("{package}/msg/{base}"),
    })
}

/// The description of `type_name` (`pkg/msg/Type`) among the mirrored messages.
pub fn description(type_name: &str) -> Option<&'static MessageDescription> {
    VLA_PERF_MESSAGES
        .iter()
        .chain(STANDARD_MESSAGES)
        .chain(EXTRA_MESSAGES)
        .find(|d| d.type_name == type_name)
}

/// A message's own `.msg` text: constants, then fields.
fn own_definition(d: &MessageDescription) -> String {
    let mut text = String::new();
    for c in d.constants {
        text.push_str(&format!("{} {}={}\n", c.ros_type, c.name, c.value));
    }
    for f in d.fields {
        text.push_str(&format!("{} {}\n", f.ros_type, f.name));
    }
    text
}

/// The full `ros2msg` schema of `d`: its definition and every type it uses, depth first.
pub fn definition(d: &MessageDescription) -> String {
    fn collect(d: &MessageDescription, seen: &mut Vec<&'static MessageDescription>) {
        for f in d.fields {
            let Some(name) = referenced_type(f.ros_type, d.package()) else {
                continue;
            };
            if let Some(dep) = description(&name) {
                if !seen.iter().any(|s| s.type_name == dep.type_name) {
                    seen.push(dep);
                    collect(dep, seen);
                }
            }
        }
    }
    let mut deps = Vec::new();
    collect(d, &mut deps);
    let mut text = own_definition(d);
    for dep in deps {
        text.push_str(&"=".repeat(80));
        text.push('\n');
        text.push_str(&format!("MSG: {}\n", dep.type_name.replace("/msg/", "/")));
        text.push_str(&own_definition(dep));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::diagnostic_msgs::DiagnosticArray;
    use crate::msg::{CommandLatency, RosMessage};

    #[test]
    fn a_schema_lists_every_used_type_once_after_its_own_definition() {
        let text = definition(&CommandLatency::DESCRIPTION);
        assert!(text.starts_with("uint8 OUTCOME_SUCCEEDED=0\n"), "{text}");
        for dep in [
            "MSG: std_msgs/Header\n",
            "MSG: builtin_interfaces/Time\n",
            "MSG: vla_perf/StageLatency\n",
        ] {
            assert_eq!(text.matches(dep).count(), 1, "{dep} in\n{text}");
        }
        assert_eq!(text.matches(&"=".repeat(80)).count(), 3);
        let diag = definition(&DiagnosticArray::DESCRIPTION);
        assert!(diag.contains("MSG: diagnostic_msgs/KeyValue\n"), "{diag}");
    }

    #[test]
    fn field_types_resolve_to_full_names() {
        assert_eq!(referenced_type("float64[]", "vla_perf"), None);
        assert_eq!(referenced_type("string<=10", "vla_perf"), None);
        assert_eq!(
            referenced_type("StageLatency[]", "vla_perf").as_deref(),
            Some("vla_perf/msg/StageLatency")
        );
        assert_eq!(
            referenced_type("std_msgs/Header", "vla_perf").as_deref(),
            Some("std_msgs/msg/Header")
        );
    }
}
