//! The benchmark node against the SIMULATED stack over ROS 2 (ros2-client/RustDDS): what it
//! records and scores must be what the stack did, as the stack itself reports it
//! (`run_stack_with_events`: drawn latencies, transcripts, plans, goal outcomes).
//!
//! Times: the benchmark takes an output's DDS source timestamp, the stack reports the
//! time just before its publish call, so the two agree to the cost of a publish; 5 ms is
//! far above that and far below every simulated stage delay.
//!
//! Each test runs in a private network namespace on its own domain (`common::isolated`).

#![cfg(feature = "ros2-client")]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::sim_truth::{expected, fast_stack, file, reached, Truth};
use common::{isolated, LOOPBACK_MULTICAST};
use tokio::sync::{mpsc, watch};
use vla_perf::bench::{self, Options, Settings};
use vla_perf::config::scenario::Suite;
use vla_perf::core::bench::score::kpi;
use vla_perf::core::bench::{BenchReport, RunRecord, SuiteRecord};
use vla_perf::core::timeline::Outcome;
use vla_perf::msg::BenchmarkResult;
use vla_perf::sim::{self, SimConfig, SimEvent};
use vla_perf::transport::ros2_client::Ros2ClientTransport;
use vla_perf::transport::{NodeOptions, Qos, Subscription, Transport, Typed};

const TOLERANCE: f64 = 0.005;

/// A SIMULATED image set of small frames in `dir`: a debug build of RustDDS reassembles
/// the shipped 640x480 frames too slowly to keep up on a loaded machine.
fn small_image_set(dir: &Path) -> PathBuf {
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let (frames, coco) = sim::scene::image_set(8, 160, 120);
    for (name, frame) in &frames {
        bench::assets::write_png(&images.join(name), frame.width, frame.height, &frame.rgb)
            .unwrap();
    }
    std::fs::write(images.join("instances.json"), coco.to_string()).unwrap();
    images
}

/// A scenario over the shipped commands' style, fast timeouts, images in `images`.
fn scenario_text(load: &str, suites: &str, images: &Path) -> String {
    format!(
        r#"scenario:
  name: bench_test
  suites: {suites}
  commands:
    - text: pick up the red cup
      expected_plan: [pick]
    - text: go to the kitchen
      expected_plan: [navigate]
    - text: go to the table and place the blue box
      expected_plan: [navigate, place]
    - text: open the drawer
      expected_plan: [open]
    - text: sing me a song
      expected_plan: []
      expected_outcome: failed
    - text: close the door
      expected_plan: [close]
  image_sets:
    - name: sim_shapes
      directory: {dir}
      annotations: {dir}/instances.json
  load:
{load}
  thresholds:
    max_p95_latency: {{plan: 400ms, end_to_end: 3s}}
    min_success_rate: 0.5
"#,
        // Scenario paths are relative to the scenario file, which sits beside `images`.
        dir = images.file_name().unwrap().to_string_lossy(),
    )
}

fn write_scenario(dir: &Path, text: &str) -> (PathBuf, vla_perf::config::scenario::Scenario) {
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    let scenario = vla_perf::config::load_scenario(&path).unwrap();
    (path, scenario)
}

/// The fast stack with a slow camera: its frames compete with the benchmark's images for
/// the keep-newest detector, which drops an image when a newer frame arrives first.
fn quiet_camera() -> SimConfig {
    let mut c = fast_stack();
    c.camera.rate_hz = 2.0;
    c
}

/// The commands of [`scenario_text`] and their expected plans.
fn options_commands() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("pick up the red cup", vec!["pick"]),
        ("go to the kitchen", vec!["navigate"]),
        (
            "go to the table and place the blue box",
            vec!["navigate", "place"],
        ),
        ("open the drawer", vec!["open"]),
        ("sing me a song", vec![]),
        ("close the door", vec!["close"]),
    ]
}

struct Run {
    record: RunRecord,
    report: BenchReport,
    finished: bench::Finished,
    dir: PathBuf,
    truth: HashMap<String, Truth>,
    /// Header stamps of every image the vision node processed.
    detected: Vec<Duration>,
    /// The BenchmarkResult messages a subscriber received.
    results: Vec<BenchmarkResult>,
}

/// Runs the stack with `config` and the benchmark with `scenario` on `domain`.
fn run(domain: u16, config: SimConfig, scenario_yaml: &str, results: &Path) -> Run {
    run_with(domain, config, scenario_yaml, results, Settings::default())
}

fn run_with(
    domain: u16,
    config: SimConfig,
    scenario_yaml: &str,
    results: &Path,
    settings: Settings,
) -> Run {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let transport: Arc<dyn Transport> = Arc::new(Ros2ClientTransport);
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let (stop_sim, sim_stopped) = tokio::sync::oneshot::channel::<()>();
        let stack = tokio::spawn(sim::run_stack_with_events(
            config,
            transport.clone(),
            domain,
            async move {
                let _ = sim_stopped.await;
            },
            Some(events_tx),
        ));
        let (path, scenario) = write_scenario(results, scenario_yaml);
        let options = Options {
            scenario_path: path,
            scenario,
            results_dir: results.join("results"),
            domain,
            node_name: "bench_test".into(),
            processes: vec![],
            gpu: false,
            progress_bar: false,
        };
        let mut listener = transport
            .create_node(&NodeOptions::new("bench_test_listener", "/").with_domain(domain))
            .expect("node");
        let mut results_sub = Subscription::<Typed<BenchmarkResult>>::typed(
            listener.as_mut(),
            "/vla_perf/benchmark_results",
            Qos::reliable(100),
        )
        .expect("subscription");
        let (_stop_tx, stop) = watch::channel(false);
        let output = bench::run_once(&options, &settings, transport.clone(), stop)
            .await
            .expect("benchmark run");
        // One result per suite, published as the run ends.
        let mut results = Vec::new();
        while results.len() < output.report.suites.len() {
            match tokio::time::timeout(Duration::from_secs(10), results_sub.recv()).await {
                Ok(Some(r)) => results.push(r.message),
                _ => break,
            }
        }
        let _ = stop_sim.send(());
        stack.await.expect("stack task").expect("stack");
        let mut truth = HashMap::new();
        let mut detected = Vec::new();
        while let Ok(e) = events.try_recv() {
            match e {
                SimEvent::Detected { image_stamp, .. } => detected.push(image_stamp),
                other => file(&mut truth, other),
            }
        }
        Run {
            record: output.record.clone(),
            report: output.report.clone(),
            dir: output.dir.clone(),
            finished: output,
            truth,
            detected,
            results,
        }
    })
}

fn suite(record: &RunRecord, suite: Suite) -> &SuiteRecord {
    record
        .suites
        .iter()
        .find(|s| s.suite == suite)
        .unwrap_or_else(|| panic!("no {suite:?} in the record"))
}

fn secs(t: Duration, record: &RunRecord) -> f64 {
    t.as_secs_f64() - record.meta.started_unix
}

#[test]
fn every_recorded_figure_is_what_the_simulated_stack_did() {
    if !isolated(
        "every_recorded_figure_is_what_the_simulated_stack_did",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let yaml = scenario_text(
        "    mode: sequential\n    timeout: 3s",
        "[voice_processing, cognitive_planning, visual_perception, action_execution, end_to_end]",
        &small_image_set(tmp.path()),
    );
    let Run {
        record,
        report,
        dir,
        truth,
        detected,
        results,
        ..
    } = run(81, quiet_camera(), &yaml, tmp.path());

    // The run order is fixed, whatever the scenario lists.
    let order: Vec<Suite> = record.suites.iter().map(|s| s.suite).collect();
    assert_eq!(order, bench::SUITE_ORDER.to_vec());

    let mut checked = 0;
    let mut worst: f64 = 0.0;
    for s in &record.suites {
        if s.suite == Suite::VisualPerception {
            continue;
        }
        assert_eq!(s.commands.len(), 6, "{:?}: one record per command", s.suite);
        for c in &s.commands {
            let tag = c.tag.as_deref().expect("tagged commands");
            let t = truth
                .get(tag)
                .unwrap_or_else(|| panic!("{:?} {tag}: the stack saw nothing", s.suite));
            // Which of the truth's five stages this suite observes.
            let offset = match s.suite {
                Suite::VoiceProcessing | Suite::EndToEnd => 0,
                Suite::CognitivePlanning => 1,
                Suite::ActionExecution => 3,
                Suite::VisualPerception => unreachable!(),
            };
            let stack_times = reached(t);
            for (i, at) in c.reached.iter().enumerate() {
                let want = stack_times[offset + i].map(|d| secs(d, &record));
                match (at, want) {
                    (Some(at), Some(want)) => {
                        worst = worst.max((at - want).abs());
                        assert!(
                            (at - want).abs() < TOLERANCE,
                            "{:?} {tag} stage {}: benchmark {at:.4} stack {want:.4}",
                            s.suite,
                            s.stages[i]
                        );
                    }
                    (None, None) => {}
                    (got, want) => panic!(
                        "{:?} {tag} stage {}: benchmark {got:?} stack {want:?}; {t:#?}",
                        s.suite, s.stages[i]
                    ),
                }
            }
            // Outcomes: the stack's choice, cut to the stages the suite observes.
            let (outcome, failed_at) = expected(t);
            let want = match s.suite {
                Suite::VoiceProcessing => (Outcome::Succeeded, ""),
                Suite::CognitivePlanning if failed_at == "plan" => (Outcome::Failed, "plan"),
                Suite::CognitivePlanning => (Outcome::Succeeded, ""),
                _ => (outcome, failed_at),
            };
            assert_eq!(
                (c.outcome, c.failed_at.as_deref().unwrap_or("")),
                want,
                "{:?} {tag}; {t:#?}",
                s.suite
            );
            if let Some(SimEvent::Transcribed { transcript, .. }) = &t.transcribed {
                if let Some(got) = &c.transcript {
                    assert_eq!(
                        Some(got.as_str()),
                        sim::speech::split_tag(transcript).1.into()
                    );
                }
            }
            if let Some(SimEvent::Planned { plan, .. }) = &t.planned {
                if let Some(got) = &c.plan {
                    let want: Vec<&str> = plan.steps.iter().map(|s| s.action.as_str()).collect();
                    assert_eq!(got.actions, want, "{tag}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 24);
    println!(
        "commands checked: {checked}; worst time error {:.2} ms",
        worst * 1e3
    );

    let vision = suite(&record, Suite::VisualPerception);
    assert_eq!(vision.images.len(), 8, "each image of the set once");
    // Sensor-data QoS and a keep-newest detector may drop an image: then it is recorded
    // unanswered. Every image the detector did process must have been answered.
    for image in &vision.images {
        let stamp = record.meta.started_unix + image.sent;
        let processed = detected
            .iter()
            .any(|d| (d.as_secs_f64() - stamp).abs() < 1e-6);
        assert_eq!(image.received.is_some(), processed, "{image:?}");
    }
    let answered = vision
        .images
        .iter()
        .filter(|i| i.received.is_some())
        .count();
    assert!(answered >= 6, "only {answered} of 8 images answered");
    let classes: Vec<&str> = vision.image_sets[0]
        .categories
        .iter()
        .map(|(_, n)| n.as_str())
        .collect();
    for image in vision.images.iter().filter(|i| i.received.is_some()) {
        assert_eq!(
            image.detections.len(),
            4,
            "four objects per simulated scene"
        );
        assert!(image
            .detections
            .iter()
            .all(|d| classes.contains(&d.class.as_str())));
    }

    // Scored figures against the stack's own account.
    let voice = report.suite(Suite::VoiceProcessing).expect("voice report");
    let (mut edits, mut words) = (0usize, 0usize);
    for c in &suite(&record, Suite::VoiceProcessing).commands {
        if let Some(SimEvent::Transcribed {
            edits: e,
            reference,
            ..
        }) = &truth[c.tag.as_deref().unwrap()].transcribed
        {
            edits += e;
            words += sim::speech::split_tag(reference)
                .1
                .split_whitespace()
                .count();
        }
    }
    let injected = edits as f64 / words as f64;
    let wer = voice.kpi_value(kpi::WER).expect("a WER");
    // The noise's edits are an upper bound of the optimal alignment's (a substituted word
    // may be the same word); they are equal unless that happened.
    assert!(
        wer <= injected + 1e-9 && wer >= injected - 0.05,
        "WER {wer} vs injected {injected}"
    );
    let planning = report
        .suite(Suite::CognitivePlanning)
        .expect("planning report");
    let plan_latencies: Vec<f64> = suite(&record, Suite::CognitivePlanning)
        .commands
        .iter()
        .filter_map(|c| match &truth[c.tag.as_deref().unwrap()].planned {
            Some(SimEvent::Planned {
                input_at,
                output_at,
                ..
            }) => Some((*output_at - *input_at).as_secs_f64()),
            _ => None,
        })
        .collect();
    let truth_mean = plan_latencies.iter().sum::<f64>() / plan_latencies.len() as f64;
    let scored = planning
        .latency("plan")
        .and_then(|l| l.summary)
        .expect("plan latency");
    assert_eq!(scored.count, 6);
    assert!(
        (scored.mean - truth_mean).abs() < TOLERANCE,
        "plan latency mean {} vs stack {truth_mean}",
        scored.mean
    );
    let understood = suite(&record, Suite::CognitivePlanning)
        .commands
        .iter()
        .filter(|c| match &truth[c.tag.as_deref().unwrap()].planned {
            Some(SimEvent::Planned { plan, .. }) => {
                let actions: Vec<&str> = plan.steps.iter().map(|s| s.action.as_str()).collect();
                let want = &options_commands()[c.command].1;
                actions == *want || (want.is_empty() && actions.is_empty())
            }
            _ => false,
        })
        .count();
    assert_eq!(
        planning.kpi_value(kpi::UNDERSTANDING_RATE),
        Some(understood as f64 / 6.0)
    );
    let e2e = report.suite(Suite::EndToEnd).expect("e2e report");
    let met = suite(&record, Suite::EndToEnd)
        .commands
        .iter()
        .filter(|c| {
            let (outcome, _) = expected(&truth[c.tag.as_deref().unwrap()]);
            let want = if c.command == 4 {
                Outcome::Failed
            } else {
                Outcome::Succeeded
            };
            outcome == want
        })
        .count();
    assert_eq!(e2e.kpi_value(kpi::SUCCESS_RATE), Some(met as f64 / 6.0));
    let perception = report
        .suite(Suite::VisualPerception)
        .expect("vision report");
    let map50 = perception.kpi_value(kpi::MAP50).expect("mAP@0.5");
    assert!(
        map50 >= answered as f64 / 8.0 - 0.01,
        "mAP@0.5 {map50} with {answered}/8 answered"
    );
    println!(
        "WER {wer:.3} (injected {injected:.3}); plan mean {:.1} ms (stack {:.1} ms); success {met}/6; mAP50 {map50:.3}",
        scored.mean * 1e3,
        truth_mean * 1e3
    );
    for file in ["report.json", "report.md", "record.json", "latency_cdf.svg"] {
        assert!(dir.join(file).is_file(), "{file} written");
    }

    // Each suite's result went out on /vla_perf/benchmark_results.
    assert_eq!(results.len(), 5, "one BenchmarkResult per suite");
    for r in &results {
        let s = report
            .suites
            .iter()
            .find(|s| s.suite.as_str() == r.suite)
            .unwrap_or_else(|| panic!("a result for an unknown suite {}", r.suite));
        assert_eq!(u64::from(r.commands_sent), s.commands_sent);
        assert_eq!(r.passed, s.passed);
        assert_eq!(r.run_id, report.run_id);
        assert!(r.report_path.ends_with("report.json"));
    }

    // Every finished item was journaled as it finished.
    let journal = std::fs::read_to_string(dir.join("commands.jsonl")).unwrap();
    assert_eq!(journal.lines().count(), 4 * 6 + 8);
}

#[test]
fn a_stack_that_drops_commands_is_scored_with_timeouts_not_hung_on() {
    if !isolated(
        "a_stack_that_drops_commands_is_scored_with_timeouts_not_hung_on",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut config = fast_stack();
    config.executor.lost_rate = 1.0;
    config.executor.failure_rate = 0.0;
    config.planner.reject_rate = 0.0;
    let yaml = scenario_text(
        "    mode: concurrent\n    concurrency: 2\n    timeout: 1500ms",
        "[action_execution, end_to_end]",
        &small_image_set(tmp.path()),
    );
    let Run { record, report, .. } = run(82, config, &yaml, tmp.path());
    for s in &report.suites {
        assert_eq!(s.commands_sent, 6);
        assert!(
            s.commands_timed_out >= 5,
            "{:?}: {} timed out",
            s.suite,
            s.commands_timed_out
        );
        assert!(
            !s.passed,
            "{:?}: a stack that drops every goal fails",
            s.suite
        );
    }
    for s in &record.suites {
        assert_eq!(s.commands.len(), 6);
        for c in &s.commands {
            let rejected = c.plan.as_ref().is_some_and(|p| p.rejected);
            let want = if rejected {
                Outcome::Failed
            } else {
                Outcome::TimedOut
            };
            assert_eq!(c.outcome, want, "{:?} {:?}", s.suite, c.tag);
        }
        // Lost goals still started: the start stage is reached, the end never.
        let started = s
            .commands
            .iter()
            .filter(|c| {
                c.reached[s.stages.iter().position(|n| n == "action_start").unwrap()].is_some()
            })
            .count();
        assert!(started >= 4, "{:?}: {started} goals started", s.suite);
    }
}

#[test]
fn a_slowed_stack_is_flagged_as_a_regression_against_the_baseline() {
    if !isolated(
        "a_slowed_stack_is_flagged_as_a_regression_against_the_baseline",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let yaml = scenario_text(
        "    mode: sequential\n    timeout: 3s",
        "[cognitive_planning, end_to_end]",
        &small_image_set(tmp.path()),
    );
    let baseline = run(83, fast_stack(), &yaml, tmp.path());
    assert!(baseline.finished.comparison.is_none());
    // The same seed and command tags: the same draws, only the planner three times slower.
    let mut slow = fast_stack();
    slow.degrade.enabled = true;
    slow.degrade.planner_slowdown = 3.0;
    slow.degrade.vision_load = slow.vision.load;
    let settings = Settings {
        baseline: Some(baseline.dir.join("report.json")),
        ..Settings::default()
    };
    let slowed = run_with(84, slow, &yaml, tmp.path(), settings);
    let comparison = slowed.finished.comparison.as_ref().expect("a comparison");
    print!("{}", comparison.to_text());
    assert!(comparison.regressed());
    let row = comparison
        .row(Suite::CognitivePlanning, "p95_plan")
        .expect("the plan p95 compared");
    assert_eq!(
        row.verdict,
        vla_perf::core::bench::compare::Verdict::Regressed
    );
    assert_eq!(
        bench::cli::exit_status(&slowed.finished),
        bench::cli::EXIT_REGRESSION
    );
    // The second run of the results directory also saw the first in its history.
    let history = std::fs::read_to_string(tmp.path().join("results/history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 2);
    // Three times 150 ms breaks the scenario's 400 ms plan p95: a threshold degradation,
    // appended for the alert node's sake and published as benchmark_degradation.
    assert!(slowed
        .finished
        .degradations
        .iter()
        .any(|d| d.metric == "p95_plan" && d.suite == Suite::CognitivePlanning));
    let events = std::fs::read_to_string(tmp.path().join("results/degradations.jsonl")).unwrap();
    assert!(events.lines().any(|l| l.contains("p95_plan")), "{events}");
}

/// Runs `vla-perf bench` with `args`; returns (exit code, stderr).
fn bench_cli(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vla-perf"))
        .arg("bench")
        .args(args)
        .env("ROS_DOMAIN_ID", "85")
        .output()
        .expect("vla-perf runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_scenarios_and_missing_files_are_refused_before_anything_is_sent() {
    // No network namespace: nothing may reach DDS, and the errors come before a node.
    let tmp = tempfile::tempdir().unwrap();
    let images = small_image_set(tmp.path());
    let results = tmp.path().join("results");
    let results_arg = results.to_str().unwrap();
    let good = scenario_text(
        "    mode: sequential",
        "[end_to_end, visual_perception]",
        &images,
    );
    for (name, text, says) in [
        (
            "typo.yaml",
            good.replace("expected_plan: [pick]", "expected_plans: [pick]"),
            "unknown field `expected_plans`",
        ),
        (
            "audio.yaml",
            good.replace(
                "      expected_plan: [pick]",
                "      expected_plan: [pick]\n      audio: missing.wav",
            ),
            "missing.wav: scenario.commands[0].audio: cannot open the audio file",
        ),
        (
            "images.yaml",
            good.replace("directory: ", "directory: missing_"),
            "frame_000.png: scenario.image_sets[0].directory: cannot open the image",
        ),
    ] {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        let (code, stderr) = bench_cli(&[path.to_str().unwrap(), "--results", results_arg]);
        assert_eq!(code, Some(1), "{name}: {stderr}");
        assert!(stderr.contains(says), "{name}: {stderr}");
    }
    // Annotations that do not match their images.
    let coco = std::fs::read_to_string(images.join("instances.json")).unwrap();
    std::fs::write(
        images.join("instances.json"),
        coco.replacen("\"image_id\":1", "\"image_id\":99", 1),
    )
    .unwrap();
    let path = tmp.path().join("coco.yaml");
    std::fs::write(&path, &good).unwrap();
    let (code, stderr) = bench_cli(&[path.to_str().unwrap(), "--results", results_arg]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("annotations[0].image_id: 99 is not the id of a listed image"),
        "{stderr}"
    );
    // A baseline that is not a report.
    std::fs::write(images.join("instances.json"), coco).unwrap();
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, "{}").unwrap();
    let (code, stderr) = bench_cli(&[
        path.to_str().unwrap(),
        "--results",
        results_arg,
        "--baseline",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not a benchmark report"), "{stderr}");
    assert!(
        !results.exists(),
        "nothing was run, so no results directory"
    );
}

#[test]
fn a_killed_benchmark_keeps_every_record_it_finished_and_the_next_run_starts_clean() {
    if !isolated(
        "a_killed_benchmark_keeps_every_record_it_finished_and_the_next_run_starts_clean",
        LOOPBACK_MULTICAST,
    ) {
        return;
    }
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let sim_config = tmp.path().join("sim.yaml");
    std::fs::write(
        &sim_config,
        "sim_stack:\n  camera: {width: 64, height: 48, rate_hz: 10}\n  asr: {latency: {mean: 100ms, stddev: 10ms}}\n  planner: {latency: {mean: 100ms, stddev: 10ms}}\n  executor: {execution: {mean: 200ms, stddev: 20ms}}\n",
    )
    .unwrap();
    let mut stack = Command::new(env!("CARGO_BIN_EXE_sim_stack"))
        .arg("--config")
        .arg(&sim_config)
        .env("ROS_DOMAIN_ID", "86")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim_stack binary");
    let yaml = scenario_text(
        "    mode: sequential\n    count: 40\n    timeout: 3s",
        "[end_to_end]",
        &small_image_set(tmp.path()),
    );
    let (scenario, _) = write_scenario(tmp.path(), &yaml);
    let results = tmp.path().join("results");
    let bench = |count: &str| {
        let text = yaml.replace("count: 40", count);
        std::fs::write(&scenario, text).unwrap();
        Command::new(env!("CARGO_BIN_EXE_vla-perf"))
            .arg("bench")
            .arg(&scenario)
            .arg("--results")
            .arg(&results)
            .arg("--no-progress")
            .env("ROS_DOMAIN_ID", "86")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("vla-perf bench")
    };
    let mut first = bench("count: 40");
    // Wait (bounded) until some commands are on disk, then kill without warning.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let journal = loop {
        let found = std::fs::read_dir(&results).ok().and_then(|mut d| {
            d.find_map(|e| {
                let p = e.ok()?.path().join("commands.jsonl");
                p.is_file().then_some(p)
            })
        });
        if let Some(p) = &found {
            if std::fs::read_to_string(p).unwrap().lines().count() >= 3 {
                break p.clone();
            }
        }
        assert!(std::time::Instant::now() < deadline, "no commands recorded");
        std::thread::sleep(Duration::from_millis(50));
    };
    let seen = std::fs::read_to_string(&journal).unwrap().lines().count();
    first.kill().unwrap();
    first.wait().unwrap();
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.ends_with('\n'), "a torn last line");
    let kept: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line whole JSON"))
        .collect();
    assert!(
        kept.len() >= seen,
        "{} records after the kill, {seen} before",
        kept.len()
    );
    assert!(kept.iter().all(|l| l["item"]["outcome"].is_string()));
    let killed_dir = journal.parent().unwrap().to_owned();
    assert!(
        !killed_dir.join("report.json").exists(),
        "no report from a killed run"
    );

    // The next run starts a directory of its own and finishes.
    let second = bench("count: 2").wait_with_output().unwrap();
    let _ = stack.kill();
    let _ = stack.wait();
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(matches!(second.status.code(), Some(0 | 2)), "{stdout}");
    let dirs: Vec<_> = std::fs::read_dir(&results)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let history = std::fs::read_to_string(results.join("history.jsonl")).unwrap();
    assert_eq!(
        history.lines().count(),
        1,
        "only the finished run is in the history"
    );
    println!("killed after {seen} records on disk, {} kept", kept.len());
}
