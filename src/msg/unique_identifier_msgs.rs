//! Mirrors of `unique_identifier_msgs` messages.

use super::ros_message;

ros_message! {
    /// A 128-bit universally unique identifier (goal ids of actions).
    #[allow(clippy::upper_case_acronyms)] // Keeps the ROS name, as r2r and rclrs do.
    pub struct UUID = "unique_identifier_msgs/msg/UUID";
    fields {
        /// The 16 bytes; a CDR fixed array, so no length prefix on the wire.
        uuid: [u8; 16] as "uint8[16]",
    }
}
