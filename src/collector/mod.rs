//! The collector node's logic: stage topics in, metrics out.
//!
//! [`inputs`] turns messages of the configured stage topics into stage events for the core
//! tracker.

pub mod inputs;
