//! The alert node: metric intake from the collector's topics, the persisted alert
//! history, and the node that evaluates rules and sends notifications.

pub mod history;
pub mod intake;
pub mod node;

#[cfg(test)]
mod engine_tests;

pub use node::{run, Settings};
