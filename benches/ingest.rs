//! Ingest-path benchmark: stage event in -> correlated -> recorded.
//!
//! Prints ns/event (median over batches), resident memory after 1 M and 10 M commands, and
//! the same workload through a naive baseline that keeps every latency sample in a `Vec`
//! and computes percentiles by sorting, with the ratio of the two, all in one run.
//!
//! `cargo bench --bench ingest` runs it; `VLA_PERF_BENCH_COMMANDS` (default 10 000 000)
//! sets the length of the long run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use vla_perf::core::ingest::{Recorder, RecorderConfig};
use vla_perf::core::stats::{Slo, StatsConfig, Window};
use vla_perf::core::timeline::{
    CompletedCommand, Correlation, Outcome, StageEvent, StageSpec, Tracker, TrackerConfig,
};

/// Commands per timed batch.
const BATCH: usize = 10_000;
/// Commands interleaved in flight at once.
const IN_FLIGHT: usize = 4;
/// Summaries are computed once per this many commands (a 1 Hz publisher at 10 k commands/s).
const PUBLISH_EVERY: usize = 100_000;

fn stages() -> Vec<StageSpec> {
    let id = || Correlation::Id {
        field: "command_id".into(),
    };
    vec![
        StageSpec::new("voice", Correlation::HeaderStamp),
        StageSpec::new("transcript", Correlation::Fifo),
        StageSpec::new("plan", id()),
        StageSpec::new("vision", Correlation::HeaderStamp),
        StageSpec::new("action_start", id()),
        StageSpec::new("action_done", id()),
    ]
}

fn tracker_config() -> TrackerConfig {
    TrackerConfig {
        stages: stages(),
        max_open: 1024,
        command_timeout: Duration::from_secs(30),
    }
}

/// Deterministic pseudo-random stage delays (xorshift), in microseconds.
struct Delays(u64);

impl Delays {
    fn next(&mut self, base_us: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_micros(base_us + self.0 % base_us)
    }
}

/// Events of commands `first..first + BATCH`, `IN_FLIGHT` of them interleaved, as a stack
/// with these keys would produce them: the voice stamp is copied to vision, the planner
/// assigns the id.
fn batch(first: usize, delays: &mut Delays) -> Vec<StageEvent> {
    let mut events = Vec::with_capacity(BATCH * 6);
    let base = [0, 300_000, 800_000, 40_000, 20_000, 2_000_000];
    for group in (first..first + BATCH).step_by(IN_FLIGHT) {
        let mut rows: Vec<Vec<StageEvent>> = Vec::with_capacity(IN_FLIGHT);
        for cmd in group..group + IN_FLIGHT {
            let start = Duration::from_millis(cmd as u64 * 250);
            let stamp = start;
            let id = format!("cmd-{cmd}");
            let mut at = start;
            let mut row = Vec::with_capacity(6);
            for (stage, base_us) in base.iter().enumerate() {
                if stage > 0 {
                    at += delays.next(*base_us);
                }
                let e = StageEvent::done(stage, at);
                row.push(match stage {
                    0 | 3 => e.with_stamp(stamp),
                    2 | 4 | 5 => e.with_id(id.clone()),
                    _ => e,
                });
            }
            rows.push(row);
        }
        // stage by stage across the group: commands overlap in flight
        for stage in 0..6 {
            for row in rows.iter_mut() {
                events.push(row[stage].clone());
            }
        }
    }
    events
}

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// What a quick script would do: keep every sample, sort to get percentiles.
struct Naive {
    tracker: Tracker,
    stage: Vec<Vec<Duration>>,
    e2e: Vec<Duration>,
    done: Vec<CompletedCommand>,
}

impl Naive {
    fn new() -> Self {
        Self {
            tracker: Tracker::new(tracker_config()).expect("valid bench config"),
            stage: vec![Vec::new(); 6],
            e2e: Vec::new(),
            done: Vec::new(),
        }
    }

    fn ingest(&mut self, e: StageEvent) {
        self.done.clear();
        self.tracker.ingest(e, &mut self.done);
        for c in &self.done {
            for (i, l) in c.stage_latency.iter().enumerate() {
                if let Some(l) = l {
                    self.stage[i].push(*l);
                }
            }
            if let Some(e2e) = c.end_to_end {
                self.e2e.push(e2e);
            }
        }
    }

    fn publish(&self) -> f64 {
        let mut acc = 0.0;
        for v in self.stage.iter().chain(std::iter::once(&self.e2e)) {
            let mut sorted = v.clone();
            sorted.sort_unstable();
            if sorted.is_empty() {
                continue;
            }
            for q in [0.5, 0.9, 0.95, 0.99, 0.999] {
                let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
                acc += sorted[idx].as_secs_f64();
            }
        }
        acc
    }
}

/// One way of ingesting and summarising; the bench loop drives both the same way.
trait Pipeline {
    fn ingest(&mut self, e: StageEvent);
    /// Computes the published percentiles once; returns a value so it is not optimised out.
    fn publish(&mut self, commands: usize) -> f64;
}

impl Pipeline for Naive {
    fn ingest(&mut self, e: StageEvent) {
        Naive::ingest(self, e)
    }

    fn publish(&mut self, _commands: usize) -> f64 {
        Naive::publish(self)
    }
}

impl Pipeline for Recorder {
    fn ingest(&mut self, e: StageEvent) {
        black_box(Recorder::ingest(self, e));
    }

    fn publish(&mut self, commands: usize) -> f64 {
        let now = Duration::from_millis(commands as u64 * 250);
        let mut acc = 0.0;
        let stages = (0..6).filter_map(|i| self.stage_latency(i));
        for stats in stages.chain(std::iter::once(self.end_to_end())) {
            if let Some(s) = stats.summary(now, Window::Cumulative) {
                acc += s.p50 + s.p90 + s.p95 + s.p99 + s.p999;
            }
        }
        acc
    }
}

fn ours() -> Recorder {
    Recorder::new(RecorderConfig {
        tracker: tracker_config(),
        stats: StatsConfig::default(),
        slo: Slo::new(Duration::from_secs(5), 0.95).expect("valid SLO"),
    })
    .expect("valid bench config")
}

struct Run {
    ns_per_event: f64,
    /// Total seconds spent when each checkpoint (in commands) was reached, with RSS then.
    checkpoints: Vec<(usize, f64, Option<u64>)>,
}

fn run(p: &mut impl Pipeline, commands: usize, checkpoints: &[usize]) -> Run {
    let mut delays = Delays(0x9e37_79b9_7f4a_7c15);
    let mut per_batch = Vec::new();
    let mut total = Duration::ZERO;
    let mut sink = 0.0;
    let mut done = 0;
    let mut marks = Vec::new();
    while done < commands {
        let events = batch(done, &mut delays);
        let n = events.len();
        let t0 = Instant::now();
        for e in events {
            p.ingest(e);
        }
        done += BATCH;
        if done % PUBLISH_EVERY == 0 {
            sink += p.publish(done);
        }
        let dt = t0.elapsed();
        total += dt;
        per_batch.push(dt.as_nanos() as f64 / n as f64);
        if checkpoints.contains(&done) {
            marks.push((done, total.as_secs_f64(), rss_bytes()));
        }
    }
    black_box(sink);
    Run {
        ns_per_event: median(&mut per_batch),
        checkpoints: marks,
    }
}

fn main() {
    // `cargo test --benches` would run this as a test; the figures belong to `cargo bench`.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let long: usize = std::env::var("VLA_PERF_BENCH_COMMANDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let long = long.max(BATCH).div_ceil(BATCH) * BATCH;
    let short = long.min(1_000_000);
    println!(
        "vla_perf ingest benchmark: 6 stages (stamp, fifo, id, stamp, id, id), \
         {IN_FLIGHT} commands in flight, percentiles computed every {PUBLISH_EVERY} commands"
    );

    let rss_start = rss_bytes();
    let mut recorder = ours();
    let ours_run = run(&mut recorder, long, &[short, long]);
    let counters = recorder.tracker().counters().clone();
    let succeeded = recorder.outcome_count(Outcome::Succeeded);
    drop(recorder);
    let (_, ours_short_s, rss_short) = ours_run.checkpoints[0];
    let (_, ours_long_s, rss_long) = *ours_run.checkpoints.last().expect("at least one mark");
    println!(
        "vla_perf  : {:>7.1} ns/event median; {:.2} s for {short} commands, {:.2} s for {long}; \
         {} events, {succeeded} succeeded, {} unmatched",
        ours_run.ns_per_event, ours_short_s, ours_long_s, counters.events, counters.unmatched
    );
    println!(
        "vla_perf  : RSS at start {}, after {short} commands {}, after {long} commands {} (growth {})",
        mib(rss_start),
        mib(rss_short),
        mib(rss_long),
        match (rss_short, rss_long) {
            (Some(a), Some(b)) => format!("{:+.1}%", (b as f64 - a as f64) / a as f64 * 100.0),
            _ => "n/a".into(),
        }
    );

    let rss_before_naive = rss_bytes();
    let mut naive = Naive::new();
    let naive_run = run(&mut naive, short, &[short]);
    drop(naive);
    let (_, naive_s, rss_naive) = naive_run.checkpoints[0];
    println!(
        "naive Vec : {:>7.1} ns/event median; {:.2} s for {short} commands; RSS grew by {}",
        naive_run.ns_per_event,
        naive_s,
        match (rss_before_naive, rss_naive) {
            (Some(a), Some(b)) => mib(Some(b.saturating_sub(a))),
            _ => "n/a".into(),
        }
    );
    println!(
        "ratio     : naive / vla_perf = {:.2}x ns/event (median batch), {:.2}x total time over {short} commands",
        naive_run.ns_per_event / ours_run.ns_per_event,
        naive_s / ours_short_s,
    );
}
