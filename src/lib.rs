//! vla_perf: performance monitoring for Vision-Language-Action ROS 2 robot stacks.
//!
//! The crate is built in three rings (see `DESIGN.md` of the project):
//! - [`core`]: pure measurement logic; no I/O, no ROS, no clock of its own.
//! - [`config`]: typed YAML configuration with validation that names file, line and field.
//! - adapters and nodes (ROS 2 transport, samplers, notifiers) build on these two.

pub mod alerts;
pub mod analyze;
pub mod bag;
pub mod bench;
pub mod collector;
pub mod config;
/// The pure core lives in its own crate (`crates/vla_perf_core`), so the compiler keeps it
/// free of I/O, configuration, transport and messages.
pub use vla_perf_core as core;
pub mod dashboard;
pub mod demo;
pub mod msg;
pub mod node_main;
pub mod notify;
pub mod prometheus;
pub mod report;
pub mod resources;
pub mod sim;
pub mod transport;
