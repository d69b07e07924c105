//! Fault injection helpers for node binaries, shared by the fault tests
//! (`tests/fault_injection.rs`) and meant for any node's kill-and-restart test:
//!
//! ```ignore
//! let mut node = NodeProcess::start("collector", move || {
//!     let mut c = Command::new(env!("CARGO_BIN_EXE_collector"));
//!     c.arg("--config").arg(&config);
//!     c
//! });
//! node.sigkill();                 // SIGKILL, reaped; asserts it died of the signal
//! let spawned = node.restart();   // the same command again; when it was spawned
//! let first = first_within(&runtime, &mut sub, LIMIT, |m| ...);  // (message, arrival)
//! let (records, torn) = read_jsonl::<Value>(&path);
//! ```
//!
//! Kill times come from [`KillSchedule`], a fixed-seed generator, so a failure replays.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use vla_perf::transport::{Decoder, Subscription};

/// A node binary run as a child process that can be killed and started again.
pub struct NodeProcess {
    name: String,
    command: Box<dyn Fn() -> Command + Send>,
    child: Option<Child>,
    spawned_at: Instant,
    starts: u32,
}

impl NodeProcess {
    /// Starts the process `command` builds (stdin and stdout null unless it set them);
    /// `command` is called again for every restart.
    pub fn start(name: &str, command: impl Fn() -> Command + Send + 'static) -> Self {
        let mut node = Self {
            name: name.to_owned(),
            command: Box::new(command),
            child: None,
            spawned_at: Instant::now(),
            starts: 0,
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) -> Instant {
        let mut command = (self.command)();
        command.stdin(Stdio::null());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.name));
        self.spawned_at = Instant::now();
        self.child = Some(child);
        self.starts += 1;
        self.spawned_at
    }

    /// The running process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// How many times the process was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// When the current process was spawned.
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// Whether the current process is still running (not exited on its own).
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// SIGKILL without warning, and reap it; panics unless the signal is what ended it.
    pub fn sigkill(&mut self) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        let mut child = self.child.take().expect("a running process to kill");
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "{} had already exited before the kill",
            self.name
        );
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reap");
        assert_eq!(status.signal(), Some(9), "{}: {status}", self.name);
        status
    }

    /// Starts the same command again (after [`Self::sigkill`] or an exit); returns when it
    /// was spawned.
    pub fn restart(&mut self) -> Instant {
        if let Some(mut old) = self.child.take() {
            assert!(
                !matches!(old.try_wait(), Ok(None)),
                "{} is still running: kill it first",
                self.name
            );
        }
        self.spawn()
    }

    /// SIGTERM, then waits up to `limit` for the exit; SIGKILL and panic if it lingers.
    pub fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("a running process to stop");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("status") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not exit within {limit:?} of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The first message on `sub` within `limit` that `accept` takes, with the instant it was
/// handed over; `None` when none came.
pub fn first_within<D: Decoder>(
    runtime: &tokio::runtime::Runtime,
    sub: &mut Subscription<D>,
    limit: Duration,
    mut accept: impl FnMut(&D::Output) -> bool,
) -> Option<(D::Output, Instant)> {
    runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let got = tokio::time::timeout_at(deadline, sub.recv()).await.ok()??;
            if accept(&got.message) {
                return Some((got.message, Instant::now()));
            }
        }
    })
}

/// Every message `sub` delivers during the next `wait`.
pub fn collect_for<D: Decoder>(
    runtime: &tokio::runtime::Runtime,
    sub: &mut Subscription<D>,
    wait: Duration,
) -> Vec<D::Output> {
    runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        while let Ok(Some(got)) = tokio::time::timeout_at(deadline, sub.recv()).await {
            out.push(got.message);
        }
        out
    })
}

/// The lines of a JSONL file that parse as `T`, and how many did not (torn or foreign).
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> (Vec<T>, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut records = Vec::new();
    let mut unreadable = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(_) => unreadable += 1,
        }
    }
    (records, unreadable)
}

/// Reproducible pseudo-random kill times (an LCG with a fixed seed; no dependency).
pub struct KillSchedule(u64);

impl KillSchedule {
    /// A schedule from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A duration in `low..high`.
    pub fn between(&mut self, low: Duration, high: Duration) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let unit = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        low + (high - low).mul_f64(unit)
    }
}
