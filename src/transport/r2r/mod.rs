//! The rcl-native backend (feature `r2r`), used by the colcon build on ROS 2 machines.
//!
//! It runs on r2r's rcl bindings: one rcl context per process, rcl nodes, and endpoints that
//! move serialised messages (CDR with the 4-byte encapsulation header, exactly what the seam
//! carries). Unlike r2r's typed `Node` API it needs no message bindings compiled in:
//! - type supports are loaded at run time ([`typesupport`]), so any message type installed
//!   on the machine can be watched, as with `ros2 topic hz`;
//! - every sample carries the publisher's source timestamp from the rmw message info, so
//!   scheduling delays of this process do not enter stage latencies.
//!
//! Like every rcl node it follows the ROS 2 environment: `ROS_AUTOMATIC_DISCOVERY_RANGE`
//! (Jazzy's default is the subnet), `ROS_STATIC_PEERS`, `RMW_IMPLEMENTATION`, and the
//! `--ros-args` of the command line. [`NodeOptions::range`] is not applied: a caller that
//! wants localhost only exports `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`, as for any node.
//!
//! The domain id is per context, so the first node fixes it for the process; a later node
//! asking for another domain while the first lives is refused with an error.
//!
//! Each node has one thread that waits in rcl and hands every sample to its [`SampleSink`]
//! as soon as rcl has it, so no tokio runtime is needed and nothing queues in between.
//! [`Node::now`] is the wall clock (`/clock` is not followed).

pub mod rcl;
pub mod typesupport;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use self::rcl::{
    backend_error, backend_failure, Context, NodeHandle, RclPublisher, RclSubscription, WaitSet,
};
use super::{
    group_topics, wall_clock, Error, GraphTopic, Node, NodeOptions, ParamValue, Qos, RawPublisher,
    Result, Sample, SampleSink, Transport,
};

const BACKEND: &str = "r2r";

/// Longest time the spinner waits in rcl without traffic. Bounds how long creating an
/// endpoint and dropping a node wait for the spinner; samples wake it at once.
const SPIN_TIMEOUT: Duration = Duration::from_millis(20);

/// The spinner's short pause: while another thread waits for the node, and after a wait in
/// rcl that failed.
const YIELD_PAUSE: Duration = Duration::from_millis(1);

/// Creates rcl nodes. All nodes of a process share one rcl context, so they must agree on
/// the domain id.
#[derive(Debug, Default, Clone)]
pub struct R2rTransport;

/// The process's rcl context, while any node uses it.
static CONTEXT: Mutex<Weak<Context>> = Mutex::new(Weak::new());

/// The shared rcl context, created on first use on the domain `options` ask for.
fn context_for(options: &NodeOptions) -> Result<Arc<Context>> {
    let mut shared = CONTEXT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(context) = shared.upgrade() {
        if context.domain_id() != options.domain_id {
            return Err(backend_error(
                format!("create node {}", options.name),
                format!(
                    "rcl is initialised once per process, on domain {}; this node asks for \
                     domain {}",
                    context.domain_id(),
                    options.domain_id
                ),
            ));
        }
        return Ok(context);
    }
    let context = Arc::new(Context::new(options.domain_id)?);
    *shared = Arc::downgrade(&context);
    Ok(context)
}

impl Transport for R2rTransport {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn create_node(&self, options: &NodeOptions) -> Result<Box<dyn Node>> {
        let context = context_for(options)?;
        let handle = NodeHandle::new(context.clone(), &options.name, &options.namespace)?;
        let wait_set = WaitSet::new(context)?;
        let shared = Arc::new(Shared {
            spun: Mutex::new(Spun {
                forwards: Vec::new(),
                topic_types: Vec::new(),
            }),
            waiting: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let spinner = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("rcl-{}", options.name))
                .spawn(move || spin(&shared, wait_set))
                .map_err(|e| backend_failure("start spinner thread", e))?
        };
        Ok(Box::new(R2rNode {
            name: options.name.clone(),
            namespace: options.namespace.clone(),
            handle,
            parameters: options.parameters.iter().cloned().collect(),
            shared,
            spinner: Some(spinner),
        }))
    }
}

/// Everything the spinner thread touches, behind one lock.
struct Spun {
    forwards: Vec<Forward>,
    /// Topic and type of every endpoint of this node, to refuse a second type per topic.
    topic_types: Vec<(String, String)>,
}

/// One subscription and the sink its samples go to.
struct Forward {
    subscription: RclSubscription,
    sink: SampleSink,
    topic: String,
    /// Take errors so far; the first is logged, all are counted as drops.
    take_errors: u64,
}

impl Forward {
    /// Hands every sample rcl holds for this subscription to the sink; says how many.
    fn drain(&mut self) -> usize {
        let mut delivered = 0;
        loop {
            match self.subscription.take() {
                Ok(Some(taken)) => {
                    delivered += 1;
                    // Header-only readers take a few hundred bytes of megabyte images.
                    let cdr = self.sink.cut(taken.cdr).to_vec();
                    let size = taken.cdr.len();
                    self.sink.deliver(Sample {
                        cdr,
                        size,
                        received_at: wall_clock(),
                        source_time: taken.source_time,
                    });
                }
                Ok(None) => return delivered,
                Err(e) => {
                    self.take_errors += 1;
                    if self.take_errors == 1 {
                        tracing::warn!(topic = %self.topic, "{e} (further errors counted as drops)");
                    }
                    self.sink.record_drop();
                    return delivered;
                }
            }
        }
    }
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

fn spin(shared: &Shared, mut wait_set: WaitSet) {
    let mut ready = Vec::new();
    let mut failures = 0u64;
    while !shared.stop.load(Ordering::Acquire) {
        if shared.waiting.load(Ordering::Acquire) > 0 {
            std::thread::sleep(YIELD_PAUSE);
            continue;
        }
        let mut spun = shared.spun.lock().unwrap_or_else(PoisonError::into_inner);
        // Subscriptions nobody reads any more are finalised here.
        spun.forwards.retain(|f| !f.sink.is_closed());
        // rcl refuses to wait on an empty set; nodes that only publish just idle.
        if spun.forwards.is_empty() {
            drop(spun);
            std::thread::sleep(SPIN_TIMEOUT);
            continue;
        }
        let started = Instant::now();
        let waited = wait_set.wait(
            spun.forwards.iter().map(|f| &f.subscription),
            SPIN_TIMEOUT,
            &mut ready,
        );
        match &waited {
            Ok(()) => {
                for (forward, _) in spun.forwards.iter_mut().zip(&ready).filter(|(_, r)| **r) {
                    forward.drain();
                }
            }
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!("rcl wait failed: {e}");
                }
            }
        }
        drop(spun);
        // A wait that fails at once must not become a busy loop.
        if waited.is_err() && started.elapsed() < SPIN_TIMEOUT {
            std::thread::sleep(YIELD_PAUSE);
        }
    }
}

struct R2rNode {
    name: String,
    namespace: String,
    handle: Arc<NodeHandle>,
    parameters: HashMap<String, ParamValue>,
    shared: Arc<Shared>,
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
        let support = typesupport::load(type_name)?;
        let mut spun = self.shared.lock();
        spun.claim_topic(&full, type_name)?;
        let publisher = RclPublisher::new(&self.handle, &full, support, qos)?;
        Ok(Box::new(R2rPublisher {
            topic: full,
            publisher,
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
        let support = typesupport::load(type_name)?;
        let mut spun = self.shared.lock();
        spun.claim_topic(&full, type_name)?;
        let subscription = RclSubscription::new(&self.handle, &full, support, qos)?;
        spun.forwards.push(Forward {
            subscription,
            sink,
            topic: full,
            take_errors: 0,
        });
        Ok(())
    }

    fn parameter(&self, name: &str) -> Option<ParamValue> {
        self.parameters.get(name).cloned()
    }

    fn graph_topics(&self) -> Result<Vec<GraphTopic>> {
        Ok(group_topics(self.handle.graph_endpoints()?))
    }
}

impl Drop for R2rNode {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        // Joining first finalises the subscriptions here, before the node they belong to.
        if let Some(spinner) = self.spinner.take() {
            if spinner.join().is_err() {
                tracing::error!(node = %self.name, "rcl spinner thread panicked");
            }
        }
    }
}

struct R2rPublisher {
    topic: String,
    publisher: RclPublisher,
}

impl RawPublisher for R2rPublisher {
    fn publish_cdr(&self, cdr: &[u8]) -> Result<()> {
        if cdr.len() < 4 {
            return Err(backend_error(
                format!("publish {}", self.topic),
                "a serialised message needs at least its 4-byte encapsulation header",
            ));
        }
        self.publisher.publish(cdr).map_err(|e| match e {
            Error::Backend { message, .. } => {
                backend_error(format!("publish {}", self.topic), message)
            }
            other => other,
        })
    }
}
