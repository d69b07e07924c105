//! The measurement core: pure functions and state machines.
//!
//! Nothing here performs I/O or reads a clock: every timestamp is an argument, expressed as
//! a [`std::time::Duration`] since an epoch chosen by the caller (ROS time, steady time, or
//! a recording's receive time). Durations between two timestamps are computed with
//! `checked_sub`, so time that runs backwards is detected rather than wrapped.

pub mod alert;
pub mod bench;
pub mod clock;
pub mod discover;
pub mod extract;
pub mod ingest;
pub mod kpi;
pub mod metric;
pub mod reorder;
pub mod stage;
pub mod stats;
pub mod timeline;
pub mod topic_health;
pub mod trend;
