//! The simulated stack's configuration: YAML with a `sim_stack:` root, every knob defaulted
//! here and nowhere else. `config/sim_stack.yaml` lists the defaults with comments.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use serde::Deserialize;

use super::{Error, Result};
use crate::config::duration;

/// The whole file: `sim_stack:` and nothing else.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    sim_stack: SimConfig,
}

/// Configuration of the SIMULATED VLA stack.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// Seed of every random draw (latencies, noise, outcomes); each node's draws for a
    /// command are seeded from it, the node and the command, so they do not depend on the
    /// other commands.
    pub seed: u64,
    /// Speech recognition.
    pub asr: AsrConfig,
    /// The language planner.
    pub planner: PlannerConfig,
    /// The camera.
    pub camera: CameraConfig,
    /// The perception node.
    pub vision: VisionConfig,
    /// The action executor.
    pub executor: ExecutorConfig,
    /// Load knobs that make the stack degrade on purpose (`sim_stack --degrade`).
    pub degrade: DegradeConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 7,
            asr: AsrConfig::default(),
            planner: PlannerConfig::default(),
            camera: CameraConfig::default(),
            vision: VisionConfig::default(),
            executor: ExecutorConfig::default(),
            degrade: DegradeConfig::default(),
        }
    }
}

/// Shape of a latency distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Normal, truncated at zero (redrawn, at most a few times, then clamped).
    Normal,
    /// Log-normal with the given mean and standard deviation (always positive, long tail).
    Lognormal,
}

/// A latency distribution: `{mean: 300ms, stddev: 50ms, shape: normal}`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// Mean.
    #[serde(deserialize_with = "duration::required")]
    pub mean: Duration,
    /// Standard deviation; 0 makes every draw the mean.
    #[serde(deserialize_with = "duration::required", default)]
    pub stddev: Duration,
    /// Distribution shape (default normal).
    #[serde(default = "Latency::default_shape")]
    pub shape: Shape,
}

impl Latency {
    /// A normal distribution with `mean` and `stddev`.
    pub const fn normal(mean: Duration, stddev: Duration) -> Self {
        Self {
            mean,
            stddev,
            shape: Shape::Normal,
        }
    }

    fn default_shape() -> Shape {
        Shape::Normal
    }

    /// This distribution with mean and deviation multiplied by `factor` (>= 0).
    pub fn scaled(self, factor: f64) -> Self {
        Self {
            mean: self.mean.mul_f64(factor),
            stddev: self.stddev.mul_f64(factor),
            shape: self.shape,
        }
    }

    /// One draw; never negative.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let (mean, sd) = (self.mean.as_secs_f64(), self.stddev.as_secs_f64());
        if sd <= 0.0 || mean <= 0.0 {
            return self.mean;
        }
        let secs = match self.shape {
            Shape::Normal => match Normal::new(mean, sd) {
                // Truncated at zero by redrawing; clamped if the tail keeps coming back.
                Ok(d) => (0..8)
                    .map(|_| d.sample(rng))
                    .find(|v| *v >= 0.0)
                    .unwrap_or(0.0),
                Err(_) => mean,
            },
            Shape::Lognormal => {
                // Parameters of the underlying normal from the wanted mean and deviation.
                let sigma2 = (1.0 + (sd / mean).powi(2)).ln();
                match LogNormal::new(mean.ln() - sigma2 / 2.0, sigma2.sqrt()) {
                    Ok(d) => d.sample(rng),
                    Err(_) => mean,
                }
            }
        };
        Duration::try_from_secs_f64(secs).unwrap_or(self.mean)
    }
}

/// Word error noise of the ASR: per reference word, the probability of each edit.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WerNoise {
    /// A word is replaced by another.
    pub substitution: f64,
    /// A word is dropped.
    pub deletion: f64,
    /// A spurious word follows a word.
    pub insertion: f64,
}

impl Default for WerNoise {
    fn default() -> Self {
        Self {
            substitution: 0.04,
            deletion: 0.02,
            insertion: 0.02,
        }
    }
}

impl WerNoise {
    /// No noise at all.
    pub const NONE: WerNoise = WerNoise {
        substitution: 0.0,
        deletion: 0.0,
        insertion: 0.0,
    };

    /// The word error rate this noise produces in expectation.
    pub fn expected_wer(&self) -> f64 {
        self.substitution + self.deletion + self.insertion
    }
}

/// `sim_asr`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsrConfig {
    /// Time from the utterance to its transcript.
    pub latency: Latency,
    /// Word error noise.
    pub wer: WerNoise,
}

impl Default for AsrConfig {
    fn default() -> Self {
        Self {
            latency: Latency::normal(Duration::from_millis(300), Duration::from_millis(50)),
            wer: WerNoise::default(),
        }
    }
}

/// `sim_planner`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlannerConfig {
    /// Time from the transcript to the plan.
    pub latency: Latency,
    /// Fraction of understood commands the planner rejects anyway (a refusing LLM).
    pub reject_rate: f64,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        Self {
            latency: Latency::normal(Duration::from_millis(600), Duration::from_millis(150)),
            reject_rate: 0.05,
        }
    }
}

/// `sim_camera`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CameraConfig {
    /// Image width, pixels.
    pub width: u32,
    /// Image height, pixels.
    pub height: u32,
    /// Frames per second.
    pub rate_hz: f64,
    /// `header.frame_id` of the images.
    pub frame_id: String,
}

impl Default for CameraConfig {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            rate_hz: 30.0,
            frame_id: "sim_camera".into(),
        }
    }
}

/// `sim_vision`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisionConfig {
    /// Times each frame is processed (1 = once); more makes the node "GPU-heavy" for real.
    pub load: u32,
    /// Smallest blob, in pixels, reported as an object.
    pub min_area: u32,
}

impl Default for VisionConfig {
    fn default() -> Self {
        Self {
            load: 1,
            min_area: 30,
        }
    }
}

/// `sim_executor`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorConfig {
    /// Time from the detection a plan is grounded on to the goal executing.
    pub dispatch: Latency,
    /// Time the goal executes before it ends.
    pub execution: Latency,
    /// Fraction of goals that end ABORTED.
    pub failure_rate: f64,
    /// Fraction of goals that never end (the collector times them out).
    pub lost_rate: f64,
    /// Goals listed on the status topic, newest last.
    pub status_history: usize,
    /// Longest wait for a detection to ground a plan on; then the goal starts without one.
    #[serde(deserialize_with = "duration::required")]
    pub grounding_timeout: Duration,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            dispatch: Latency::normal(Duration::from_millis(50), Duration::from_millis(10)),
            execution: Latency::normal(Duration::from_millis(1500), Duration::from_millis(300)),
            failure_rate: 0.05,
            lost_rate: 0.02,
            status_history: 10,
            grounding_timeout: Duration::from_secs(2),
        }
    }
}

/// Load knobs: a slow planner and a heavy perception node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DegradeConfig {
    /// Apply the knobs below (also `sim_stack --degrade`).
    pub enabled: bool,
    /// Planner latency multiplier.
    pub planner_slowdown: f64,
    /// Times each frame is processed instead of `vision.load`.
    pub vision_load: u32,
}

/// Turns the degrade knobs on and off while the stack runs (the demo degrades the middle of
/// its run so that alerts fire and then resolve). Clones share one switch.
#[derive(Debug, Clone, Default)]
pub struct DegradeSwitch(Arc<AtomicBool>);

impl DegradeSwitch {
    /// A switch, initially `on` or off.
    pub fn new(on: bool) -> Self {
        Self(Arc::new(AtomicBool::new(on)))
    }

    /// Degrades (`true`) or restores (`false`) the stack from its next command or frame.
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }

    /// Whether the stack is degraded now.
    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for DegradeConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            planner_slowdown: 3.0,
            vision_load: 4,
        }
    }
}

impl SimConfig {
    /// Reads and validates a `sim_stack:` YAML file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            Error::Config { field, message, .. } => Error::Config {
                file: path.display().to_string(),
                field,
                message,
            },
            other => other,
        })
    }

    /// Parses and validates `sim_stack:` YAML text.
    pub fn parse(text: &str) -> Result<Self> {
        let deserializer = serde_yaml::Deserializer::from_str(text);
        let file: File =
            serde_path_to_error::deserialize(deserializer).map_err(|e| Error::Config {
                file: String::new(),
                field: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        file.sim_stack.validate()?;
        Ok(file.sim_stack)
    }

    /// The configuration with the degrade knobs applied when enabled.
    pub fn effective(&self) -> Self {
        let mut c = self.clone();
        c.planner.latency = self.planner_latency(self.degrade.enabled);
        c.vision.load = self.vision_load(self.degrade.enabled);
        c
    }

    /// The planner's latency, slowed down while `degraded`.
    pub fn planner_latency(&self, degraded: bool) -> Latency {
        match degraded {
            true => self.planner.latency.scaled(self.degrade.planner_slowdown),
            false => self.planner.latency,
        }
    }

    /// Passes over each frame, more while `degraded`.
    pub fn vision_load(&self, degraded: bool) -> u32 {
        match degraded {
            true => self.degrade.vision_load,
            false => self.vision.load,
        }
    }

    /// Checks every value; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, message: String| {
            Err(Error::Config {
                file: String::new(),
                field: field.to_owned(),
                message,
            })
        };
        let rates = [
            ("asr.wer.substitution", self.asr.wer.substitution),
            ("asr.wer.deletion", self.asr.wer.deletion),
            ("asr.wer.insertion", self.asr.wer.insertion),
            ("planner.reject_rate", self.planner.reject_rate),
            ("executor.failure_rate", self.executor.failure_rate),
            ("executor.lost_rate", self.executor.lost_rate),
        ];
        for (field, v) in rates {
            if !(0.0..=1.0).contains(&v) {
                return bad(field, format!("{v} is not a probability in 0..1"));
            }
        }
        if self.asr.wer.substitution + self.asr.wer.deletion > 1.0 {
            return bad("asr.wer", "substitution + deletion exceed 1".into());
        }
        if self.executor.failure_rate + self.executor.lost_rate > 1.0 {
            return bad("executor", "failure_rate + lost_rate exceed 1".into());
        }
        if self.camera.width < 32 || self.camera.height < 32 {
            return bad(
                "camera",
                format!(
                    "{}x{} is too small (at least 32x32)",
                    self.camera.width, self.camera.height
                ),
            );
        }
        if self.camera.width > 8192 || self.camera.height > 8192 {
            return bad("camera", "at most 8192x8192".into());
        }
        if !(self.camera.rate_hz > 0.0 && self.camera.rate_hz <= 1000.0) {
            return bad(
                "camera.rate_hz",
                format!("{} is not in (0, 1000]", self.camera.rate_hz),
            );
        }
        if self.vision.load == 0 || self.degrade.vision_load == 0 {
            return bad("vision.load", "must be at least 1".into());
        }
        if !(self.degrade.planner_slowdown.is_finite() && self.degrade.planner_slowdown > 0.0) {
            return bad(
                "degrade.planner_slowdown",
                format!("{} is not a positive factor", self.degrade.planner_slowdown),
            );
        }
        if self.executor.status_history == 0 {
            return bad("executor.status_history", "must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_shipped_file_holds_the_defaults() {
        let text = include_str!("../../config/sim_stack.yaml");
        assert_eq!(SimConfig::parse(text).unwrap(), SimConfig::default());
    }

    #[test]
    fn unknown_keys_and_bad_rates_are_errors_that_name_the_field() {
        let err = SimConfig::parse("sim_stack: {asr: {latncy: 1}}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("asr") && err.contains("latncy"), "{err}");
        let err = SimConfig::parse("sim_stack: {executor: {lost_rate: 1.5}}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("executor.lost_rate"), "{err}");
        let err = SimConfig::parse("sim_stack: {camera: {rate_hz: 0}}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("camera.rate_hz"), "{err}");
        let c = SimConfig::parse("sim_stack: {planner: {latency: {mean: 250ms}}}").unwrap();
        assert_eq!(c.planner.latency.mean, Duration::from_millis(250));
        assert_eq!(c.planner.latency.stddev, Duration::ZERO);
    }

    #[test]
    fn degrade_slows_the_planner_and_loads_vision_only_when_enabled() {
        let mut c = SimConfig::default();
        assert_eq!(c.effective(), c);
        c.degrade.enabled = true;
        let e = c.effective();
        assert_eq!(e.planner.latency.mean, c.planner.latency.mean.mul_f64(3.0));
        assert_eq!(e.vision.load, 4);
    }

    fn moments(latency: Latency, n: usize) -> (f64, f64, f64) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let draws: Vec<f64> = (0..n)
            .map(|_| latency.sample(&mut rng).as_secs_f64())
            .collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let min = draws.iter().copied().fold(f64::INFINITY, f64::min);
        (mean, var.sqrt(), min)
    }

    #[test]
    fn latency_draws_follow_their_distribution() {
        let ms = Duration::from_millis;
        for shape in [Shape::Normal, Shape::Lognormal] {
            let l = Latency {
                mean: ms(300),
                stddev: ms(50),
                shape,
            };
            let (mean, sd, min) = moments(l, 20_000);
            // Standard error of the mean is 0.35 ms; these bounds are ten times wider.
            assert!((mean - 0.300).abs() < 0.004, "{shape:?} mean {mean}");
            assert!((sd - 0.050).abs() < 0.005, "{shape:?} sd {sd}");
            assert!(min >= 0.0);
        }
        // A deviation larger than the mean still never yields a negative latency.
        let (_, _, min) = moments(Latency::normal(ms(10), ms(50)), 5_000);
        assert!(min >= 0.0);
        let fixed = Latency::normal(ms(42), Duration::ZERO);
        let (mean, sd, min) = moments(fixed, 10);
        assert!((mean - 0.042).abs() < 1e-9 && sd < 1e-9 && (min - 0.042).abs() < 1e-12);
    }
}
