//! `vla-perf demo` as a newcomer runs it: no multicast on loopback (a stock machine's `lo`
//! has none), localhost-only DDS, the built-in SIMULATED stack; and its live dashboard in a
//! real terminal (tmux).

#![cfg(feature = "ros2-client")]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{isolated, repo};

/// The namespace also has a veth pair with an address, as a machine has a LAN interface:
/// a capture on it must see nothing from the demo. IPv6 is off on both ends so that the
/// kernel's own router solicitations and DAD probes do not reach the capture.
const LOOPBACK_WITHOUT_MULTICAST_AND_A_LAN: &str = "ip link set lo up && \
     ip link add v0 type veth peer name v1 && \
     sysctl -qw net.ipv6.conf.v0.disable_ipv6=1 net.ipv6.conf.v1.disable_ipv6=1 && \
     ip addr add 10.9.0.1/24 dev v0 && ip link set v0 up && ip link set v1 up";

/// tcpdump on `interface`, writing every packet to `file`, ready once it said so.
struct Capture {
    child: Child,
}

impl Capture {
    fn start(interface: &str, file: &Path) -> Self {
        let mut child = Command::new("tcpdump")
            // -U: write each packet at once; -Z root: keep the rights to write `file`.
            .args(["-i", interface, "-n", "-U", "-Z", "root", "-w"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump must be installed; run `bash .ci/setup`");
        // tcpdump says "listening on v0" once the capture runs.
        let stderr = child.stderr.take().expect("piped");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("listening on"));
        assert!(ready, "tcpdump did not start capturing on {interface}");
        std::thread::spawn(move || lines.for_each(drop));
        Self { child }
    }

    /// Stops the capture (SIGINT flushes the file) and returns the packets it holds, one
    /// line each as `tcpdump -r` prints them.
    fn packets(mut self, file: &Path) -> Vec<String> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(status.success());
        self.child.wait().unwrap();
        let read = Command::new("tcpdump")
            .args(["-n", "-r"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            read.status.success(),
            "tcpdump -r: {}",
            String::from_utf8_lossy(&read.stderr)
        );
        String::from_utf8_lossy(&read.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn the_degraded_demo_measures_every_stage_fires_and_resolves_alerts_and_sends_nothing_outside_loopback(
) {
    if !isolated(
        "the_degraded_demo_measures_every_stage_fires_and_resolves_alerts_and_sends_nothing_outside_loopback",
        LOOPBACK_WITHOUT_MULTICAST_AND_A_LAN,
    ) {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    // The shipped scenario with its image set rendered at 160x120: a debug build of
    // RustDDS does not reassemble 640x480 frames fast enough on a loaded machine.
    let scenario = state.path().join("scenario.yaml");
    std::fs::copy(repo().join("config/scenarios/basic.yaml"), &scenario).unwrap();
    let images = state.path().join("images/sim_shapes");
    std::fs::create_dir_all(&images).unwrap();
    let (frames, coco) = vla_perf::sim::scene::image_set(8, 160, 120);
    for (name, frame) in &frames {
        vla_perf::bench::assets::write_png(
            &images.join(name),
            frame.width,
            frame.height,
            &frame.rgb,
        )
        .unwrap();
    }
    std::fs::write(images.join("instances.json"), coco.to_string()).unwrap();
    let pcap = state.path().join("v0.pcap");
    let capture = Capture::start("v0", &pcap);
    let output = Command::new(env!("CARGO_BIN_EXE_vla-perf"))
        .args([
            "demo",
            "--duration",
            // A bare number is seconds, as ROS parameters are.
            "20",
            // Ten commands: four or five of them meet the degraded planner (20%-55%).
            "--command-period",
            "2s",
            "--degrade",
            "--no-dashboard",
            "--domain",
            "63",
        ])
        .arg("--alerts")
        .arg(repo().join("tests/fixtures/demo/alerts.yaml"))
        .arg("--state-dir")
        .arg(state.path())
        .arg("--scenario")
        .arg(&scenario)
        .output()
        .expect("vla-perf binary");
    let packets = capture.packets(&pcap);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("SIMULATED"), "{stdout}");
    println!("{stdout}");

    // The summary lines: the driver's and the benchmark's commands apart, and each source's
    // measured commands no more than it spoke ("driver: spoke N commands; the collector
    // measured M: {...}", "benchmark: spoke N commands (...); the collector measured M").
    let counts = |prefix: &str| -> (usize, usize) {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` summary line:\n{stdout}"));
        let number = |after: &str| -> usize {
            line.split(after)
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no number after `{after}` in {line}"))
        };
        (number("spoke "), number("the collector measured "))
    };
    let (spoken, reported) = counts("driver: ");
    assert!(reported >= 4 && reported <= spoken, "{stdout}");
    let (bench_spoken, bench_reported) = counts("benchmark: ");
    assert!(bench_reported <= bench_spoken, "{stdout}");
    // Every stage has commands the collector measured through it.
    let succeeded: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("outcome succeeded"))
        .collect();
    // The stages of the collector's default pipeline (the SIMULATED stack's topics).
    let stages: Vec<String> = vla_perf::config::CollectorConfig::default()
        .stages
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(stages.len(), 6, "{stages:?}");
    for stage in stages.iter().skip(1) {
        let through = succeeded
            .iter()
            .filter(|l| l.contains(&format!("{stage} ")))
            .count();
        assert!(
            through >= 2,
            "{through} succeeded commands measured through {stage}:\n{stderr}"
        );
    }
    println!("{} commands succeeded through every stage", succeeded.len());

    // The degraded middle of the run fires an alert that resolves before the end.
    let changes: Vec<(&str, &str)> = stderr
        .lines()
        .filter_map(|l| l.split(" alert ").nth(1))
        .filter_map(|rest| {
            let rule = rest.split(' ').next()?;
            let state = rest.split(": state ").nth(1)?.split(' ').next()?;
            Some((rule, state))
        })
        .collect();
    println!("alert state changes: {changes:?}");
    let fired_then_resolved = changes.iter().enumerate().any(|(i, (rule, state))| {
        *state == "firing"
            && changes[i..]
                .iter()
                .any(|(r, s)| r == rule && *s == "resolved")
    });
    assert!(
        fired_then_resolved,
        "no alert went firing and then resolved: {changes:?}\n{stderr}"
    );
    assert!(
        stderr.contains("degrading the SIMULATED stack")
            && stderr.contains("the SIMULATED stack is healthy again"),
        "{stderr}"
    );

    // After the spoken commands, a benchmark run of the shipped scenario: its report has
    // commands completed through every stage of the end-to-end suite.
    let report_md = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap_or_else(|| panic!("no report path:\n{stdout}"));
    let report_json = std::path::Path::new(report_md).with_file_name("report.json");
    let report =
        <vla_perf::core::bench::BenchReport as vla_perf::report::bench::ReportFiles>::from_json(
            &std::fs::read_to_string(&report_json).unwrap(),
        )
        .unwrap();
    let e2e = report
        .suite(vla_perf::config::scenario::Suite::EndToEnd)
        .expect("an end_to_end suite");
    for stage in &e2e.stages {
        let count = e2e
            .latency(stage)
            .and_then(|l| l.summary)
            .map_or(0, |s| s.count);
        assert!(
            count >= 1,
            "benchmark stage {stage}: {count} commands; {report_json:?}"
        );
    }
    assert_eq!(
        report.suites.len(),
        5,
        "every suite of the shipped scenario"
    );
    println!(
        "benchmark: {} end-to-end commands, {} succeeded",
        e2e.commands_sent, e2e.commands_succeeded
    );

    // Nothing left loopback: the capture on the LAN-like interface is empty.
    assert!(
        packets.is_empty(),
        "{} packets on v0 during the demo:\n{}",
        packets.len(),
        packets.join("\n")
    );
}

/// A tmux server of its own (its socket in a temporary directory), so that the panes run
/// inside this test's network namespace, never in a server started elsewhere.
struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A detached 160x50 UTF-8 session running `command`.
    fn open(&self, session: &str, command: &str) {
        let args = ["-u", "new-session", "-d", "-x", "160", "-y", "50", "-s"];
        self.run(&[&args[..], &[session, command]].concat());
    }

    fn capture(&self, session: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", session])
    }

    /// Captures `session` until `ready` holds or `limit` passes; returns the last capture.
    fn wait_for(&self, session: &str, limit: Duration, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.capture(session);
            if ready(&screen) || Instant::now() >= deadline {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .status();
    }
}

/// What every dashboard screen shows once data arrived.
const HEADINGS: [&str; 10] = [
    "vla_perf dashboard",
    "Latency per stage (10 s window)",
    "SLO and rates",
    "Success rates",
    "End-to-end latency per command",
    "Resources",
    "Topics",
    "Recent commands",
    "Active alerts",
    "Diagnostics",
];

fn shows_measurements(screen: &str) -> bool {
    HEADINGS.iter().all(|h| screen.contains(h))
        && screen.contains("end to end")
        && screen.contains("robot demo_robot")
        && screen.contains("succeeded")
}

#[test]
fn the_dashboard_renders_the_demo_in_a_terminal_and_attaches_to_its_collector() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("SKIPPED: tmux cannot run here (install it with `bash .ci/setup`)");
        return;
    }
    if !isolated(
        "the_dashboard_renders_the_demo_in_a_terminal_and_attaches_to_its_collector",
        "ip link set lo up",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux {
        socket: dir.path().join("tmux.sock"),
    };
    let exe = env!("CARGO_BIN_EXE_vla-perf");
    let state = dir.path().join("state");
    // `read` keeps the pane open after the program ends, so its last words can be read.
    let demo = format!(
        "{exe} demo --duration 40s --domain 64 --state-dir {}; echo DEMO-EXIT=$?; read x",
        state.display()
    );
    let attached = format!("{exe} dashboard --domain 64; echo DASHBOARD-EXIT=$?; read x");
    tmux.open("demo", &demo);
    tmux.open("attached", &attached);

    // Both show every heading and the commands measured (the demo speaks every 3 s).
    let limit = Duration::from_secs(60);
    let screen = tmux.wait_for("demo", limit, shows_measurements);
    assert!(
        shows_measurements(&screen),
        "the demo's dashboard:\n{screen}"
    );
    assert!(screen.contains("SIMULATED stack"), "{screen}");
    println!("the demo's dashboard:\n{screen}");
    let screen = tmux.wait_for("attached", limit, shows_measurements);
    assert!(
        shows_measurements(&screen),
        "vla-perf dashboard attached to the demo's collector:\n{screen}"
    );
    assert!(screen.contains("attached, domain 64"), "{screen}");

    // q quits the attached dashboard: the terminal is restored (the dashboard is gone
    // from the screen) and it says what it saw.
    tmux.run(&["send-keys", "-t", "attached", "q"]);
    let screen = tmux.wait_for("attached", limit, |s| s.contains("DASHBOARD-EXIT="));
    assert!(screen.contains("DASHBOARD-EXIT=0"), "{screen}");
    assert!(screen.contains("vla-perf dashboard quit:"), "{screen}");
    assert!(
        !screen.contains("Latency per stage"),
        "not restored:\n{screen}"
    );

    // q stops the demo early; it prints its summary on the restored terminal.
    tmux.run(&["send-keys", "-t", "demo", "q"]);
    let screen = tmux.wait_for("demo", limit, |s| s.contains("DEMO-EXIT="));
    assert!(screen.contains("DEMO-EXIT=0"), "{screen}");
    assert!(screen.contains("driver: spoke "), "{screen}");
    assert!(
        !screen.contains("Latency per stage"),
        "not restored:\n{screen}"
    );
}
