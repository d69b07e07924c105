//! Keeps the Rust mirrors in `vla_perf::msg` identical to the `msg/*.msg` files.
//!
//! The `.msg` files are parsed here, independently of the mirrors, following the ROS 2
//! interface grammar (comments, `TYPE NAME`, `TYPE NAME=VALUE` constants, `T[]`, `T[N]`,
//! `T[<=N]`, `string<=N`, package-relative message types). Fields are compared by name,
//! resolved type and order; constants by name, type and value.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use vla_perf::msg::{MessageDescription, VLA_PERF_MESSAGES};

const PACKAGE: &str = "vla_perf";

const PRIMITIVES: &[&str] = &[
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
    "uint32", "int64", "uint64", "string", "wstring",
];

/// A field or constant as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    name: String,
    /// Fully resolved type, e.g. `vla_perf/msg/StageLatency[]`, `std_msgs/msg/Header`.
    ros_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Constant {
    name: String,
    ros_type: String,
    value: i128,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Definition {
    fields: Vec<Field>,
    constants: Vec<Constant>,
}

/// A `.msg` line the parser rejects, with its 1-based line number.
#[derive(Debug)]
struct ParseError {
    line: usize,
    message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Resolves a type as written in a `.msg` file of `package` to its full form.
fn resolve_type(written: &str, package: &str) -> Result<String, String> {
    let (element, suffix) = match written.find('[') {
        Some(at) => (&written[..at], &written[at..]),
        None => (written, ""),
    };
    if !suffix.is_empty() {
        let bound = suffix
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .ok_or_else(|| format!("malformed array type {written:?}"))?;
        let digits = bound.strip_prefix("<=").unwrap_or(bound);
        let valid = match (bound.is_empty(), digits.parse::<u64>()) {
            (true, _) => true,
            (false, Ok(n)) => n > 0,
            (false, Err(_)) => false,
        };
        if !valid {
            return Err(format!("malformed array bound in {written:?}"));
        }
    }
    let resolved_element = if let Some((base, bound)) = element.split_once("<=") {
        if !matches!(base, "string" | "wstring") || bound.parse::<u64>().map_or(true, |n| n == 0) {
            return Err(format!("malformed bounded string {element:?}"));
        }
        element.to_owned()
    } else if PRIMITIVES.contains(&element) {
        element.to_owned()
    } else {
        let (pkg, name) = match element.split('/').collect::<Vec<_>>().as_slice() {
            [name] => (package, *name),
            [pkg, name] => (*pkg, *name),
            [pkg, "msg", name] => (*pkg, *name),
            _ => return Err(format!("malformed type {element:?}")),
        };
        let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && name.chars().all(|c| c.is_ascii_alphanumeric());
        let pkg_ok = pkg.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && pkg
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok || !pkg_ok {
            return Err(format!("malformed message type {element:?}"));
        }
        format!("{pkg}/msg/{name}")
    };
    Ok(format!("{resolved_element}{suffix}"))
}

fn integer_range(ros_type: &str) -> Option<(i128, i128)> {
    Some(match ros_type {
        "bool" => (0, 1),
        "byte" | "char" | "uint8" => (0, u8::MAX.into()),
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "uint16" => (0, u16::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "uint32" => (0, u32::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "uint64" => (0, u64::MAX.into()),
        "int64" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

fn parse_constant_value(ros_type: &str, text: &str) -> Result<i128, String> {
    let (min, max) = integer_range(ros_type).ok_or_else(|| {
        format!("constant of type {ros_type} (the mirrors support integer and bool constants)")
    })?;
    let value = match (ros_type, text) {
        ("bool", "true" | "True") => 1,
        ("bool", "false" | "False") => 0,
        _ => text
            .parse::<i128>()
            .map_err(|_| format!("constant value {text:?} is not an integer"))?,
    };
    if !(min..=max).contains(&value) {
        return Err(format!(
            "constant value {value} out of range for {ros_type}"
        ));
    }
    Ok(value)
}

fn is_field_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

fn is_constant_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Parses the text of a `.msg` file of `package`.
fn parse_msg(text: &str, package: &str) -> Result<Definition, ParseError> {
    let mut definition = Definition::default();
    let mut names = BTreeSet::new();
    for (index, raw) in text.lines().enumerate() {
        let fail = |message: String| ParseError {
            line: index + 1,
            message,
        };
        // Integer constants and fields cannot contain '#', so a comment starts at the first.
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (written_type, rest) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| fail(format!("expected `TYPE NAME`, found {line:?}")))?;
        let rest = rest.trim();
        if let Some((name, value)) = rest.split_once('=') {
            let (name, value) = (name.trim(), value.trim());
            if !is_constant_name(name) {
                return Err(fail(format!("invalid constant name {name:?}")));
            }
            if !PRIMITIVES.contains(&written_type) {
                return Err(fail(format!(
                    "constant {name} has non-primitive type {written_type}"
                )));
            }
            let value = parse_constant_value(written_type, value).map_err(fail)?;
            if !names.insert(name.to_owned()) {
                return Err(fail(format!("duplicate name {name}")));
            }
            definition.constants.push(Constant {
                name: name.to_owned(),
                ros_type: written_type.to_owned(),
                value,
            });
        } else {
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap_or("");
            if words.next().is_some() {
                return Err(fail(format!(
                    "field {name} has a default value, which the mirrors do not carry"
                )));
            }
            if !is_field_name(name) {
                return Err(fail(format!("invalid field name {name:?}")));
            }
            if !names.insert(name.to_owned()) {
                return Err(fail(format!("duplicate name {name}")));
            }
            definition.fields.push(Field {
                name: name.to_owned(),
                ros_type: resolve_type(written_type, package).map_err(fail)?,
            });
        }
    }
    Ok(definition)
}

/// The mirror's description in the same form as a parsed `.msg` file.
fn mirror_definition(mirror: &MessageDescription) -> Result<Definition, String> {
    let fields = mirror
        .fields
        .iter()
        .map(|f| {
            Ok(Field {
                name: f.name.to_owned(),
                ros_type: resolve_type(f.ros_type, mirror.package())?,
            })
        })
        .collect::<Result<_, String>>()?;
    let constants = mirror
        .constants
        .iter()
        .map(|c| Constant {
            name: c.name.to_owned(),
            ros_type: c.ros_type.to_owned(),
            value: c.value,
        })
        .collect();
    Ok(Definition { fields, constants })
}

/// Every difference between a `.msg` definition and a mirror, as readable lines.
fn differences(msg: &Definition, mirror: &Definition) -> Vec<String> {
    let mut out = Vec::new();
    let longest = msg.fields.len().max(mirror.fields.len());
    for i in 0..longest {
        match (msg.fields.get(i), mirror.fields.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => out.push(format!("field #{i}: .msg has {a:?}, mirror has {b:?}")),
        }
    }
    let longest = msg.constants.len().max(mirror.constants.len());
    for i in 0..longest {
        match (msg.constants.get(i), mirror.constants.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => out.push(format!("constant #{i}: .msg has {a:?}, mirror has {b:?}")),
        }
    }
    out
}

fn msg_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("msg")
}

/// (type name, parsed definition) of every `msg/*.msg` file.
fn msg_files() -> Vec<(String, Definition)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(msg_dir())
        .expect("msg/ is readable")
        .map(|entry| entry.expect("msg/ entry is readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "msg"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no .msg files found in {}",
        msg_dir().display()
    );
    files
        .iter()
        .map(|path| {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("UTF-8 file name");
            let text = std::fs::read_to_string(path).expect(".msg file is readable");
            let definition =
                parse_msg(&text, PACKAGE).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (format!("{PACKAGE}/msg/{stem}"), definition)
        })
        .collect()
}

fn mirror_of(type_name: &str) -> Option<&'static MessageDescription> {
    VLA_PERF_MESSAGES.iter().find(|m| m.type_name == type_name)
}

#[test]
fn every_msg_file_has_an_identical_rust_mirror() {
    let mut problems = Vec::new();
    for (type_name, msg) in msg_files() {
        let Some(mirror) = mirror_of(&type_name) else {
            problems.push(format!("{type_name}: no Rust mirror in vla_perf::msg"));
            continue;
        };
        let mirror = mirror_definition(mirror).unwrap_or_else(|e| panic!("{type_name}: {e}"));
        for difference in differences(&msg, &mirror) {
            problems.push(format!("{type_name}: {difference}"));
        }
    }
    assert!(
        problems.is_empty(),
        "mirrors differ from msg/*.msg:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_rust_mirror_has_a_msg_file() {
    let files: BTreeSet<String> = msg_files().into_iter().map(|(name, _)| name).collect();
    for mirror in VLA_PERF_MESSAGES {
        assert!(
            files.contains(mirror.type_name),
            "{} is mirrored but msg/ has no such file",
            mirror.type_name
        );
    }
}

#[test]
fn every_referenced_message_type_is_defined_or_a_known_standard_type() {
    let standard: BTreeSet<&str> = vla_perf::msg::STANDARD_MESSAGES
        .iter()
        .map(|m| m.type_name)
        .collect();
    let files = msg_files();
    let own: BTreeSet<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    for (type_name, definition) in &files {
        for field in &definition.fields {
            let element = field.ros_type.split('[').next().unwrap_or_default();
            if element.contains('/') {
                assert!(
                    own.contains(element) || standard.contains(element),
                    "{type_name}.{}: unknown type {element}",
                    field.name
                );
            }
        }
    }
}

#[test]
fn an_altered_definition_is_detected() {
    let (type_name, original) = msg_files()
        .into_iter()
        .find(|(name, _)| name == "vla_perf/msg/StageEvent")
        .expect("StageEvent.msg exists");
    let mirror = mirror_definition(mirror_of(&type_name).expect("mirror exists")).unwrap();
    assert!(differences(&original, &mirror).is_empty());

    let mut renamed = original.clone();
    renamed.fields[1].name = "cmd_id".into();
    let mut retyped = original.clone();
    retyped.fields[4].ros_type = "float32".into();
    let mut reordered = original.clone();
    reordered.fields.swap(1, 2);
    let mut dropped = original.clone();
    dropped.fields.pop();
    let mut revalued = original.clone();
    revalued.constants[0].value = 9;
    let mut constant_retyped = original.clone();
    constant_retyped.constants[0].ros_type = "int8".into();
    for (what, altered) in [
        ("renamed field", renamed),
        ("retyped field", retyped),
        ("reordered fields", reordered),
        ("dropped field", dropped),
        ("changed constant value", revalued),
        ("changed constant type", constant_retyped),
    ] {
        assert!(
            !differences(&altered, &mirror).is_empty(),
            "{what} went unnoticed"
        );
    }
}

#[test]
fn an_altered_msg_file_fixture_is_detected() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/msg/altered/StageEvent.msg");
    let text = std::fs::read_to_string(&path).expect("fixture is readable");
    let altered = parse_msg(&text, PACKAGE).expect("fixture parses");
    let mirror = mirror_definition(mirror_of("vla_perf/msg/StageEvent").unwrap()).unwrap();
    let found = differences(&altered, &mirror);
    // The fixture changes one type and one constant value, nothing else.
    assert_eq!(found.len(), 2, "{found:#?}");
}

#[test]
fn the_parser_reads_every_construct_of_the_grammar() {
    let text = "# comment\n\
        uint8 A=1\n\
        int8 B = -3 # trailing comment\n\
        bool C=true\n\
        std_msgs/Header header\n\
        StageLatency[] stages\n\
        uint8[16] uuid\n\
        float64[<=4] few\n\
        string<=10 short\n\
        string<=10[<=2] shorts\n\
        geometry_msgs/msg/Point p  # a full name\n";
    let parsed = parse_msg(text, "vla_perf").unwrap();
    let constants: Vec<(&str, &str, i128)> = parsed
        .constants
        .iter()
        .map(|c| (c.name.as_str(), c.ros_type.as_str(), c.value))
        .collect();
    assert_eq!(
        constants,
        [("A", "uint8", 1), ("B", "int8", -3), ("C", "bool", 1)]
    );
    let fields: Vec<(&str, &str)> = parsed
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.ros_type.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("header", "std_msgs/msg/Header"),
            ("stages", "vla_perf/msg/StageLatency[]"),
            ("uuid", "uint8[16]"),
            ("few", "float64[<=4]"),
            ("short", "string<=10"),
            ("shorts", "string<=10[<=2]"),
            ("p", "geometry_msgs/msg/Point"),
        ]
    );
}

#[test]
fn the_parser_rejects_invalid_definitions_with_the_line() {
    for (text, expected) in [
        ("uint8 x\nuint8 x\n", "line 2: duplicate name x"),
        ("uint8 A = 256\n", "out of range"),
        ("float64 PI = 3.14\n", "integer"),
        ("int32 x 5\n", "default value"),
        ("int32 BadName\n", "invalid field name"),
        ("uint8[0] x\n", "malformed array bound"),
        ("lowercase x\n", "malformed message type"),
        ("a/b/c/D x\n", "malformed type"),
        ("justatype\n", "expected `TYPE NAME`"),
    ] {
        let err = parse_msg(text, "pkg").expect_err(text).to_string();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
}
