//! Collector configuration: which topics form the VLA pipeline, how a command is followed
//! across them, and how the collector aggregates and publishes what it measures.
//!
//! The file has one top-level key, `collector:`, so its kind is recognised from content.
//! Every field has a default (`defaults`, the only place defaults live);
//! `config/collector.yaml` spells them all out with comments. The serde structs are in
//! `schema`, the rules serde cannot express in `validate`, the `check-config` account in
//! `summary`.

mod defaults;
mod schema;
mod summary;
mod validate;

pub(crate) use schema::CollectorFile;
pub use schema::{
    AudioFormat, CollectorConfig, FieldMatch, FoxgloveConfig, JsonFields, PrometheusConfig,
    QosProfile, ResourcesConfig, SloConfig, StageConfig, SubscriptionQos, WatchedTopic,
    DEFAULT_CONFIDENCE_KEY,
};
pub(crate) use validate::{is_identifier, is_topic};
