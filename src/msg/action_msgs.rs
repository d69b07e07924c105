//! Mirrors of `action_msgs` messages: the goal status an action server publishes.

use super::builtin_interfaces::Time;
use super::ros_message;
use super::unique_identifier_msgs::UUID;

ros_message! {
    /// Identifies a goal and when the server accepted it.
    pub struct GoalInfo = "action_msgs/msg/GoalInfo";
    fields {
        /// The goal's id.
        goal_id: UUID as "unique_identifier_msgs/UUID",
        /// When the goal was accepted.
        stamp: Time as "builtin_interfaces/Time",
    }
}

ros_message! {
    /// The state of one goal.
    pub struct GoalStatus = "action_msgs/msg/GoalStatus";
    constants {
        /// State not known.
        STATUS_UNKNOWN: i8 as "int8" = 0;
        /// Accepted, awaiting execution.
        STATUS_ACCEPTED: i8 as "int8" = 1;
        /// Being executed.
        STATUS_EXECUTING: i8 as "int8" = 2;
        /// Cancel requested, still running.
        STATUS_CANCELING: i8 as "int8" = 3;
        /// Finished successfully.
        STATUS_SUCCEEDED: i8 as "int8" = 4;
        /// Finished after a cancel request.
        STATUS_CANCELED: i8 as "int8" = 5;
        /// Ended by the server without success.
        STATUS_ABORTED: i8 as "int8" = 6;
    }
    fields {
        /// Which goal.
        goal_info: GoalInfo as "GoalInfo",
        /// One of the STATUS_* constants.
        status: i8 as "int8",
    }
}

ros_message! {
    /// The status of every goal an action server tracks.
    pub struct GoalStatusArray = "action_msgs/msg/GoalStatusArray";
    fields {
        /// One entry per goal.
        status_list: Vec<GoalStatus> as "GoalStatus[]",
    }
}
