//! The collector node's logic: stage topics in, metrics out.
//!
//! [`inputs`] turns messages of the configured stage topics into stage events for the core
//! tracker; [`run`] is the node.

pub mod inputs;
mod node;
pub mod signals;

pub use node::{command_latency, run, Error, Result};
