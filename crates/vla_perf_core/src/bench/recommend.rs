//! Recommendations: documented rules over the measured figures, each citing the figure that
//! triggered it. The rules (README "Reports, baseline comparison and recommendations"):
//!
//! | rule | trigger |
//! |---|---|
//! | `latency_over_threshold` | a p95 latency KPI failed its threshold |
//! | `success_below_target` | success rate below `min_success_rate` (default 0.9) |
//! | `planner_dominates_p95` | the `plan` stage has the largest share of p95, at least 50% |
//! | `queueing_dominates` | a stage's estimated wait is at least half its mean latency |
//! | `vision_below_camera_rate` | frames/s below the camera rate (when given) |
//! | `gpu_memory_high` | a GPU's peak memory above 90% of its total |
//! | `cpu_core_saturated` | a process's mean CPU at or above 90% of one core |
//! | `wer_above_target` | WER above `max_wer` (default 0.15) |
//! | `understanding_below_target` | understanding rate below `min_understanding_rate` (0.8) |
//! | `map_below_target` | mAP@[.5:.95] below `min_map` (default 0.3) |
//! | `timeouts_present` | any unit of a suite timed out |
//! | `unknown_detector_classes` | detections whose class matched no ground-truth category |
//! | `gpu_metrics_unavailable` | the run had no GPU metrics |

use super::report::{kpi, BenchReport, Evidence, Profile, Recommendation, Severity, SuiteReport};
use super::scenario::Suite;
use crate::stage::StageKind;

/// Default WER target when the scenario sets none.
pub const DEFAULT_MAX_WER: f64 = 0.15;
/// Default success-rate target when the scenario sets none.
pub const DEFAULT_MIN_SUCCESS_RATE: f64 = 0.9;
/// Default understanding-rate target when the scenario sets none.
pub const DEFAULT_MIN_UNDERSTANDING_RATE: f64 = 0.8;
/// Default mAP target when the scenario sets none.
pub const DEFAULT_MIN_MAP: f64 = 0.3;
/// The planner dominates when its share of p95 reaches this.
pub const DOMINANT_SHARE: f64 = 0.5;
/// A stage is queue-bound when its estimated wait is at least this share of its latency.
pub const QUEUE_SHARE: f64 = 0.5;
/// GPU memory above this fraction of the total is too close to out-of-memory.
pub const GPU_MEMORY_FRACTION: f64 = 0.9;
/// A process at or above this mean CPU (percent of one core) saturates a core.
pub const CORE_SATURATION_PERCENT: f64 = 90.0;

struct Rules(Vec<Recommendation>);

impl Rules {
    fn add(&mut self, rule: &str, severity: Severity, message: String, evidence: Evidence) {
        self.0.push(Recommendation {
            rule: rule.to_owned(),
            severity,
            message,
            evidence,
        });
    }
}

fn evidence(suite: Option<Suite>, name: &str, value: f64, limit: Option<f64>) -> Evidence {
    Evidence {
        suite,
        name: name.to_owned(),
        value,
        limit,
    }
}

/// Applies every rule to `report`; most severe first.
pub fn recommend(report: &BenchReport) -> Vec<Recommendation> {
    let mut r = Rules(Vec::new());
    for s in &report.suites {
        suite_rules(&mut r, s, report.camera_rate_hz);
    }
    if let Some(p) = &report.profile {
        profile_rules(&mut r, p);
    }
    resource_rules(&mut r, report);
    let mut out = r.0;
    out.sort_by_key(|r| std::cmp::Reverse(r.severity));
    out
}

/// Rules on where the time went: a dominant planner, a saturated (queueing) stage.
fn profile_rules(r: &mut Rules, p: &Profile) {
    if let Some(plan) = p.stage(StageKind::Plan.name()) {
        let share = plan.share_p95.unwrap_or(0.0);
        if p.dominant_p95.as_deref() == Some(StageKind::Plan.name()) && share >= DOMINANT_SHARE {
            r.add(
                "planner_dominates_p95",
                Severity::Warning,
                format!(
                    "The planner takes {:.0}% of p95 latency: try a smaller or quantised model, \
                     shorter prompts, or stream the plan so execution starts on the first step.",
                    share * 100.0
                ),
                evidence(Some(p.suite), "share_p95.plan", share, Some(DOMINANT_SHARE)),
            );
        }
    }
    for st in &p.stages {
        if let (Some(wait), Some(processing)) = (st.mean_wait, st.mean_processing) {
            let total = wait + processing;
            if total > 0.0 && wait / total >= QUEUE_SHARE {
                r.add(
                    "queueing_dominates",
                    Severity::Warning,
                    format!(
                        "Commands wait for stage {} for {:.0}% of its latency: it is saturated; \
                         add a worker, batch requests, or lower the command rate.",
                        st.stage,
                        wait / total * 100.0
                    ),
                    evidence(
                        Some(p.suite),
                        &format!("wait_share.{}", st.stage),
                        wait / total,
                        Some(QUEUE_SHARE),
                    ),
                );
            }
        }
    }
}

/// Rules on the resources: GPU memory, saturated CPU cores, GPU figures missing.
fn resource_rules(r: &mut Rules, report: &BenchReport) {
    for g in &report.gpus {
        if let Some(f) = g.memory_max_fraction.filter(|f| *f > GPU_MEMORY_FRACTION) {
            r.add(
                "gpu_memory_high",
                Severity::Warning,
                format!(
                    "GPU {} peaked at {:.0}% of its memory: an allocation spike will fail; use a \
                     quantised model, a smaller batch or move a model to another GPU.",
                    g.name,
                    f * 100.0
                ),
                evidence(
                    None,
                    &format!("memory_max_fraction.{}", g.name),
                    f,
                    Some(GPU_MEMORY_FRACTION),
                ),
            );
        }
    }
    for p in &report.processes {
        if let Some(cpu) = p.cpu_mean_percent.filter(|c| *c >= CORE_SATURATION_PERCENT) {
            r.add(
                "cpu_core_saturated",
                Severity::Warning,
                format!(
                    "Process {} averages {cpu:.0}% of one core: if it is single-threaded it is \
                     CPU-bound; parallelise it, move work to the GPU, or lower its input rate.",
                    p.name
                ),
                evidence(
                    None,
                    &format!("cpu_mean_percent.{}", p.name),
                    cpu,
                    Some(CORE_SATURATION_PERCENT),
                ),
            );
        }
    }
    if let Some(why) = &report.gpu_unavailable {
        r.add(
            "gpu_metrics_unavailable",
            Severity::Info,
            format!("GPU metrics unavailable ({why}): GPU-bound stages cannot be told apart."),
            evidence(None, "gpu_metrics_available", 0.0, None),
        );
    }
}

/// The KPI's threshold, or `default` when the scenario set none.
fn target(s: &SuiteReport, name: &str, default: f64) -> Option<(f64, f64)> {
    let k = s.kpi(name)?;
    Some((k.value?, k.threshold.unwrap_or(default)))
}

// Long: one rule per block (a threshold and its advice); the rules read best as one list.
fn suite_rules(r: &mut Rules, s: &SuiteReport, camera_rate_hz: Option<f64>) {
    let suite = Some(s.suite);
    for k in &s.kpis {
        if k.name.starts_with(kpi::P95_PREFIX) && k.passed == Some(false) {
            r.add(
                "latency_over_threshold",
                Severity::Critical,
                format!(
                    "{} p95 is over its threshold: see the profile for the stage that dominates \
                     and whether it queues or computes.",
                    k.name.trim_start_matches(kpi::P95_PREFIX)
                ),
                evidence(suite, &k.name, k.value.unwrap_or(f64::NAN), k.threshold),
            );
        }
    }
    if let Some((v, t)) = target(s, kpi::SUCCESS_RATE, DEFAULT_MIN_SUCCESS_RATE) {
        if v < t {
            r.add(
                "success_below_target",
                Severity::Critical,
                format!(
                    "Only {:.0}% of commands ended as expected: check the failing stage \
                     (failed_at) and timeouts.",
                    v * 100.0
                ),
                evidence(suite, kpi::SUCCESS_RATE, v, Some(t)),
            );
        }
    }
    if let Some((v, t)) = target(s, kpi::WER, DEFAULT_MAX_WER) {
        if v > t {
            r.add(
                "wer_above_target",
                Severity::Warning,
                format!(
                    "ASR word error rate {:.1}% is above target: use a larger ASR model, \
                     domain vocabulary or prompt biasing, or a better microphone / noise \
                     suppression.",
                    v * 100.0
                ),
                evidence(suite, kpi::WER, v, Some(t)),
            );
        }
    }
    if let Some((v, t)) = target(s, kpi::UNDERSTANDING_RATE, DEFAULT_MIN_UNDERSTANDING_RATE) {
        if v < t {
            r.add(
                "understanding_below_target",
                Severity::Warning,
                "The planner's plans often differ from the expected ones: add examples of the \
                 robot's action vocabulary to the prompt or constrain its output format."
                    .into(),
                evidence(suite, kpi::UNDERSTANDING_RATE, v, Some(t)),
            );
        }
    }
    if let Some((v, t)) = target(s, kpi::MAP, DEFAULT_MIN_MAP) {
        if v < t {
            r.add(
                "map_below_target",
                Severity::Warning,
                "Detection mAP is below target: fine-tune the detector on the robot's scenes \
                 or use a larger model."
                    .into(),
                evidence(suite, kpi::MAP, v, Some(t)),
            );
        }
    }
    if let (Some(fps), Some(camera)) = (s.kpi_value(kpi::FRAMES_PER_SECOND), camera_rate_hz) {
        if fps < camera {
            r.add(
                "vision_below_camera_rate",
                Severity::Warning,
                format!(
                    "Vision answers {fps:.1} frames/s against a {camera:.1} Hz camera: lower the \
                     input resolution, use a smaller detector, or drop frames on purpose."
                ),
                evidence(suite, kpi::FRAMES_PER_SECOND, fps, Some(camera)),
            );
        }
    }
    if s.commands_timed_out > 0 {
        r.add(
            "timeouts_present",
            Severity::Warning,
            format!(
                "{} of {} sent timed out: their latency is not in the figures; find the stage \
                 that stalls, or raise the timeout if it is too tight.",
                s.commands_timed_out, s.commands_sent
            ),
            evidence(
                suite,
                "commands_timed_out",
                s.commands_timed_out as f64,
                Some(0.0),
            ),
        );
    }
    if let Some(n) = s
        .kpi_value(kpi::UNKNOWN_CLASS_DETECTIONS)
        .filter(|n| *n > 0.0)
    {
        r.add(
            "unknown_detector_classes",
            Severity::Info,
            "Some detections name a class that matches no ground-truth category by name or id: \
             map the detector's labels to the dataset's category names."
                .into(),
            evidence(suite, kpi::UNKNOWN_CLASS_DETECTIONS, n, Some(0.0)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::record::RunRecord;
    use crate::bench::report::{GpuSummary, ProcessSummary};
    use crate::bench::score::{score, KpiFigure};
    use crate::bench::testing::{cmd, none, scenario, suite};
    use crate::timeline::Outcome::Succeeded;
    use crate::trend::Direction;

    /// A clean run: three stages, spaced sends, plan at 40% of the time.
    fn base() -> BenchReport {
        let commands = (0..10)
            .map(|i| {
                let t = i as f64 * 10.0;
                cmd(
                    0,
                    t,
                    &[Some(t + 0.3), Some(t + 0.7), Some(t + 1.0)],
                    Succeeded,
                )
            })
            .collect();
        let record = RunRecord {
            suites: vec![suite(
                Suite::EndToEnd,
                &["transcript", "plan", "action_done"],
                100.0,
                commands,
            )],
            ..RunRecord::default()
        };
        score(&record, &scenario(none()))
    }

    fn fires(report: &BenchReport, rule: &str) -> bool {
        recommend(report).iter().any(|r| r.rule == rule)
    }

    fn with_kpi(name: &str, value: f64, threshold: Option<f64>) -> BenchReport {
        let mut r = base();
        let direction = Some(Direction::LowerIsWorse);
        let limit = threshold.map(|t| (crate::bench::Compare::AtLeast, t));
        r.suites[0].kpis.retain(|k| k.name != name);
        r.suites[0]
            .kpis
            .push(KpiFigure::new(name, "1", Some(value), direction, limit));
        r
    }

    #[test]
    fn a_clean_run_gets_no_recommendation() {
        assert_eq!(recommend(&base()), Vec::new());
    }

    #[test]
    fn planner_dominating_p95_fires_at_half_and_not_below() {
        let mut r = base();
        let p = r.profile.as_mut().unwrap();
        assert_eq!(p.dominant_p95.as_deref(), Some("plan"));
        assert!(!fires(&r, "planner_dominates_p95"), "40% is not dominating");
        let p = r.profile.as_mut().unwrap();
        p.stages[1].share_p95 = Some(0.6);
        let recs = recommend(&r);
        let rec = recs
            .iter()
            .find(|x| x.rule == "planner_dominates_p95")
            .unwrap();
        assert_eq!(rec.evidence.value, 0.6);
        assert_eq!(rec.evidence.limit, Some(DOMINANT_SHARE));
    }

    #[test]
    fn vision_below_the_camera_rate_fires_only_when_slower() {
        let mut r = base();
        r.suites[0].kpis.push(KpiFigure::new(
            kpi::FRAMES_PER_SECOND,
            "Hz",
            Some(20.0),
            None,
            None,
        ));
        assert!(
            !fires(&r, "vision_below_camera_rate"),
            "no camera rate known"
        );
        r.camera_rate_hz = Some(30.0);
        assert!(fires(&r, "vision_below_camera_rate"));
        r.camera_rate_hz = Some(20.0);
        assert!(!fires(&r, "vision_below_camera_rate"));
    }

    #[test]
    fn gpu_memory_above_ninety_percent_fires() {
        let mut r = base();
        let gpu = |f: f64| GpuSummary {
            name: "0: gpu".into(),
            utilization_mean_percent: None,
            utilization_max_percent: None,
            memory_max_bytes: Some((f * 100.0) as u64),
            memory_total_bytes: 100,
            memory_max_fraction: Some(f),
        };
        r.gpus = vec![gpu(0.85)];
        assert!(!fires(&r, "gpu_memory_high"));
        r.gpus = vec![gpu(0.95)];
        assert!(fires(&r, "gpu_memory_high"));
    }

    #[test]
    fn a_process_saturating_a_core_fires() {
        let mut r = base();
        let process = |cpu: f64| ProcessSummary {
            name: "planner".into(),
            cpu_mean_percent: Some(cpu),
            cpu_max_percent: Some(cpu),
            rss_max_bytes: None,
            cores: 8,
            samples: 10,
        };
        r.processes = vec![process(80.0)];
        assert!(!fires(&r, "cpu_core_saturated"));
        r.processes = vec![process(97.0)];
        assert!(fires(&r, "cpu_core_saturated"));
    }

    #[test]
    fn wer_above_target_uses_the_threshold_or_the_default() {
        let wer = |v: f64, t: Option<f64>| {
            let mut r = base();
            let limit = t.map(|t| (crate::bench::Compare::AtMost, t));
            r.suites[0]
                .kpis
                .push(KpiFigure::new(kpi::WER, "1", Some(v), None, limit));
            fires(&r, "wer_above_target")
        };
        assert!(wer(0.2, None), "above the default 0.15");
        assert!(!wer(0.1, None));
        assert!(!wer(0.2, Some(0.25)));
        assert!(wer(0.3, Some(0.25)));
    }

    #[test]
    fn success_and_understanding_below_target_fire() {
        assert!(fires(
            &with_kpi(kpi::SUCCESS_RATE, 0.8, Some(0.9)),
            "success_below_target"
        ));
        assert!(!fires(
            &with_kpi(kpi::SUCCESS_RATE, 0.95, Some(0.9)),
            "success_below_target"
        ));
        assert!(fires(
            &with_kpi(kpi::UNDERSTANDING_RATE, 0.5, None),
            "understanding_below_target"
        ));
        assert!(!fires(
            &with_kpi(kpi::UNDERSTANDING_RATE, 0.9, None),
            "understanding_below_target"
        ));
        assert!(fires(
            &with_kpi(kpi::MAP, 0.2, Some(0.3)),
            "map_below_target"
        ));
        assert!(!fires(
            &with_kpi(kpi::MAP, 0.4, Some(0.3)),
            "map_below_target"
        ));
    }

    #[test]
    fn timeouts_and_queueing_and_failed_latency_thresholds_fire() {
        let mut r = base();
        r.suites[0].commands_timed_out = 1;
        assert!(fires(&r, "timeouts_present"));
        let mut r = base();
        st_wait(&mut r, 0.6, 0.4);
        assert!(fires(&r, "queueing_dominates"));
        st_wait(&mut r, 0.4, 0.6);
        assert!(!fires(&r, "queueing_dominates"));
        let p95 = |value: f64| {
            let mut r = base();
            r.suites[0].kpis.push(KpiFigure::new(
                "p95_plan",
                "s",
                Some(value),
                None,
                Some((crate::bench::Compare::AtMost, 1.0)),
            ));
            recommend(&r)
        };
        assert_eq!(p95(2.0)[0].rule, "latency_over_threshold", "critical first");
        assert!(p95(0.9).is_empty());
    }

    fn st_wait(r: &mut BenchReport, wait: f64, processing: f64) {
        let st = &mut r.profile.as_mut().unwrap().stages[1];
        st.mean_wait = Some(wait);
        st.mean_processing = Some(processing);
    }

    #[test]
    fn missing_gpu_metrics_are_said() {
        let mut r = base();
        r.gpu_unavailable = Some("NVML not found".into());
        assert!(fires(&r, "gpu_metrics_unavailable"));
    }
}
