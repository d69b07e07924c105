//! Owned rcl objects over r2r's rcl bindings: a context, nodes, publishers and subscriptions
//! of serialised messages, and a wait set. Each type finalises what it owns when dropped,
//! and keeps alive (through an `Arc`) what it was created from.
//!
//! Everything here is a thin layer over rcl; what to do with the samples is the backend's.

use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use r2r as sys;

use super::typesupport::TypeSupport;
use crate::transport::{Durability, Error, Qos, Reliability, Result};

const BACKEND: &str = "r2r";

/// An error of the backend itself, with the operation that failed.
pub fn backend_error(operation: impl Into<String>, message: impl std::fmt::Display) -> Error {
    Error::Backend {
        backend: BACKEND,
        operation: operation.into(),
        message: message.to_string(),
    }
}

/// An error of a call the backend made outside rcl (a thread, a file), kept as the source.
pub fn backend_failure(
    operation: impl Into<String>,
    error: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::backend_failed(BACKEND, operation, error)
}

/// rcl's error text of the last call on this thread, which this resets.
fn last_error(ret: sys::rcl_ret_t) -> String {
    // SAFETY: rcutils keeps the error state per thread; reading and resetting it is always
    // allowed.
    let text = unsafe {
        let error = sys::rcutils_get_error_string();
        let text = CStr::from_ptr(error.str_.as_ptr())
            .to_string_lossy()
            .into_owned();
        sys::rcutils_reset_error();
        text
    };
    format!("rcl error {ret}: {text}")
}

fn check(ret: sys::rcl_ret_t, operation: impl FnOnce() -> String) -> Result<()> {
    if ret == sys::RCL_RET_OK as sys::rcl_ret_t {
        Ok(())
    } else {
        Err(backend_error(operation(), last_error(ret)))
    }
}

fn c_string(what: &'static str, value: &str) -> Result<CString> {
    CString::new(value).map_err(|_| Error::Name {
        what,
        name: value.to_owned(),
        reason: "contains a NUL character".into(),
    })
}

/// An initialised rcl context: one DDS participant, configured from the ROS environment
/// (`ROS_AUTOMATIC_DISCOVERY_RANGE`, `ROS_STATIC_PEERS`, `RMW_IMPLEMENTATION`) and the
/// process's `--ros-args` (remappings, log levels), exactly as for any rcl-based node.
pub struct Context {
    context: *mut sys::rcl_context_t,
    options: *mut sys::rcl_init_options_t,
    domain_id: u16,
}

// SAFETY: rcl contexts may be used from any thread; the pointers are owned by this value.
unsafe impl Send for Context {}
unsafe impl Sync for Context {}

impl Context {
    /// Initialises rcl on `domain_id` with the process's command line.
    pub fn new(domain_id: u16) -> Result<Self> {
        // Arguments with a NUL cannot come from a real command line; leave them out.
        let args: Vec<CString> = std::env::args_os()
            .filter_map(|a| CString::new(a.into_encoded_bytes()).ok())
            .collect();
        let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        let argc = i32::try_from(argv.len()).unwrap_or(i32::MAX);
        // SAFETY: rcl's documented init sequence; every pointer is valid for the call, and
        // the boxes are released in Drop (or below on failure).
        unsafe {
            let options = Box::into_raw(Box::new(sys::rcl_get_zero_initialized_init_options()));
            let context = Box::into_raw(Box::new(sys::rcl_get_zero_initialized_context()));
            let this = Self {
                context,
                options,
                domain_id,
            };
            check(
                sys::rcl_init_options_init(options, sys::rcutils_get_default_allocator()),
                || "initialise rcl options".into(),
            )?;
            check(
                sys::rcl_init_options_set_domain_id(options, usize::from(domain_id)),
                || format!("set domain {domain_id}"),
            )?;
            check(sys::rcl_init(argc, argv.as_ptr(), options, context), || {
                "initialise rcl".into()
            })?;
            Ok(this)
        }
    }

    /// The domain id the context was created on.
    pub fn domain_id(&self) -> u16 {
        self.domain_id
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the pointers came from Box::into_raw in `new`; rcl tolerates finalising a
        // zero-initialised (never initialised) context and options.
        unsafe {
            if sys::rcl_context_is_valid(self.context) {
                sys::rcl_shutdown(self.context);
            }
            sys::rcl_context_fini(self.context);
            sys::rcl_init_options_fini(self.options);
            drop(Box::from_raw(self.context));
            drop(Box::from_raw(self.options));
        }
    }
}

/// An rcl node.
pub struct NodeHandle {
    node: *mut sys::rcl_node_t,
    initialised: bool,
    _context: Arc<Context>,
}

// SAFETY: rcl nodes may be used from any thread; creating and finalising endpoints is
// serialised by the backend.
unsafe impl Send for NodeHandle {}
unsafe impl Sync for NodeHandle {}

impl NodeHandle {
    /// Creates node `name` in `namespace`.
    pub fn new(context: Arc<Context>, name: &str, namespace: &str) -> Result<Arc<Self>> {
        let c_name = c_string("node name", name)?;
        let c_namespace = c_string("namespace", namespace)?;
        // SAFETY: as documented for rcl_node_init; the node box is freed in Drop.
        unsafe {
            let mut this = Self {
                node: Box::into_raw(Box::new(sys::rcl_get_zero_initialized_node())),
                initialised: false,
                _context: context.clone(),
            };
            let mut options = sys::rcl_node_get_default_options();
            let ret = sys::rcl_node_init(
                this.node,
                c_name.as_ptr(),
                c_namespace.as_ptr(),
                context.context,
                &options,
            );
            sys::rcl_node_options_fini(&mut options);
            match ret as u32 {
                sys::RCL_RET_OK => {}
                sys::RCL_RET_NODE_INVALID_NAME => {
                    sys::rcutils_reset_error();
                    return Err(Error::Name {
                        what: "node name",
                        name: name.to_owned(),
                        reason: "rejected by rcl".into(),
                    });
                }
                sys::RCL_RET_NODE_INVALID_NAMESPACE => {
                    sys::rcutils_reset_error();
                    return Err(Error::Name {
                        what: "namespace",
                        name: namespace.to_owned(),
                        reason: "rejected by rcl".into(),
                    });
                }
                _ => check(ret, || format!("create node {namespace}/{name}"))?,
            }
            this.initialised = true;
            Ok(Arc::new(this))
        }
    }
}

impl NodeHandle {
    /// Every topic in the graph with its types, and per topic its publishers as
    /// `(topic, type, /namespace/node)`.
    pub fn graph_endpoints(&self) -> Result<Vec<(String, String, String)>> {
        let mut out = Vec::new();
        // Topics only subscribed to have no publisher and are left out.
        for (topic, _types) in self.topic_names_and_types()? {
            for (node, type_name) in self.publishers_of(&topic)? {
                out.push((topic.clone(), type_name, node));
            }
        }
        Ok(out)
    }

    fn topic_names_and_types(&self) -> Result<Vec<(String, Vec<String>)>> {
        // SAFETY: rcl fills a zero-initialised names-and-types struct it allocates with the
        // default allocator; it is finalised below whatever happened.
        unsafe {
            let mut allocator = sys::rcutils_get_default_allocator();
            let mut nat = sys::rmw_get_zero_initialized_names_and_types();
            let ret =
                sys::rcl_get_topic_names_and_types(self.node, &mut allocator, false, &mut nat);
            let result = check(ret, || "list topics".to_owned()).map(|()| {
                let mut out = Vec::with_capacity(nat.names.size);
                for i in 0..nat.names.size {
                    let name = CStr::from_ptr(*nat.names.data.add(i))
                        .to_string_lossy()
                        .into_owned();
                    let types = &*nat.types.add(i);
                    let types = (0..types.size)
                        .map(|j| {
                            CStr::from_ptr(*types.data.add(j))
                                .to_string_lossy()
                                .into_owned()
                        })
                        .collect();
                    out.push((name, types));
                }
                out
            });
            sys::rmw_names_and_types_fini(&mut nat);
            result
        }
    }

    /// `(/namespace/node, type)` of every publisher of `topic`.
    fn publishers_of(&self, topic: &str) -> Result<Vec<(String, String)>> {
        let c_topic = c_string("topic", topic)?;
        // SAFETY: as for topic_names_and_types: rcl allocates the array, we finalise it.
        unsafe {
            let mut allocator = sys::rcutils_get_default_allocator();
            let mut info = sys::rmw_get_zero_initialized_topic_endpoint_info_array();
            let ret = sys::rcl_get_publishers_info_by_topic(
                self.node,
                &mut allocator,
                c_topic.as_ptr(),
                false,
                &mut info,
            );
            let text = |p: *const c_char| {
                if p.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            };
            let result = check(ret, || format!("list publishers of {topic}")).map(|()| {
                (0..info.size)
                    .map(|i| {
                        let e = &*info.info_array.add(i);
                        let ns = text(e.node_namespace);
                        let node = format!("{}/{}", ns.trim_end_matches('/'), text(e.node_name));
                        (node, text(e.topic_type))
                    })
                    .collect()
            });
            sys::rmw_topic_endpoint_info_array_fini(&mut info, &mut allocator);
            result
        }
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        // SAFETY: the node came from Box::into_raw; every endpoint holds an Arc to it, so
        // none is left when this runs.
        unsafe {
            if self.initialised {
                sys::rcl_node_fini(self.node);
            }
            drop(Box::from_raw(self.node));
        }
    }
}

/// rcl's QoS profile for `qos`, starting from `base` (rcl's defaults for the endpoint).
fn rmw_qos(mut base: sys::rmw_qos_profile_t, qos: Qos) -> sys::rmw_qos_profile_t {
    base.history = sys::rmw_qos_history_policy_e::RMW_QOS_POLICY_HISTORY_KEEP_LAST;
    base.depth = qos.depth.max(1);
    base.reliability = match qos.reliability {
        Reliability::Reliable => {
            sys::rmw_qos_reliability_policy_e::RMW_QOS_POLICY_RELIABILITY_RELIABLE
        }
        Reliability::BestEffort => {
            sys::rmw_qos_reliability_policy_e::RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT
        }
    };
    base.durability = match qos.durability {
        Durability::Volatile => {
            sys::rmw_qos_durability_policy_e::RMW_QOS_POLICY_DURABILITY_VOLATILE
        }
        Durability::TransientLocal => {
            sys::rmw_qos_durability_policy_e::RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL
        }
    };
    base
}

/// rcl's verdict on a topic name, as a seam error.
fn topic_error(ret: sys::rcl_ret_t, topic: &str, operation: String) -> Error {
    if ret as u32 == sys::RCL_RET_TOPIC_NAME_INVALID {
        // SAFETY: see last_error.
        unsafe { sys::rcutils_reset_error() };
        return Error::Name {
            what: "topic",
            name: topic.to_owned(),
            reason: "rejected by rcl".into(),
        };
    }
    backend_error(operation, last_error(ret))
}

/// One sample taken from a subscription: the serialised bytes (borrowed from the
/// subscription's buffer) and the publisher's source timestamp.
pub struct Taken<'a> {
    /// CDR with encapsulation header, as published.
    pub cdr: &'a [u8],
    /// The time the publisher wrote it, when the RMW reports one.
    pub source_time: Option<Duration>,
}

/// A subscription that takes serialised messages.
pub struct RclSubscription {
    subscription: *mut sys::rcl_subscription_t,
    buffer: sys::rcl_serialized_message_t,
    node: Arc<NodeHandle>,
}

// SAFETY: the subscription is only used by the thread that holds it (the backend keeps it
// behind a mutex); rcl subscriptions may move between threads.
unsafe impl Send for RclSubscription {}

impl RclSubscription {
    /// Subscribes to `topic` (fully qualified) with the type support `support`.
    pub fn new(
        node: &Arc<NodeHandle>,
        topic: &str,
        support: TypeSupport,
        qos: Qos,
    ) -> Result<Self> {
        let c_topic = c_string("topic", topic)?;
        // SAFETY: as documented for rcl_subscription_init and rcutils_uint8_array_init;
        // everything allocated is released in Drop (or here on failure).
        unsafe {
            let mut this = Self {
                subscription: Box::into_raw(Box::new(sys::rcl_get_zero_initialized_subscription())),
                buffer: sys::rcutils_get_zero_initialized_uint8_array(),
                node: node.clone(),
            };
            check(
                sys::rcutils_uint8_array_init(
                    &mut this.buffer,
                    0,
                    &sys::rcutils_get_default_allocator(),
                ),
                || format!("allocate a buffer for {topic}"),
            )?;
            let mut options = sys::rcl_subscription_get_default_options();
            options.qos = rmw_qos(options.qos, qos);
            let ret = sys::rcl_subscription_init(
                this.subscription,
                node.node,
                support.0,
                c_topic.as_ptr(),
                &options,
            );
            if ret != sys::RCL_RET_OK as sys::rcl_ret_t {
                // Nothing to finalise: the subscription stays zero-initialised on failure.
                drop(Box::from_raw(std::mem::replace(
                    &mut this.subscription,
                    ptr::null_mut(),
                )));
                return Err(topic_error(
                    ret,
                    topic,
                    format!("create subscription {topic}"),
                ));
            }
            Ok(this)
        }
    }

    /// The next sample waiting in the middleware, if any.
    pub fn take(&mut self) -> Result<Option<Taken<'_>>> {
        // SAFETY: the subscription is initialised; the buffer grows as rmw needs it and the
        // message info is plain data.
        unsafe {
            let mut info = sys::rmw_get_zero_initialized_message_info();
            let ret = sys::rcl_take_serialized_message(
                self.subscription,
                &mut self.buffer,
                &mut info,
                ptr::null_mut(),
            );
            match ret as u32 {
                sys::RCL_RET_OK => {}
                sys::RCL_RET_SUBSCRIPTION_TAKE_FAILED => return Ok(None),
                _ => return Err(backend_error("take a serialised message", last_error(ret))),
            }
            let cdr = if self.buffer.buffer.is_null() {
                &[][..]
            } else {
                std::slice::from_raw_parts(self.buffer.buffer, self.buffer.buffer_length)
            };
            let source_time = u64::try_from(info.source_timestamp)
                .ok()
                .filter(|&nanos| nanos > 0)
                .map(Duration::from_nanos);
            Ok(Some(Taken { cdr, source_time }))
        }
    }
}

impl Drop for RclSubscription {
    fn drop(&mut self) {
        // SAFETY: created in `new`; the node is still alive through `self.node`.
        unsafe {
            if !self.subscription.is_null() {
                sys::rcl_subscription_fini(self.subscription, self.node.node);
                drop(Box::from_raw(self.subscription));
            }
            sys::rcutils_uint8_array_fini(&mut self.buffer);
        }
    }
}

/// A publisher of serialised messages.
pub struct RclPublisher {
    publisher: *mut sys::rcl_publisher_t,
    node: Arc<NodeHandle>,
}

// SAFETY: rmw publishers are thread-safe for publishing (rmw_publish's documented
// concurrency); creation and finalisation happen once, by the owner.
unsafe impl Send for RclPublisher {}
unsafe impl Sync for RclPublisher {}

impl RclPublisher {
    /// A publisher on `topic` (fully qualified) with the type support `support`.
    pub fn new(
        node: &Arc<NodeHandle>,
        topic: &str,
        support: TypeSupport,
        qos: Qos,
    ) -> Result<Self> {
        let c_topic = c_string("topic", topic)?;
        // SAFETY: as documented for rcl_publisher_init; released in Drop or on failure.
        unsafe {
            let publisher = Box::into_raw(Box::new(sys::rcl_get_zero_initialized_publisher()));
            let mut options = sys::rcl_publisher_get_default_options();
            options.qos = rmw_qos(options.qos, qos);
            let ret = sys::rcl_publisher_init(
                publisher,
                node.node,
                support.0,
                c_topic.as_ptr(),
                &options,
            );
            if ret != sys::RCL_RET_OK as sys::rcl_ret_t {
                drop(Box::from_raw(publisher));
                return Err(topic_error(ret, topic, format!("create publisher {topic}")));
            }
            Ok(Self {
                publisher,
                node: node.clone(),
            })
        }
    }

    /// Publishes `cdr` (with its encapsulation header) as it is.
    pub fn publish(&self, cdr: &[u8]) -> Result<()> {
        // rmw only reads the buffer; the allocator is never used for a message it does not
        // own.
        let message = sys::rcl_serialized_message_t {
            buffer: cdr.as_ptr().cast_mut(),
            buffer_length: cdr.len(),
            buffer_capacity: cdr.len(),
            // SAFETY: returns a plain struct of function pointers.
            allocator: unsafe { sys::rcutils_get_default_allocator() },
        };
        // SAFETY: the publisher is initialised and `message` outlives the call.
        let ret = unsafe {
            sys::rcl_publish_serialized_message(self.publisher, &message, ptr::null_mut())
        };
        check(ret, || "publish".into())
    }
}

impl Drop for RclPublisher {
    fn drop(&mut self) {
        // SAFETY: created in `new`; the node is still alive through `self.node`.
        unsafe {
            sys::rcl_publisher_fini(self.publisher, self.node.node);
            drop(Box::from_raw(self.publisher));
        }
    }
}

/// A wait set for subscriptions.
pub struct WaitSet {
    wait_set: sys::rcl_wait_set_t,
    capacity: usize,
    _context: Arc<Context>,
}

// SAFETY: used by one thread at a time (the spinner owns it).
unsafe impl Send for WaitSet {}

impl WaitSet {
    /// An empty wait set in `context`.
    pub fn new(context: Arc<Context>) -> Result<Self> {
        // SAFETY: as documented for rcl_wait_set_init.
        unsafe {
            let mut wait_set = sys::rcl_get_zero_initialized_wait_set();
            check(
                sys::rcl_wait_set_init(
                    &mut wait_set,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    context.context,
                    sys::rcutils_get_default_allocator(),
                ),
                || "create a wait set".into(),
            )?;
            Ok(Self {
                wait_set,
                capacity: 0,
                _context: context,
            })
        }
    }

    /// Waits up to `timeout` until one of `subscriptions` has data; `ready[i]` says whether
    /// subscription `i` does. An empty list is an error in rcl: don't call with one.
    pub fn wait<'a>(
        &mut self,
        subscriptions: impl ExactSizeIterator<Item = &'a RclSubscription>,
        timeout: Duration,
        ready: &mut Vec<bool>,
    ) -> Result<()> {
        let count = subscriptions.len();
        ready.clear();
        // SAFETY: the wait set is initialised; the subscriptions outlive the wait (they are
        // borrowed), and rcl only reads them.
        unsafe {
            if count != self.capacity {
                check(
                    sys::rcl_wait_set_resize(&mut self.wait_set, count, 0, 0, 0, 0, 0),
                    || "resize the wait set".into(),
                )?;
                self.capacity = count;
            }
            check(sys::rcl_wait_set_clear(&mut self.wait_set), || {
                "clear the wait set".into()
            })?;
            for subscription in subscriptions {
                check(
                    sys::rcl_wait_set_add_subscription(
                        &mut self.wait_set,
                        subscription.subscription,
                        ptr::null_mut(),
                    ),
                    || "add to the wait set".into(),
                )?;
            }
            let nanos = i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX);
            let ret = sys::rcl_wait(&mut self.wait_set, nanos);
            if ret as u32 == sys::RCL_RET_TIMEOUT {
                sys::rcutils_reset_error();
                ready.resize(count, false);
                return Ok(());
            }
            check(ret, || "wait".into())?;
            let slots = std::slice::from_raw_parts(
                self.wait_set.subscriptions,
                self.wait_set.size_of_subscriptions,
            );
            ready.extend(slots.iter().take(count).map(|slot| !slot.is_null()));
            ready.resize(count, false);
        }
        Ok(())
    }
}

impl Drop for WaitSet {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`; the context is still alive.
        unsafe {
            sys::rcl_wait_set_fini(&mut self.wait_set);
        }
    }
}
