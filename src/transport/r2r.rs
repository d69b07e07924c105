//! The rcl-native backend over `r2r` (feature `r2r`), used by the colcon build on ROS 2
//! machines.
//!
//! Samples move as the rmw's serialised messages, which are CDR with the 4-byte
//! encapsulation header, exactly what the seam carries: `subscribe_raw` hands them over
//! untouched and `publish_raw` sends them untouched.
//!
//! Things worth knowing before using it:
//! - r2r keeps one rcl context per process, and rcl reads the domain id and discovery range
//!   from the environment when that context is created. The first node therefore fixes
//!   both: before creating the context the backend writes its [`NodeOptions`] into the
//!   process environment where they differ from it (see [`environment_changes`]), and later
//!   nodes asking for another domain or range are refused with an error.
//! - r2r only knows the message types it found on `AMENT_PREFIX_PATH` when it was compiled.
//!   `vla_perf/msg/*` topics work only if the vla_perf interfaces were built and sourced
//!   before the cargo build; otherwise creating the endpoint fails with an [`Error::Name`].
//! - Each node has one thread that waits in rcl (`spin_once`) and hands every sample to its
//!   [`SampleSink`] as soon as rcl has taken it, so no tokio runtime is needed and nothing
//!   queues inside r2r.
//! - [`Node::now`] reads the node's RosTime clock. It follows `/clock` only once r2r's time
//!   source is enabled, which this backend does not do yet, so it is system time for now.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::{FutureExt, Stream, StreamExt};
use r2r::QosProfile;

use super::{
    wall_clock, DiscoveryRange, Durability, Error, Node, NodeOptions, ParamValue, Qos,
    RawPublisher, Reliability, Result, Sample, SampleSink, Transport,
};

const BACKEND: &str = "r2r";

/// Longest time the spinner waits in rcl without traffic. Bounds how long creating an
/// endpoint and dropping a node wait for the spinner; samples wake it at once.
const SPIN_TIMEOUT: Duration = Duration::from_millis(20);

/// The spinner's short pause: while another thread waits for the node, and after a wait in
/// rcl that ended early without a sample.
const YIELD_PAUSE: Duration = Duration::from_millis(1);

fn backend_error(operation: impl Into<String>, error: impl std::fmt::Display) -> Error {
    Error::Backend {
        backend: BACKEND,
        operation: operation.into(),
        message: error.to_string(),
    }
}

/// An r2r error, with the ones that mean "bad name" or "unknown type" made specific.
fn r2r_error(operation: impl Into<String>, error: r2r::Error, names: &Names<'_>) -> Error {
    let name = |what: &'static str, name: &str, reason: &str| Error::Name {
        what,
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    match error {
        r2r::Error::InvalidMessageType { msgtype } => name(
            "type",
            &msgtype,
            "unknown to this r2r build; build and source its package before building vla_perf",
        ),
        r2r::Error::RCL_RET_NODE_INVALID_NAME => name("node name", names.node, "rejected by rcl"),
        r2r::Error::RCL_RET_NODE_INVALID_NAMESPACE => {
            name("namespace", names.namespace, "rejected by rcl")
        }
        r2r::Error::RCL_RET_TOPIC_NAME_INVALID => name("topic", names.topic, "rejected by rcl"),
        other => backend_error(operation, other),
    }
}

/// The names an r2r call was given, for turning its error codes into [`Error::Name`].
#[derive(Default)]
struct Names<'a> {
    node: &'a str,
    namespace: &'a str,
    topic: &'a str,
}

/// Creates r2r nodes. All nodes of a process share r2r's one rcl context, so they must
/// agree on domain id and discovery range.
#[derive(Debug, Default, Clone)]
pub struct R2rTransport;

impl Transport for R2rTransport {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn create_node(&self, options: &NodeOptions) -> Result<Box<dyn Node>> {
        // r2r turns names into C strings with `unwrap`; an interior NUL would panic there.
        for (what, name) in [
            ("node name", &options.name),
            ("namespace", &options.namespace),
        ] {
            if name.contains('\0') {
                return Err(Error::Name {
                    what,
                    name: name.clone(),
                    reason: "contains a NUL character".into(),
                });
            }
        }
        let context = context_for(options)?;
        let names = Names {
            node: &options.name,
            namespace: &options.namespace,
            ..Names::default()
        };
        let node = r2r::Node::create(context, &options.name, &options.namespace).map_err(|e| {
            r2r_error(
                format!("create node {}/{}", options.namespace, options.name),
                e,
                &names,
            )
        })?;
        {
            // Values given on the command line (`--ros-args -p`) were loaded by r2r and win.
            let mut params = node.params.lock().unwrap_or_else(PoisonError::into_inner);
            for (name, value) in &options.parameters {
                if !params.contains_key(name) {
                    params.insert(name.clone(), r2r::Parameter::new(to_r2r(value)));
                }
            }
        }
        let clock = node.get_ros_clock();
        let shared = Arc::new(Shared {
            spun: Mutex::new(Spun {
                node,
                forwards: Vec::new(),
                topic_types: Vec::new(),
            }),
            waiting: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let spinner = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("r2r-{}", options.name))
                .spawn(move || spin(&shared))
                .map_err(|e| backend_error("start spinner thread", e))?
        };
        Ok(Box::new(R2rNode {
            name: options.name.clone(),
            namespace: options.namespace.clone(),
            shared,
            clock,
            spinner: Some(spinner),
        }))
    }
}

fn to_r2r(value: &ParamValue) -> r2r::ParameterValue {
    match value {
        ParamValue::Bool(b) => r2r::ParameterValue::Bool(*b),
        ParamValue::Integer(i) => r2r::ParameterValue::Integer(*i),
        ParamValue::Double(d) => r2r::ParameterValue::Double(*d),
        ParamValue::String(s) => r2r::ParameterValue::String(s.clone()),
    }
}

/// The process's rcl context and the domain and range it was created with.
static CONTEXT: Mutex<Option<(r2r::Context, u16, DiscoveryRange)>> = Mutex::new(None);

/// The shared rcl context, created on first use with the environment `options` ask for.
fn context_for(options: &NodeOptions) -> Result<r2r::Context> {
    let mut context = CONTEXT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((context, domain_id, range)) = context.as_ref() {
        if (*domain_id, *range) != (options.domain_id, options.range) {
            return Err(backend_error(
                format!("create node {}", options.name),
                format!(
                    "rcl is initialised once per process, with domain {domain_id} and range \
                     {range:?}; this node asks for domain {} and range {:?}",
                    options.domain_id, options.range
                ),
            ));
        }
        return Ok(context.clone());
    }
    for (name, value) in environment_changes(options, |name| std::env::var(name).ok()) {
        tracing::info!("r2r backend: setting {name}={value} for rcl");
        // r2r offers no other way in: it creates the context with rcl's default init
        // options, which read these variables. Writing the environment is only sound while
        // no other thread reads it; this runs once, before rcl starts its threads. A binary
        // that reads the environment on other threads meanwhile should export the
        // variables before start-up instead, which makes this loop write nothing.
        std::env::set_var(name, value);
    }
    // r2r panics when rcl_init fails instead of returning its error.
    let created = std::panic::catch_unwind(r2r::Context::create)
        .map_err(|panic| backend_error("initialise rcl", panic_message(panic.as_ref())))?
        .map_err(|e| backend_error("initialise rcl", e))?;
    *context = Some((created.clone(), options.domain_id, options.range));
    Ok(created)
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("rcl_init failed")
}

/// Distributions whose rcl reads only `ROS_LOCALHOST_ONLY`; later ones read
/// `ROS_AUTOMATIC_DISCOVERY_RANGE` and still honour `ROS_LOCALHOST_ONLY=1` (deprecated).
const LEGACY_DISTROS: [&str; 3] = ["foxy", "galactic", "humble"];

/// The environment variables to set so that rcl, reading `env`, uses the domain and
/// discovery range of `options`; empty when it already would.
///
/// rcl compares values exactly (`LOCALHOST`, `1`), and its default range differs between
/// distributions and from vla_perf's (localhost), so an unset range variable counts as a
/// difference. `ROS_DISTRO` says which variable the distribution reads; where it is unset,
/// both are written.
pub fn environment_changes(
    options: &NodeOptions,
    env: impl Fn(&str) -> Option<String>,
) -> Vec<(&'static str, String)> {
    let mut changes = Vec::new();
    // rcl takes an unset or empty ROS_DOMAIN_ID as domain 0.
    let domain = env("ROS_DOMAIN_ID");
    let current_domain = match domain.as_deref().map(str::trim) {
        None | Some("") => Some(0),
        Some(v) => v.parse::<u16>().ok(),
    };
    if current_domain != Some(options.domain_id) {
        changes.push(("ROS_DOMAIN_ID", options.domain_id.to_string()));
    }

    let distro = env("ROS_DISTRO").filter(|d| !d.trim().is_empty());
    let reads_localhost_only = distro
        .as_deref()
        .is_none_or(|d| LEGACY_DISTROS.contains(&d.trim()));
    let reads_range = distro
        .as_deref()
        .is_none_or(|d| !LEGACY_DISTROS.contains(&d.trim()));
    let localhost_only = env("ROS_LOCALHOST_ONLY").as_deref() == Some("1");
    let range = env("ROS_AUTOMATIC_DISCOVERY_RANGE");
    match options.range {
        // ROS_LOCALHOST_ONLY=1 means localhost on every distribution.
        DiscoveryRange::Localhost if localhost_only => {}
        DiscoveryRange::Localhost => {
            if reads_localhost_only {
                changes.push(("ROS_LOCALHOST_ONLY", "1".into()));
            }
            if reads_range && range.as_deref() != Some("LOCALHOST") {
                changes.push(("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST".into()));
            }
        }
        DiscoveryRange::Subnet => {
            if localhost_only {
                changes.push(("ROS_LOCALHOST_ONLY", "0".into()));
            }
            if reads_range && !matches!(range.as_deref(), Some("SUBNET" | "SYSTEM_DEFAULT")) {
                changes.push(("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET".into()));
            }
        }
    }
    changes
}

/// Everything the spinner thread touches, behind one lock because r2r nodes are not `Sync`.
struct Spun {
    node: r2r::Node,
    forwards: Vec<Forward>,
    /// Topic and type of every endpoint of this node, to refuse a second type per topic.
    topic_types: Vec<(String, String)>,
}

/// One subscription: r2r's stream of serialised samples and the sink they go to.
struct Forward {
    samples: Box<dyn Stream<Item = Vec<u8>> + Unpin + Send>,
    sink: SampleSink,
}

impl Spun {
    fn claim_topic(&mut self, topic: &str, type_name: &str) -> Result<()> {
        match self.topic_types.iter().find(|(t, _)| t == topic) {
            Some((_, existing)) if existing != type_name => Err(Error::TypeMismatch {
                topic: topic.to_owned(),
                existing: existing.clone(),
                requested: type_name.to_owned(),
            }),
            Some(_) => Ok(()),
            None => {
                self.topic_types
                    .push((topic.to_owned(), type_name.to_owned()));
                Ok(())
            }
        }
    }

    /// Hands every sample r2r has taken to its sink and says how many there were; drops
    /// subscriptions nobody reads, which makes r2r destroy them on its next take.
    fn forward(&mut self) -> usize {
        let mut delivered = 0;
        self.forwards.retain_mut(|forward| loop {
            if forward.sink.is_closed() {
                return false;
            }
            // r2r's stream is a channel filled by `spin_once`; polling once never waits.
            match forward.samples.next().now_or_never() {
                Some(Some(mut cdr)) => {
                    delivered += 1;
                    let size = cdr.len();
                    // rcl already copied the whole message; dropping the tail still saves
                    // the queue from holding megabyte images for a header-only reader.
                    cdr.truncate(forward.sink.cut(&cdr).len());
                    forward.sink.deliver(Sample {
                        cdr,
                        size,
                        received_at: wall_clock(),
                        // r2r's raw stream carries no message info.
                        source_time: None,
                    })
                }
                Some(None) => return false,
                None => return true,
            }
        });
        delivered
    }
}

struct Shared {
    spun: Mutex<Spun>,
    /// Threads waiting for `spun`; the spinner steps aside while there are any, because a
    /// std mutex is not fair and the spinner relocks it at once.
    waiting: AtomicUsize,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Spun> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let guard = self.spun.lock().unwrap_or_else(PoisonError::into_inner);
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        guard
    }
}

fn spin(shared: &Shared) {
    while !shared.stop.load(Ordering::Acquire) {
        if shared.waiting.load(Ordering::Acquire) > 0 {
            std::thread::sleep(YIELD_PAUSE);
            continue;
        }
        let mut spun = shared.spun.lock().unwrap_or_else(PoisonError::into_inner);
        // rcl_wait returns at once on an empty wait set, which would turn this loop into a
        // busy one for nodes that only publish.
        if spun.forwards.is_empty() {
            drop(spun);
            std::thread::sleep(SPIN_TIMEOUT);
            continue;
        }
        let started = Instant::now();
        spun.node.spin_once(SPIN_TIMEOUT);
        let delivered = spun.forward();
        drop(spun);
        // spin_once reports no errors; a wait that ends early with nothing taken most likely
        // hit one, and must not become a busy loop either.
        if delivered == 0 && started.elapsed() < SPIN_TIMEOUT {
            std::thread::sleep(YIELD_PAUSE);
        }
    }
}

fn profile(qos: Qos) -> QosProfile {
    let profile = QosProfile::default().keep_last(qos.depth.max(1));
    let profile = match qos.reliability {
        Reliability::Reliable => profile.reliable(),
        Reliability::BestEffort => profile.best_effort(),
    };
    match qos.durability {
        Durability::Volatile => profile.volatile(),
        Durability::TransientLocal => profile.transient_local(),
    }
}

struct R2rNode {
    name: String,
    namespace: String,
    shared: Arc<Shared>,
    clock: Arc<Mutex<r2r::Clock>>,
    spinner: Option<JoinHandle<()>>,
}

impl Node for R2rNode {
    fn name(&self) -> &str {
        &self.name
    }

    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn create_raw_publisher(
        &mut self,
        topic: &str,
        type_name: &str,
        qos: Qos,
    ) -> Result<Box<dyn RawPublisher>> {
        let full = super::resolve_topic(&self.namespace, topic)?;
        let mut spun = self.shared.lock();
        spun.claim_topic(&full, type_name)?;
        let names = Names {
            topic: &full,
            ..Names::default()
        };
        let publisher = spun
            .node
            .create_publisher_untyped(&full, type_name, profile(qos))
            .map_err(|e| r2r_error(format!("create publisher {full}"), e, &names))?;
        Ok(Box::new(R2rPublisher {
            topic: full,
            publisher: Mutex::new(publisher),
        }))
    }

    fn create_raw_subscription(
        &mut self,
        topic: &str,
        type_name: &str,
        qos: Qos,
        sink: SampleSink,
    ) -> Result<()> {
        let full = super::resolve_topic(&self.namespace, topic)?;
        let mut spun = self.shared.lock();
        spun.claim_topic(&full, type_name)?;
        let names = Names {
            topic: &full,
            ..Names::default()
        };
        let samples = spun
            .node
            .subscribe_raw(&full, type_name, profile(qos))
            .map_err(|e| r2r_error(format!("create subscription {full}"), e, &names))?;
        spun.forwards.push(Forward {
            samples: Box::new(samples),
            sink,
        });
        Ok(())
    }

    fn parameter(&self, name: &str) -> Option<ParamValue> {
        let spun = self.shared.lock();
        let params = spun
            .node
            .params
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &params.get(name)?.value {
            r2r::ParameterValue::Bool(b) => Some(ParamValue::Bool(*b)),
            r2r::ParameterValue::Integer(i) => Some(ParamValue::Integer(*i)),
            r2r::ParameterValue::Double(d) => Some(ParamValue::Double(*d)),
            r2r::ParameterValue::String(s) => Some(ParamValue::String(s.clone())),
            _ => None,
        }
    }

    fn now(&self) -> Duration {
        let mut clock = self.clock.lock().unwrap_or_else(PoisonError::into_inner);
        // The node's clock fails only if rcl considers it invalid; wall time is what an
        // uninitialised RosTime clock would report anyway.
        clock.get_now().unwrap_or_else(|_| wall_clock())
    }
}

impl Drop for R2rNode {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        // Joining first makes this the last owner, so the rcl node is finalised here and
        // not on the spinner thread after the process may have moved on.
        if let Some(spinner) = self.spinner.take() {
            if spinner.join().is_err() {
                tracing::error!(node = %self.name, "r2r spinner thread panicked");
            }
        }
    }
}

struct R2rPublisher {
    topic: String,
    /// r2r's publisher is `Send` but not `Sync`; publishing is brief, so a lock is cheap.
    publisher: Mutex<r2r::PublisherUntyped>,
}

impl RawPublisher for R2rPublisher {
    fn publish_cdr(&self, cdr: &[u8]) -> Result<()> {
        if cdr.len() < 4 {
            return Err(backend_error(
                format!("publish {}", self.topic),
                "a serialised message needs at least its 4-byte encapsulation header",
            ));
        }
        let publisher = self
            .publisher
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        publisher
            .publish_raw(cdr)
            .map_err(|e| backend_error(format!("publish {}", self.topic), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn options(domain_id: u16, range: DiscoveryRange) -> NodeOptions {
        NodeOptions {
            domain_id,
            range,
            ..NodeOptions::new("n", "/")
        }
    }

    fn changes(options: &NodeOptions, vars: &[(&str, &str)]) -> Vec<(&'static str, String)> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        environment_changes(options, |name| vars.get(name).cloned())
    }

    fn owned(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn an_environment_that_already_matches_is_left_alone() {
        let localhost = options(7, DiscoveryRange::Localhost);
        let jazzy = [
            ("ROS_DISTRO", "jazzy"),
            ("ROS_DOMAIN_ID", "7"),
            ("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST"),
        ];
        assert!(changes(&localhost, &jazzy).is_empty());
        let humble = [
            ("ROS_DISTRO", "humble"),
            ("ROS_DOMAIN_ID", " 7 "),
            ("ROS_LOCALHOST_ONLY", "1"),
        ];
        assert!(changes(&localhost, &humble).is_empty());
        let subnet = options(0, DiscoveryRange::Subnet);
        assert!(changes(&subnet, &[("ROS_DISTRO", "humble")]).is_empty());
        assert!(changes(
            &subnet,
            &[
                ("ROS_DISTRO", "jazzy"),
                ("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET")
            ]
        )
        .is_empty());
    }

    #[test]
    fn the_domain_id_is_written_when_rcl_would_read_another() {
        let o = options(42, DiscoveryRange::Localhost);
        let base = [("ROS_DISTRO", "humble"), ("ROS_LOCALHOST_ONLY", "1")];
        assert_eq!(changes(&o, &base), owned(&[("ROS_DOMAIN_ID", "42")]));
        let mut wrong = base.to_vec();
        wrong.push(("ROS_DOMAIN_ID", "3"));
        assert_eq!(changes(&o, &wrong), owned(&[("ROS_DOMAIN_ID", "42")]));
        // Unset means 0 to rcl, so domain 0 needs nothing written.
        assert!(changes(&options(0, DiscoveryRange::Localhost), &base).is_empty());
    }

    #[test]
    fn localhost_is_written_in_the_variable_the_distribution_reads() {
        let o = options(0, DiscoveryRange::Localhost);
        assert_eq!(
            changes(&o, &[("ROS_DISTRO", "humble")]),
            owned(&[("ROS_LOCALHOST_ONLY", "1")])
        );
        assert_eq!(
            changes(
                &o,
                &[
                    ("ROS_DISTRO", "jazzy"),
                    ("ROS_AUTOMATIC_DISCOVERY_RANGE", "localhost")
                ]
            ),
            owned(&[("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")])
        );
        assert_eq!(
            changes(&o, &[]),
            owned(&[
                ("ROS_LOCALHOST_ONLY", "1"),
                ("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
            ])
        );
    }

    #[test]
    fn the_subnet_clears_a_localhost_only_flag_that_would_override_it() {
        let o = options(0, DiscoveryRange::Subnet);
        assert_eq!(
            changes(&o, &[("ROS_DISTRO", "humble"), ("ROS_LOCALHOST_ONLY", "1")]),
            owned(&[("ROS_LOCALHOST_ONLY", "0")])
        );
        assert_eq!(
            changes(
                &o,
                &[
                    ("ROS_DISTRO", "rolling"),
                    ("ROS_LOCALHOST_ONLY", "1"),
                    ("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
                ]
            ),
            owned(&[
                ("ROS_LOCALHOST_ONLY", "0"),
                ("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET")
            ])
        );
    }

    #[test]
    fn qos_maps_onto_r2r_profiles() {
        let p = profile(Qos::sensor_data());
        assert_eq!(p, QosProfile::sensor_data());
        let p = profile(Qos::latched());
        assert_eq!(p, QosProfile::default().keep_last(1).transient_local());
        assert_eq!(profile(Qos::reliable(10)), QosProfile::default());
    }
}
