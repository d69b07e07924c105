//! REP-2011 type hashes (`RIHS01_<sha256>`), computed as ROS 2 Jazzy's
//! `rosidl_generator_type_description` does, so the pure-Rust backend can announce them in
//! its endpoints' USER_DATA (`typehash=RIHS01_...;`) as rmw does, without ROS at run time.
//!
//! The hash is the SHA-256 of a JSON text: the type's description (name and fields) and
//! those of every type it refers to, transitively, sorted by name and each once, written
//! as Python's `json.dumps(d, separators=(", ", ": "), ensure_ascii=True)` writes it.
//! Default values and constants are not part of it.
//!
//! Known types: every mirrored message ([`super::VLA_PERF_MESSAGES`],
//! [`super::STANDARD_MESSAGES`], [`super::EXTRA_MESSAGES`]) and the ROS-internal types
//! ros2-client creates endpoints for ([`ROS_INTERNAL_TYPES`]). `tests/type_hash.rs` checks
//! every one against the hashes ROS 2 Jazzy installs, and the vla_perf ones against ROS's
//! own generator.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::definition::{description, referenced_type};
use super::{EXTRA_MESSAGES, STANDARD_MESSAGES, VLA_PERF_MESSAGES};

/// The ROS-internal types ros2-client (0.12) creates endpoints for, with their fields as
/// the Jazzy `.msg`/`.srv` files declare them (constants and comments left out; a default
/// value after the name is allowed and ignored). A service's request and response are the
/// messages `pkg/srv/Name_Request` and `pkg/srv/Name_Response`.
pub const ROS_INTERNAL_TYPES: &[(&str, &str)] = &[
    (
        "builtin_interfaces/msg/Duration",
        "int32 sec\nuint32 nanosec",
    ),
    ("rmw_dds_common/msg/Gid", "char[16] data"),
    (
        "rmw_dds_common/msg/NodeEntitiesInfo",
        "string<=256 node_namespace\nstring<=256 node_name\n\
         Gid[] reader_gid_seq\nGid[] writer_gid_seq",
    ),
    (
        "rmw_dds_common/msg/ParticipantEntitiesInfo",
        "Gid gid\nNodeEntitiesInfo[] node_entities_info_seq",
    ),
    (
        "rcl_interfaces/msg/Log",
        "builtin_interfaces/Time stamp\nuint8 level\nstring name\nstring msg\n\
         string file\nstring function\nuint32 line",
    ),
    (
        "rcl_interfaces/msg/ParameterEvent",
        "builtin_interfaces/Time stamp\nstring node\nParameter[] new_parameters\n\
         Parameter[] changed_parameters\nParameter[] deleted_parameters",
    ),
    (
        "rcl_interfaces/msg/Parameter",
        "string name\nParameterValue value",
    ),
    (
        "rcl_interfaces/msg/ParameterValue",
        "uint8 type\nbool bool_value\nint64 integer_value\nfloat64 double_value\n\
         string string_value\nbyte[] byte_array_value\nbool[] bool_array_value\n\
         int64[] integer_array_value\nfloat64[] double_array_value\n\
         string[] string_array_value",
    ),
    (
        "rcl_interfaces/msg/ParameterDescriptor",
        "string name\nuint8 type\nstring description\nstring additional_constraints\n\
         bool read_only false\nbool dynamic_typing false\n\
         FloatingPointRange[<=1] floating_point_range\nIntegerRange[<=1] integer_range",
    ),
    (
        "rcl_interfaces/msg/FloatingPointRange",
        "float64 from_value\nfloat64 to_value\nfloat64 step",
    ),
    (
        "rcl_interfaces/msg/IntegerRange",
        "int64 from_value\nint64 to_value\nuint64 step",
    ),
    (
        "rcl_interfaces/msg/SetParametersResult",
        "bool successful\nstring reason",
    ),
    (
        "rcl_interfaces/msg/ListParametersResult",
        "string[] names\nstring[] prefixes",
    ),
    ("rcl_interfaces/srv/GetParameters_Request", "string[] names"),
    (
        "rcl_interfaces/srv/GetParameters_Response",
        "ParameterValue[] values",
    ),
    (
        "rcl_interfaces/srv/GetParameterTypes_Request",
        "string[] names",
    ),
    (
        "rcl_interfaces/srv/GetParameterTypes_Response",
        "uint8[] types",
    ),
    (
        "rcl_interfaces/srv/SetParameters_Request",
        "Parameter[] parameters",
    ),
    (
        "rcl_interfaces/srv/SetParameters_Response",
        "SetParametersResult[] results",
    ),
    (
        "rcl_interfaces/srv/SetParametersAtomically_Request",
        "Parameter[] parameters",
    ),
    (
        "rcl_interfaces/srv/SetParametersAtomically_Response",
        "SetParametersResult result",
    ),
    (
        "rcl_interfaces/srv/ListParameters_Request",
        "string[] prefixes\nuint64 depth",
    ),
    (
        "rcl_interfaces/srv/ListParameters_Response",
        "ListParametersResult result",
    ),
    (
        "rcl_interfaces/srv/DescribeParameters_Request",
        "string[] names",
    ),
    (
        "rcl_interfaces/srv/DescribeParameters_Response",
        "ParameterDescriptor[] descriptors",
    ),
];

/// The member rosidl gives a message without fields.
const EMPTY_STRUCTURE_MEMBER: (&str, &str) = ("structure_needs_at_least_one_member", "uint8");

/// Every type name [`type_hash`] knows: the mirrored messages, then [`ROS_INTERNAL_TYPES`].
pub fn known_types() -> impl Iterator<Item = &'static str> {
    VLA_PERF_MESSAGES
        .iter()
        .chain(STANDARD_MESSAGES)
        .chain(EXTRA_MESSAGES)
        .map(|d| d.type_name)
        .chain(ROS_INTERNAL_TYPES.iter().map(|(name, _)| *name))
}

/// The REP-2011 hash of `type_name` (`std_msgs/msg/String`,
/// `rcl_interfaces/srv/GetParameters_Request`): `RIHS01_` and 64 lowercase hex digits,
/// or `None` when the type, or one it refers to, is unknown.
pub fn type_hash(type_name: &str) -> Option<String> {
    let digest = Sha256::digest(type_description_json(type_name)?.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("RIHS01_{hex}"))
}

/// The USER_DATA text rmw announces a `type_name` endpoint with: `typehash=RIHS01_...;`.
pub fn user_data(type_name: &str) -> Option<String> {
    Some(user_data_of(&type_hash(type_name)?))
}

/// The USER_DATA text rmw announces an endpoint with, for a type of hash `hash`.
pub fn user_data_of(hash: &str) -> String {
    format!("typehash={hash};")
}

/// The `typehash` of a USER_DATA text of `key=value;` pairs (what another endpoint
/// announces), when it is a RIHS01 hash.
pub fn hash_in_user_data(user_data: &[u8]) -> Option<&str> {
    std::str::from_utf8(user_data)
        .ok()?
        .split(';')
        .find_map(|pair| pair.strip_prefix("typehash="))
        .filter(|h| is_rihs01(h))
}

/// Whether `hash` reads `RIHS01_` and 64 hex digits.
pub fn is_rihs01(hash: &str) -> bool {
    hash.strip_prefix("RIHS01_")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The exact JSON text [`type_hash`] hashes (ROS's `TypeDescription` without default
/// values), or `None` when the type, or one it refers to, is unknown.
pub fn type_description_json(type_name: &str) -> Option<String> {
    let top = individual_description(type_name)?;
    // Everything reachable from the top type, sorted by name (BTreeMap), each once.
    let mut referenced = BTreeMap::new();
    let mut pending: Vec<String> = top.nested_types().map(str::to_owned).collect();
    while let Some(name) = pending.pop() {
        if referenced.contains_key(&name) {
            continue;
        }
        let td = individual_description(&name)?;
        pending.extend(td.nested_types().map(str::to_owned));
        referenced.insert(name, td);
    }
    let referenced: Vec<String> = referenced.values().map(TypeDescription::json).collect();
    Some(format!(
        "{{\"type_description\": {}, \"referenced_type_descriptions\": [{}]}}",
        top.json(),
        referenced.join(", ")
    ))
}

/// One type's own description: its name and its fields' types.
struct TypeDescription {
    type_name: String,
    fields: Vec<(&'static str, FieldType)>,
}

/// A field's type as `type_description_interfaces/msg/FieldType` describes it.
struct FieldType {
    type_id: u32,
    capacity: u64,
    string_capacity: u64,
    nested_type_name: String,
}

impl TypeDescription {
    fn nested_types(&self) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .map(|(_, t)| t.nested_type_name.as_str())
            .filter(|name| !name.is_empty())
    }

    fn json(&self) -> String {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(name, t)| {
                format!(
                    "{{\"name\": {}, \"type\": {{\"type_id\": {}, \"capacity\": {}, \
                     \"string_capacity\": {}, \"nested_type_name\": {}}}}}",
                    json_string(name),
                    t.type_id,
                    t.capacity,
                    t.string_capacity,
                    json_string(&t.nested_type_name)
                )
            })
            .collect();
        format!(
            "{{\"type_name\": {}, \"fields\": [{}]}}",
            json_string(&self.type_name),
            fields.join(", ")
        )
    }
}

/// A JSON string literal. ROS names are ASCII identifiers, on which serde_json's escaping
/// and Python's `ensure_ascii=True` agree.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The description of one known type, or `None` if unknown or a field type is not valid.
fn individual_description(type_name: &str) -> Option<TypeDescription> {
    let package = type_name.split('/').next()?;
    let mut fields: Vec<(&'static str, &'static str)> = match description(type_name) {
        Some(d) => d.fields.iter().map(|f| (f.name, f.ros_type)).collect(),
        None => {
            let (_, text) = ROS_INTERNAL_TYPES.iter().find(|(n, _)| *n == type_name)?;
            text.lines()
                .filter_map(|line| {
                    let mut words = line.split_whitespace();
                    let ros_type = words.next()?;
                    Some((words.next()?, ros_type))
                })
                .collect()
        }
    };
    if fields.is_empty() {
        fields.push(EMPTY_STRUCTURE_MEMBER);
    }
    let fields = fields
        .into_iter()
        .map(|(name, ros_type)| Some((name, field_type(ros_type, package)?)))
        .collect::<Option<_>>()?;
    Some(TypeDescription {
        type_name: type_name.to_owned(),
        fields,
    })
}

/// The `FieldType` of a `.msg` field type (`float64`, `string<=256`, `Gid[]`,
/// `uint8[16]`, `FloatingPointRange[<=1]`) in `package`.
fn field_type(ros_type: &str, package: &str) -> Option<FieldType> {
    // Array suffix: `[N]` fixed (+48), `[<=N]` bounded (+96), `[]` unbounded (+144).
    let (element, offset, capacity) = match ros_type.strip_suffix(']') {
        Some(rest) => {
            let (element, size) = rest.rsplit_once('[')?;
            match size.strip_prefix("<=") {
                Some(bound) => (element, 96, bound.parse().ok()?),
                None if size.is_empty() => (element, 144, 0),
                None => (element, 48, size.parse().ok()?),
            }
        }
        None => (ros_type, 0, 0),
    };
    let mut string_capacity = 0;
    let mut nested_type_name = String::new();
    let base_id = if let Some(bound) = element.strip_prefix("string<=") {
        string_capacity = bound.parse().ok()?;
        21
    } else if let Some(bound) = element.strip_prefix("wstring<=") {
        string_capacity = bound.parse().ok()?;
        22
    } else {
        match element {
            "int8" => 2,
            // rosidl_adapter maps the .msg `char` to uint8 and `byte` to octet.
            "uint8" | "char" => 3,
            "int16" => 4,
            "uint16" => 5,
            "int32" => 6,
            "uint32" => 7,
            "int64" => 8,
            "uint64" => 9,
            "float32" => 10,
            "float64" => 11,
            "bool" => 15,
            "byte" => 16,
            "string" => 17,
            "wstring" => 18,
            _ => {
                nested_type_name = referenced_type(element, package)?;
                1
            }
        }
    };
    Some(FieldType {
        type_id: base_id + offset,
        capacity,
        string_capacity,
        nested_type_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Copied from the `type_hashes` of ROS 2 Jazzy's installed `share/<pkg>/*/*.json`.
    const JAZZY_HASHES: &[(&str, &str)] = &[
        (
            "std_msgs/msg/String",
            "RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18",
        ),
        (
            "builtin_interfaces/msg/Time",
            "RIHS01_b106235e25a4c5ed35098aa0a61a3ee9c9b18d197f398b0e4206cea9acf9c197",
        ),
        (
            "std_msgs/msg/Header",
            "RIHS01_f49fb3ae2cf070f793645ff749683ac6b06203e41c891e17701b1cb597ce6a01",
        ),
        (
            "rmw_dds_common/msg/ParticipantEntitiesInfo",
            "RIHS01_91a0593bacdcc50ea9bdcf849a938b128412cc1ea821245c663bcd26f83c295e",
        ),
        (
            "rcl_interfaces/msg/ParameterEvent",
            "RIHS01_043e627780fcad87a22d225bc2a037361dba713fca6a6b9f4b869a5aa0393204",
        ),
        (
            "rcl_interfaces/srv/GetParameters_Request",
            "RIHS01_135a9e1c3d7cebef792f6687d7ddf99949b21a0bd9a320d863a9110a3f5cf4d6",
        ),
    ];

    #[test]
    fn hashes_match_those_ros_jazzy_installs() {
        for (type_name, expected) in JAZZY_HASHES {
            assert_eq!(
                type_hash(type_name).as_deref(),
                Some(*expected),
                "{type_name}"
            );
        }
    }

    #[test]
    fn the_hashed_json_is_what_python_json_dumps_writes() {
        assert_eq!(
            type_description_json("std_msgs/msg/String").unwrap(),
            "{\"type_description\": {\"type_name\": \"std_msgs/msg/String\", \"fields\": \
             [{\"name\": \"data\", \"type\": {\"type_id\": 17, \"capacity\": 0, \
             \"string_capacity\": 0, \"nested_type_name\": \"\"}}]}, \
             \"referenced_type_descriptions\": []}"
        );
    }

    #[test]
    fn referenced_types_are_listed_once_sorted_by_name() {
        let json = type_description_json("rcl_interfaces/msg/ParameterEvent").unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let names: Vec<&str> = value["referenced_type_descriptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|td| td["type_name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "builtin_interfaces/msg/Time",
                "rcl_interfaces/msg/Parameter",
                "rcl_interfaces/msg/ParameterValue"
            ]
        );
    }

    #[test]
    fn field_types_follow_the_msg_to_idl_mapping() {
        let t = field_type("char[16]", "rmw_dds_common").unwrap();
        assert_eq!((t.type_id, t.capacity), (51, 16));
        let t = field_type("string<=256", "rmw_dds_common").unwrap();
        assert_eq!((t.type_id, t.capacity, t.string_capacity), (21, 0, 256));
        let t = field_type("string<=8[<=3]", "p").unwrap();
        assert_eq!((t.type_id, t.capacity, t.string_capacity), (117, 3, 8));
        let t = field_type("byte[]", "p").unwrap();
        assert_eq!((t.type_id, t.capacity), (160, 0));
        let t = field_type("FloatingPointRange[<=1]", "rcl_interfaces").unwrap();
        assert_eq!((t.type_id, t.capacity), (97, 1));
        assert_eq!(t.nested_type_name, "rcl_interfaces/msg/FloatingPointRange");
        assert!(field_type("uint8[x]", "p").is_none());
    }

    #[test]
    fn user_data_is_the_rmw_text() {
        assert_eq!(
            user_data("std_msgs/msg/String").as_deref(),
            Some(
                "typehash=RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18;"
            )
        );
    }

    #[test]
    fn the_hash_is_read_back_from_user_data_with_other_keys() {
        let hash = type_hash("std_msgs/msg/String").expect("known");
        let text = format!("enclave=/;{}serviceid=x;", user_data_of(&hash));
        assert_eq!(hash_in_user_data(text.as_bytes()), Some(hash.as_str()));
        for bad in [&b"typehash=RIHS01_12;"[..], b"typehash=;", b"", b"\xff\xfe"] {
            assert_eq!(hash_in_user_data(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unknown_types_have_no_hash() {
        assert_eq!(type_hash("std_msgs/msg/NoSuchType"), None);
        assert_eq!(type_hash("nonsense"), None);
        assert_eq!(user_data("rcl_interfaces/srv/GetParameters"), None);
    }

    #[test]
    fn every_known_type_has_a_hash() {
        for name in known_types() {
            let hash = type_hash(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(hash.len(), "RIHS01_".len() + 64, "{name}");
        }
    }
}
