//! vla_perf: performance monitoring for Vision-Language-Action ROS 2 robot stacks.
//!
//! Built in three rings (ARCHITECTURE.md at the repository root):
//! - [`core`]: pure measurement logic in its own crate; no I/O, no ROS, no configuration
//!   parsing, no clock of its own.
//! - [`config`] parses YAML into the core's types; adapters (ROS 2 transport, messages,
//!   samplers, notifiers, Prometheus, reports) do the I/O.
//! - nodes and binaries wire config, adapters and core together.

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
pub mod discover;
pub mod foxglove;
pub mod msg;
pub mod node_main;
pub mod notify;
pub mod prometheus;
pub mod report;
pub mod resources;
pub mod sim;
pub mod transport;
