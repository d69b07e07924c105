//! Mirrors of `sensor_msgs` messages.

use super::ros_message;
use super::std_msgs::Header;

ros_message! {
    /// An uncompressed image.
    pub struct Image = "sensor_msgs/msg/Image";
    fields {
        /// Acquisition time and camera frame.
        header: Header as "std_msgs/Header",
        /// Rows.
        height: u32 as "uint32",
        /// Columns.
        width: u32 as "uint32",
        /// Pixel encoding, e.g. `rgb8`.
        encoding: String as "string",
        /// Whether multi-byte values are big-endian.
        is_bigendian: u8 as "uint8",
        /// Bytes per row.
        step: u32 as "uint32",
        /// Pixels, `step * height` bytes.
        data: Vec<u8> as "uint8[]",
    }
}
