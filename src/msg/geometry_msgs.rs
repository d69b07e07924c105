//! Mirrors of the `geometry_msgs` messages that vision_msgs detections carry.

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserializer, Serializer};

use super::ros_message;

ros_message! {
    /// A position in free space.
    pub struct Point = "geometry_msgs/msg/Point";
    fields {
        /// X coordinate.
        x: f64 as "float64",
        /// Y coordinate.
        y: f64 as "float64",
        /// Z coordinate.
        z: f64 as "float64",
    }
}

ros_message! {
    /// An orientation as a unit quaternion. Note: the ROS 2 `.msg` defaults `w` to 1, and
    /// [`Quaternion::IDENTITY`] is that value; `Default` gives all zeros.
    pub struct Quaternion = "geometry_msgs/msg/Quaternion";
    fields {
        /// X component.
        x: f64 as "float64",
        /// Y component.
        y: f64 as "float64",
        /// Z component.
        z: f64 as "float64",
        /// W component.
        w: f64 as "float64",
    }
}

impl Quaternion {
    /// No rotation (the `.msg` default).
    pub const IDENTITY: Quaternion = Quaternion {
        x: 0.0,
        y: 0.0,
        z: 0.0,
        w: 1.0,
    };
}

ros_message! {
    /// A position and an orientation.
    pub struct Pose = "geometry_msgs/msg/Pose";
    fields {
        /// Position.
        position: Point as "Point",
        /// Orientation.
        orientation: Quaternion as "Quaternion",
    }
}

/// The row-major 6x6 covariance of a pose (`float64[36]`), a CDR fixed array: no length
/// on the wire. A newtype because serde and `Default` stop at arrays of 32.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Covariance(pub [f64; 36]);

impl Default for Covariance {
    fn default() -> Self {
        Self([0.0; 36])
    }
}

impl serde::Serialize for Covariance {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(36)?;
        for v in &self.0 {
            tuple.serialize_element(v)?;
        }
        tuple.end()
    }
}

impl<'de> serde::Deserialize<'de> for Covariance {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fixed;
        impl<'de> Visitor<'de> for Fixed {
            type Value = Covariance;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("36 float64 values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Covariance, A::Error> {
                let mut out = [0.0; 36];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(Covariance(out))
            }
        }
        deserializer.deserialize_tuple(36, Fixed)
    }
}

ros_message! {
    /// A pose with its uncertainty.
    pub struct PoseWithCovariance = "geometry_msgs/msg/PoseWithCovariance";
    fields {
        /// The pose.
        pose: Pose as "Pose",
        /// Row-major 6x6 covariance (x, y, z, rotation about X, Y, Z).
        covariance: Covariance as "float64[36]",
    }
}
