//! Rust mirrors of the ROS 2 messages the suite publishes and reads, and their CDR encoding.
//!
//! Every mirror is declared once with `ros_message!`: the macro emits the serde struct
//! (field order is the CDR order), its ROS type name, its constants and a static
//! description of its fields as written in the `.msg` file. `tests/msg_definitions.rs`
//! compares that description with `msg/*.msg`, and `tests/rosbags_interop.rs` proves the
//! wire format against the independent Python library `rosbags`.
//!
//! Layout follows ROS: the vla_perf messages sit at this level (`msg::StageEvent`), the
//! standard ones in a module per package (`msg::std_msgs::Header`).

pub mod cdr;
pub mod definition;
pub mod type_hash;

pub mod action_msgs;
pub mod audio_common_msgs;
pub mod builtin_interfaces;
pub mod diagnostic_msgs;
pub mod geometry_msgs;
pub mod sensor_msgs;
pub mod std_msgs;
pub mod unique_identifier_msgs;
pub mod vision_msgs;
mod vla_perf_msgs;

pub use vla_perf_msgs::{
    Alert, BenchmarkResult, CommandLatency, GpuUsage, Kpi, MetricArray, MetricSummary,
    ProcessUsage, ResourceUsage, StageEvent, StageLatency,
};

/// One field of a message as declared in its `.msg` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDescription {
    /// Field name.
    pub name: &'static str,
    /// ROS type as written in the `.msg` file (`float64`, `std_msgs/Header`, `StageLatency[]`).
    pub ros_type: &'static str,
    /// Rust type of the mirror's field, as written in its declaration.
    pub rust_type: &'static str,
}

/// One constant of a message as declared in its `.msg` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConstantDescription {
    /// Constant name.
    pub name: &'static str,
    /// ROS type as written in the `.msg` file (`uint8`, `byte`, `int8`).
    pub ros_type: &'static str,
    /// The value; every constant of the mirrored messages is an integer.
    pub value: i128,
}

/// The static shape of one message: type name, fields in wire order, constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageDescription {
    /// Full ROS type name, e.g. `vla_perf/msg/StageEvent`.
    pub type_name: &'static str,
    /// Fields in declaration (and CDR) order.
    pub fields: &'static [FieldDescription],
    /// Constants in declaration order.
    pub constants: &'static [ConstantDescription],
}

impl MessageDescription {
    /// The package part of the type name (`vla_perf` for `vla_perf/msg/StageEvent`).
    pub fn package(&self) -> &'static str {
        self.type_name.split('/').next().unwrap_or(self.type_name)
    }

    /// The DDS type name, e.g. `vla_perf::msg::dds_::StageEvent_`.
    pub fn dds_type_name(&self) -> String {
        dds_type_name(self.type_name)
    }
}

/// A Rust mirror of a ROS 2 message.
pub trait RosMessage: serde::Serialize + serde::de::DeserializeOwned {
    /// Full ROS type name, e.g. `vla_perf/msg/StageEvent`.
    const TYPE_NAME: &'static str;
    /// Fields in declaration (and CDR) order.
    const FIELDS: &'static [FieldDescription];
    /// Constants in declaration order.
    const CONSTANTS: &'static [ConstantDescription];
    /// Everything above in one value.
    const DESCRIPTION: MessageDescription = MessageDescription {
        type_name: Self::TYPE_NAME,
        fields: Self::FIELDS,
        constants: Self::CONSTANTS,
    };

    /// The DDS type name, e.g. `vla_perf::msg::dds_::StageEvent_`.
    fn dds_type_name() -> String {
        dds_type_name(Self::TYPE_NAME)
    }
}

/// Maps a ROS type name (`pkg/msg/Name`) to the DDS type name ROS 2 uses on the wire
/// (`pkg::msg::dds_::Name_`).
pub fn dds_type_name(type_name: &str) -> String {
    match type_name.rsplit_once('/') {
        Some((namespace, name)) => format!("{}::dds_::{name}_", namespace.replace('/', "::")),
        None => format!("dds_::{type_name}_"),
    }
}

/// Every message of the vla_perf package (one per `msg/*.msg` file).
pub const VLA_PERF_MESSAGES: &[MessageDescription] = &[
    StageEvent::DESCRIPTION,
    StageLatency::DESCRIPTION,
    CommandLatency::DESCRIPTION,
    MetricSummary::DESCRIPTION,
    MetricArray::DESCRIPTION,
    ProcessUsage::DESCRIPTION,
    GpuUsage::DESCRIPTION,
    ResourceUsage::DESCRIPTION,
    Alert::DESCRIPTION,
    Kpi::DESCRIPTION,
    BenchmarkResult::DESCRIPTION,
];

/// Every standard message mirrored here.
pub const STANDARD_MESSAGES: &[MessageDescription] = &[
    builtin_interfaces::Time::DESCRIPTION,
    std_msgs::Header::DESCRIPTION,
    std_msgs::String::DESCRIPTION,
    diagnostic_msgs::KeyValue::DESCRIPTION,
    diagnostic_msgs::DiagnosticStatus::DESCRIPTION,
    diagnostic_msgs::DiagnosticArray::DESCRIPTION,
    unique_identifier_msgs::UUID::DESCRIPTION,
    action_msgs::GoalInfo::DESCRIPTION,
    action_msgs::GoalStatus::DESCRIPTION,
    action_msgs::GoalStatusArray::DESCRIPTION,
];

/// Standard messages mirrored for the simulated stack whose packages `rosbags`' typestore
/// lacks (vision_msgs, mgonzs13's audio_common); their wire format is proven against the
/// Cyclone DDS peer instead (`tests/sim_stack.rs`).
pub const EXTRA_MESSAGES: &[MessageDescription] = &[
    geometry_msgs::Point::DESCRIPTION,
    geometry_msgs::Quaternion::DESCRIPTION,
    geometry_msgs::Pose::DESCRIPTION,
    geometry_msgs::PoseWithCovariance::DESCRIPTION,
    sensor_msgs::Image::DESCRIPTION,
    vision_msgs::Point2D::DESCRIPTION,
    vision_msgs::Pose2D::DESCRIPTION,
    vision_msgs::BoundingBox2D::DESCRIPTION,
    vision_msgs::ObjectHypothesis::DESCRIPTION,
    vision_msgs::ObjectHypothesisWithPose::DESCRIPTION,
    vision_msgs::Detection2D::DESCRIPTION,
    vision_msgs::Detection2DArray::DESCRIPTION,
    audio_common_msgs::AudioData::DESCRIPTION,
    audio_common_msgs::AudioInfo::DESCRIPTION,
    audio_common_msgs::Audio::DESCRIPTION,
    audio_common_msgs::AudioStamped::DESCRIPTION,
];

/// Declares a message mirror: the struct, its [`RosMessage`] impl and its constants.
///
/// Each field is `name: RustType as "ros type as written in the .msg"`, each constant
/// `NAME: RustType as "ros type" = value;`. Serde serialises fields in declaration order,
/// which is the CDR order, so the declaration is the wire format.
macro_rules! ros_message {
    (
        $(#[$meta:meta])*
        pub struct $name:ident = $type_name:literal;
        $(constants {
            $(
                $(#[$cmeta:meta])*
                $cname:ident : $cty:ty as $cros:literal = $cval:expr;
            )*
        })?
        fields {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $fty:ty as $fros:literal,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $fty,
            )*
        }

        impl $name {
            $($(
                $(#[$cmeta])*
                pub const $cname: $cty = $cval;
            )*)?
        }

        impl $crate::msg::RosMessage for $name {
            const TYPE_NAME: &'static str = $type_name;
            const FIELDS: &'static [$crate::msg::FieldDescription] = &[
                $($crate::msg::FieldDescription {
                    name: stringify!($field),
                    ros_type: $fros,
                    rust_type: stringify!($fty),
                },)*
            ];
            const CONSTANTS: &'static [$crate::msg::ConstantDescription] = &[
                $($($crate::msg::ConstantDescription {
                    name: stringify!($cname),
                    ros_type: $cros,
                    // Lossless: constants are integers no wider than 64 bits.
                    value: $name::$cname as i128,
                },)*)?
            ];
        }
    };
}
pub(crate) use ros_message;

#[cfg(test)]
mod tests {
    use super::*;

    fn all_messages() -> impl Iterator<Item = &'static MessageDescription> {
        VLA_PERF_MESSAGES
            .iter()
            .chain(STANDARD_MESSAGES)
            .chain(EXTRA_MESSAGES)
    }

    /// The Rust type a ROS type must be mirrored with, in the spelling of the declarations.
    fn expected_rust_type(ros: &str) -> Option<String> {
        if let Some(element) = ros.strip_suffix("[]") {
            return Some(format!("Vec<{}>", expected_rust_type(element)?));
        }
        if let Some((element, len)) = ros.strip_suffix(']').and_then(|t| t.rsplit_once('[')) {
            return Some(format!("[{};{len}]", expected_rust_type(element)?));
        }
        let primitive = match ros {
            "bool" => "bool",
            "byte" | "char" | "uint8" => "u8",
            "int8" => "i8",
            "int16" => "i16",
            "uint16" => "u16",
            "int32" => "i32",
            "uint32" => "u32",
            "int64" => "i64",
            "uint64" => "u64",
            "float32" => "f32",
            "float64" => "f64",
            "string" => "String",
            _ if ros.starts_with("string<=") || ros.contains('<') => return None,
            // A message type is mirrored by the struct of the same name.
            message => return Some(message.rsplit('/').next()?.to_owned()),
        };
        Some(primitive.to_owned())
    }

    fn normalise_rust_type(written: &str) -> String {
        let compact: String = written.chars().filter(|c| !c.is_whitespace()).collect();
        // float64[36] needs a newtype: serde and Default stop at arrays of 32.
        if compact == "Covariance" {
            return "[f64;36]".to_owned();
        }
        compact
            .replace("::std::string::", "")
            .replace("std_msgs::", "")
    }

    #[test]
    fn every_field_has_the_rust_type_its_ros_type_requires() {
        for message in all_messages() {
            for field in message.fields {
                let expected = expected_rust_type(field.ros_type);
                assert_eq!(
                    expected.as_deref(),
                    Some(normalise_rust_type(field.rust_type).as_str()),
                    "{}.{}: ros type {:?}",
                    message.type_name,
                    field.name,
                    field.ros_type
                );
            }
        }
    }

    #[test]
    fn every_constant_type_is_an_integer_type_that_holds_its_value() {
        for message in all_messages() {
            for constant in message.constants {
                let (min, max) = match constant.ros_type {
                    "byte" | "uint8" => (0, u8::MAX as i128),
                    "int8" => (i8::MIN as i128, i8::MAX as i128),
                    other => panic!("{}: unexpected constant type {other}", message.type_name),
                };
                assert!((min..=max).contains(&constant.value), "{}", constant.name);
            }
        }
    }

    #[test]
    fn type_names_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for message in all_messages() {
            let parts: Vec<&str> = message.type_name.split('/').collect();
            assert_eq!(parts.len(), 3, "{}", message.type_name);
            assert_eq!(parts[1], "msg", "{}", message.type_name);
            assert!(seen.insert(message.type_name), "{}", message.type_name);
        }
    }

    #[test]
    fn dds_type_name_follows_the_ros2_convention() {
        assert_eq!(
            StageEvent::dds_type_name(),
            "vla_perf::msg::dds_::StageEvent_"
        );
        assert_eq!(
            diagnostic_msgs::DiagnosticArray::dds_type_name(),
            "diagnostic_msgs::msg::dds_::DiagnosticArray_"
        );
        assert_eq!(dds_type_name("Bare"), "dds_::Bare_");
    }

    #[test]
    fn descriptions_carry_fields_in_declaration_order_and_constants_with_values() {
        let names: Vec<&str> = StageEvent::FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "header",
                "command_id",
                "stage",
                "phase",
                "confidence",
                "detail"
            ]
        );
        assert_eq!(StageEvent::CONSTANTS[2].name, "PHASE_FAIL");
        assert_eq!(
            StageEvent::CONSTANTS[2].value,
            i128::from(StageEvent::PHASE_FAIL)
        );
        assert_eq!(action_msgs::GoalStatus::STATUS_ABORTED, 6);
        assert_eq!(StageEvent::DESCRIPTION.package(), "vla_perf");
    }
}
