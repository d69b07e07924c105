//! The collector node's logic: stage topics in, metrics out.
//!
//! [`inputs`] turns messages of the configured stage topics into stage events for the core
//! tracker; [`Pipeline`] measures (no I/O); [`run`] is the live node around it.

pub mod inputs;
mod node;
pub mod pipeline;
pub mod signals;

pub use node::{run, Error, Result};
pub use pipeline::{command_latency, Pipeline};

/// The transport QoS of a configured subscription.
pub fn transport_qos(qos: crate::config::SubscriptionQos) -> crate::transport::Qos {
    use crate::config::QosProfile;
    use crate::transport::Qos;
    let profile = match qos.profile {
        QosProfile::Reliable => Qos::reliable(10),
        QosProfile::SensorData => Qos::sensor_data(),
        QosProfile::Latched => Qos::latched(),
    };
    Qos {
        depth: qos.depth.unwrap_or(profile.depth),
        ..profile
    }
}

use std::collections::{HashSet, VecDeque};

/// Action goals remembered, so a status topic republishing every goal it knows yields
/// each goal once; bounded, the oldest forgotten first.
#[derive(Debug, Clone, Default)]
pub(crate) struct GoalMemory {
    seen: HashSet<[u8; 16]>,
    order: VecDeque<[u8; 16]>,
}

impl GoalMemory {
    /// Goals remembered at most.
    const CAPACITY: usize = 4096;

    /// Whether `goal` was remembered before.
    pub(crate) fn contains(&self, goal: &[u8; 16]) -> bool {
        self.seen.contains(goal)
    }

    /// Remembers `goal`; false when it already was.
    pub(crate) fn insert(&mut self, goal: [u8; 16]) -> bool {
        if !self.seen.insert(goal) {
            return false;
        }
        self.order.push_back(goal);
        if self.order.len() > Self::CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}
