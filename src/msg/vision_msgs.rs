//! Mirrors of `vision_msgs` 4.x (ROS 2 Humble and later) 2D detection messages.
//!
//! Since 4.0 a box centre is `vision_msgs/Pose2D` (a `Point2D` position and `theta`), not
//! `geometry_msgs/Pose2D`, and a hypothesis names its class with a string `class_id`.

use super::geometry_msgs::PoseWithCovariance;
use super::ros_message;
use super::std_msgs::Header;

ros_message! {
    /// A point in a 2D image, in pixels.
    pub struct Point2D = "vision_msgs/msg/Point2D";
    fields {
        /// Column coordinate.
        x: f64 as "float64",
        /// Row coordinate.
        y: f64 as "float64",
    }
}

ros_message! {
    /// A 2D pose: position and rotation (radians, counter-clockwise).
    pub struct Pose2D = "vision_msgs/msg/Pose2D";
    fields {
        /// Position.
        position: Point2D as "vision_msgs/Point2D",
        /// Rotation.
        theta: f64 as "float64",
    }
}

ros_message! {
    /// A box in an image, possibly rotated about its centre; dimensions in pixels.
    pub struct BoundingBox2D = "vision_msgs/msg/BoundingBox2D";
    fields {
        /// Centre and rotation.
        center: Pose2D as "vision_msgs/Pose2D",
        /// Width.
        size_x: f64 as "float64",
        /// Height.
        size_y: f64 as "float64",
    }
}

ros_message! {
    /// A class and its score.
    pub struct ObjectHypothesis = "vision_msgs/msg/ObjectHypothesis";
    fields {
        /// Class identifier.
        class_id: String as "string",
        /// Confidence, by convention in 0..1.
        score: f64 as "float64",
    }
}

ros_message! {
    /// A class hypothesis with the object's 6D pose.
    pub struct ObjectHypothesisWithPose = "vision_msgs/msg/ObjectHypothesisWithPose";
    fields {
        /// Class and score.
        hypothesis: ObjectHypothesis as "ObjectHypothesis",
        /// Pose of the object (unstamped; the frame is the parent's).
        pose: PoseWithCovariance as "geometry_msgs/PoseWithCovariance",
    }
}

ros_message! {
    /// One detected object: class hypotheses and its box.
    pub struct Detection2D = "vision_msgs/msg/Detection2D";
    fields {
        /// Stamp and frame of the source image.
        header: Header as "std_msgs/Header",
        /// Class hypotheses.
        results: Vec<ObjectHypothesisWithPose> as "ObjectHypothesisWithPose[]",
        /// The box.
        bbox: BoundingBox2D as "BoundingBox2D",
        /// Tracking id across messages; may be empty.
        id: String as "string",
    }
}

ros_message! {
    /// The detections of one image.
    pub struct Detection2DArray = "vision_msgs/msg/Detection2DArray";
    fields {
        /// Stamp and frame of the source image.
        header: Header as "std_msgs/Header",
        /// The detections.
        detections: Vec<Detection2D> as "Detection2D[]",
    }
}
