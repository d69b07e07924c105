//! Mirrors of `diagnostic_msgs` messages, published on `/diagnostics`.

use super::ros_message;
use super::std_msgs::Header;

ros_message! {
    /// A key and its value, used for labels and diagnostic values.
    pub struct KeyValue = "diagnostic_msgs/msg/KeyValue";
    fields {
        /// What the value is.
        key: String as "string",
        /// The value, formatted as text.
        value: String as "string",
    }
}

ros_message! {
    /// The status of one component as rqt_robot_monitor and Foxglove show it.
    pub struct DiagnosticStatus = "diagnostic_msgs/msg/DiagnosticStatus";
    constants {
        /// Operating normally.
        OK: u8 as "byte" = 0;
        /// Degraded.
        WARN: u8 as "byte" = 1;
        /// Failing.
        ERROR: u8 as "byte" = 2;
        /// No recent updates.
        STALE: u8 as "byte" = 3;
    }
    fields {
        /// One of the level constants; `byte` is an octet in ROS 2.
        level: u8 as "byte",
        /// Component name, conventionally `node: component`.
        name: String as "string",
        /// Human-readable summary of the status.
        message: String as "string",
        /// Hardware the component runs on, if any.
        hardware_id: String as "string",
        /// Measured values shown beside the status.
        values: Vec<KeyValue> as "KeyValue[]",
    }
}

ros_message! {
    /// A batch of component statuses.
    pub struct DiagnosticArray = "diagnostic_msgs/msg/DiagnosticArray";
    fields {
        /// When the statuses were gathered.
        header: Header as "std_msgs/Header",
        /// One entry per component.
        status: Vec<DiagnosticStatus> as "DiagnosticStatus[]",
    }
}
