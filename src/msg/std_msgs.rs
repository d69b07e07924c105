//! Mirrors of `std_msgs` messages.

use super::builtin_interfaces::Time;
use super::ros_message;

ros_message! {
    /// Standard metadata of stamped messages: when and in which frame.
    pub struct Header = "std_msgs/msg/Header";
    fields {
        /// Time the data refers to.
        stamp: Time as "builtin_interfaces/Time",
        /// Coordinate frame the data is expressed in.
        // Spelled out because this module's `String` is the ROS message, not `std`'s.
        frame_id: ::std::string::String as "string",
    }
}

ros_message! {
    /// A bare string, as voice and LLM nodes commonly publish.
    pub struct String = "std_msgs/msg/String";
    fields {
        /// The text.
        data: ::std::string::String as "string",
    }
}
