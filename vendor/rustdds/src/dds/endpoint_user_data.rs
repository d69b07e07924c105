//! vla_perf patch: the USER_DATA QoS value (DDS 1.4, 2.2.3.1) this process's endpoints
//! announce in SEDP, chosen per type name.
//!
//! ROS 2 Jazzy's RMW layers put the message type hash (REP-2011,
//! `typehash=RIHS01_<hex>;`) there, and Jazzy's rmw_cyclonedds warns about every remote
//! endpoint without it. The registry is process-wide because the type hash is a property of
//! the type, and because ros2-client creates some endpoints (`ros_discovery_info`, rosout,
//! parameter services) inside its own constructors: registering before creating the
//! `DomainParticipant` covers all of them.

use std::{
  collections::BTreeMap,
  sync::{OnceLock, RwLock},
};

fn registry() -> &'static RwLock<BTreeMap<String, Vec<u8>>> {
  static REGISTRY: OnceLock<RwLock<BTreeMap<String, Vec<u8>>>> = OnceLock::new();
  REGISTRY.get_or_init(|| RwLock::new(BTreeMap::new()))
}

/// Sets the USER_DATA that endpoints of DDS type `type_name` (e.g.
/// `std_msgs::msg::dds_::String_`) created from now on announce. An empty value removes it.
pub fn set_endpoint_user_data(type_name: &str, user_data: Vec<u8>) {
  let mut map = registry().write().unwrap_or_else(|e| e.into_inner());
  if user_data.is_empty() {
    map.remove(type_name);
  } else {
    map.insert(type_name.to_owned(), user_data);
  }
}

/// The USER_DATA registered for `type_name`; empty when none is.
pub fn endpoint_user_data(type_name: &str) -> Vec<u8> {
  registry()
    .read()
    .unwrap_or_else(|e| e.into_inner())
    .get(type_name)
    .cloned()
    .unwrap_or_default()
}
