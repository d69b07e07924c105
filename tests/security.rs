//! Security rules of issue 9 that can be checked mechanically (docs/reliability.md, "Security"):
//! listeners bind loopback unless configured; credentials come from the environment and
//! are never logged; paths a scenario reads stay in its directory (tests in
//! `config::scenario` and `tests/config_corpus.rs`); nothing runs a shell or another
//! program from the library or the node binaries.
//!
//! The source scans below are tripwires: they read `src/` as text, so a new listener,
//! process spawn or credential use fails here until it is reviewed and the rule updated.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use vla_perf::config::{parse_alerts, CollectorConfig};

fn rust_sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every line of `src/` outside unit-test code (`#[cfg(test)]` to the end of the file, the
/// convention here, and `tests.rs` files), with its place.
fn production_lines() -> Vec<(String, usize, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    for file in rust_sources(&src) {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = file.strip_prefix(&src).unwrap().display().to_string();
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            let code = line.split("//").next().unwrap_or("");
            out.push((shown.clone(), i + 1, code.to_owned()));
        }
    }
    out
}

/// `src/FILE:LINE: code` of every production line containing one of `needles`.
fn lines_containing(needles: &[&str]) -> Vec<String> {
    production_lines()
        .into_iter()
        .filter(|(_, _, code)| needles.iter().any(|needle| code.contains(needle)))
        .map(|(file, line, code)| format!("src/{file}:{line}: {}", code.trim()))
        .collect()
}

#[test]
fn no_production_code_starts_a_process_or_a_shell() {
    let spawns = lines_containing(&[
        "process::Command",
        "Command::new",
        "libc::system",
        "\"sh\"",
        "\"bash\"",
    ]);
    assert!(
        spawns.is_empty(),
        "process spawns outside tests: {spawns:#?}"
    );
}

#[test]
fn every_listener_binds_loopback_unless_configured() {
    let collector = CollectorConfig::default();
    assert!(collector.prometheus.listen.ip().is_loopback());
    assert!(vla_perf::prometheus::DEFAULT_LISTEN.ip().is_loopback());
    assert!(!collector.foxglove.enabled && collector.foxglove.listen.ip().is_loopback());
    // The sockets the suite listens on itself: the Prometheus endpoint, the Foxglove
    // WebSocket server (the SDK's, on the address it is given) and the demo's check that
    // its Foxglove address is free; DDS sockets belong to the middleware, whose discovery
    // defaults to localhost (README, transport).
    // (File and code, without line numbers.)
    let listeners: Vec<String> = lines_containing(&[
        "TcpListener::bind",
        "UdpSocket::bind",
        "WebSocketServer::new",
        "0.0.0.0",
        "UNSPECIFIED",
        "[::]",
    ])
    .into_iter()
    .map(|l| {
        let (file, rest) = l.split_once(':').unwrap();
        format!("{file}:{}", rest.split_once(':').unwrap().1)
    })
    .collect();
    assert_eq!(
        listeners,
        [
            "src/bin/vla-perf/demo.rs: match std::net::TcpListener::bind(addr) {",
            "src/foxglove.rs: let handle = WebSocketServer::new()",
            "src/prometheus/server.rs: let listener = TcpListener::bind(addr)",
        ],
        "listeners in production code"
    );
    // Their command-line defaults are loopback too.
    for (args, flag) in [
        (&["demo", "--help"][..], "--foxglove"),
        (&["foxglove", "--help"][..], "--listen"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vla-perf"))
            .args(args)
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        let at = help
            .find(flag)
            .unwrap_or_else(|| panic!("{flag} in {help}"));
        assert!(
            help[at..].contains("[default: 127.0.0.1:8765]"),
            "{args:?}: {flag} defaults to loopback:\n{help}"
        );
    }
    // A non-loopback address is possible, but only when written in the config.
    let open: SocketAddr = "0.0.0.0:9464".parse().unwrap();
    let text = format!(
        "collector:\n  prometheus: {{enabled: true, listen: \"{open}\"}}\n  stages:\n    \
         - {{name: a, topic: /a, msg_type: std_msgs/msg/String, correlation: {{mode: fifo}}}}\n"
    );
    let config = vla_perf::config::parse_collector("c.yaml", &text)
        .unwrap()
        .config;
    assert_eq!(config.prometheus.listen, open);
}

#[test]
fn credentials_have_no_config_field_and_only_the_email_channel_reads_them() {
    for field in ["password", "username", "token"] {
        let text = format!(
            "rules:\n  - {{name: slow, metric: end_to_end_latency, warning: 1, critical: 2}}\n\
             notifications:\n  channels:\n    - {{type: email, recipients: [a@b.c], from: d@e.f, {field}: x}}\n"
        );
        let error = parse_alerts("a.yaml", &text).unwrap_err().to_string();
        assert!(
            error.contains(&format!("unknown field `{field}`")),
            "{error}"
        );
    }
    // The environment variables are read in one place, and no line there that handles
    // the password formats or logs anything.
    let lines = production_lines();
    let readers: Vec<&(String, usize, String)> = lines
        .iter()
        .filter(|(_, _, code)| {
            code.contains("SMTP_PASSWORD_VAR") || code.contains("SMTP_USERNAME_VAR")
        })
        .collect();
    assert!(
        readers
            .iter()
            .all(|(file, _, _)| file == "notify/email.rs" || file == "notify/mod.rs"),
        "{readers:#?}"
    );
    let handling: Vec<&(String, usize, String)> = lines
        .iter()
        .filter(|(file, _, code)| file == "notify/email.rs" && code.contains("password"))
        .collect();
    assert!(!handling.is_empty());
    for (file, line, code) in handling {
        for logging in ["tracing::", "format!", "println!", "eprintln!", "{password"] {
            assert!(
                !code.contains(logging),
                "src/{file}:{line} may log a credential: {}",
                code.trim()
            );
        }
    }
}
