//! Real Prometheus and Alertmanager servers (Debian's `prometheus` and
//! `prometheus-alertmanager`, started by the tests on 127.0.0.1 and killed when dropped),
//! and the HTTP client their APIs are read with.

use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const POLL_PAUSE: Duration = Duration::from_millis(200);

/// A free TCP port on 127.0.0.1 (a moment later someone else may take it).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// An HTTP client that never goes through a proxy and reads error statuses as answers.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

/// Starts `binary` with `args`, its output in `log`; panics naming the package if missing.
fn spawn(binary: &str, args: &[String], log: &Path) -> Child {
    assert!(
        Path::new(binary).exists(),
        "{binary} not found: run bash .ci/setup"
    );
    let file = File::create(log).expect("log file");
    Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log file"))
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {binary}: {e}"))
}

/// A Prometheus server.
pub struct Prometheus {
    child: Child,
    log: PathBuf,
    /// `http://127.0.0.1:PORT/api/v1`.
    pub api: String,
}

impl Prometheus {
    /// Starts Prometheus in `dir` with `config` as its `prometheus.yml` (rule files may be
    /// given relative to `dir`).
    pub fn start(dir: &Path, config: &str) -> Self {
        let path = dir.join("prometheus.yml");
        std::fs::write(&path, config).expect("write prometheus.yml");
        let port = free_port();
        let log = dir.join("prometheus.log");
        let child = spawn(
            PROMETHEUS,
            &[
                format!("--config.file={}", path.display()),
                format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ],
            &log,
        );
        Self {
            child,
            log,
            api: format!("http://127.0.0.1:{port}/api/v1"),
        }
    }

    /// Fails the test with Prometheus' log if it has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!("prometheus exited with {status}:\n{log}");
        }
    }

    /// GETs an API path; `None` while Prometheus is not answering yet.
    pub fn api_get(
        &self,
        agent: &ureq::Agent,
        path: &str,
        query: &[(&str, &str)],
    ) -> Option<Value> {
        let mut response = agent
            .get(format!("{}{path}", self.api))
            .query_pairs(query.iter().copied())
            .call()
            .ok()?;
        let text = response.body_mut().read_to_string().ok()?;
        let body: Value = serde_json::from_str(&text).ok()?;
        (body["status"] == "success").then(|| body["data"].clone())
    }

    /// Waits until `targets` targets' last scrapes succeeded.
    pub fn wait_for_targets_up(&mut self, agent: &ureq::Agent, targets: usize, deadline: Instant) {
        let mut last = Value::Null;
        while Instant::now() < deadline {
            self.assert_running();
            if let Some(data) = self.api_get(agent, "/targets", &[]) {
                let up = data["activeTargets"]
                    .as_array()
                    .map_or(0, |t| t.iter().filter(|t| t["health"] == "up").count());
                if up >= targets {
                    return;
                }
                last = data;
            }
            std::thread::sleep(POLL_PAUSE);
        }
        panic!("targets never became healthy; last /targets answer: {last}");
    }

    /// The instant-query result vector of `promql`, waiting until it is non-empty.
    pub fn query(&mut self, agent: &ureq::Agent, promql: &str, deadline: Instant) -> Vec<Value> {
        while Instant::now() < deadline {
            self.assert_running();
            if let Some(data) = self.api_get(agent, "/query", &[("query", promql)]) {
                if let Some(result) = data["result"].as_array().filter(|r| !r.is_empty()) {
                    return result.clone();
                }
            }
            std::thread::sleep(POLL_PAUSE);
        }
        panic!("no result for {promql} before the deadline");
    }

    /// The value of the single series `promql` selects.
    pub fn value(&mut self, agent: &ureq::Agent, promql: &str, deadline: Instant) -> f64 {
        let result = self.query(agent, promql, deadline);
        assert_eq!(result.len(), 1, "{promql} selects one series: {result:?}");
        let value = result[0]["value"][1].as_str().expect("value string");
        value.parse().expect("numeric value")
    }

    /// Polls `promql` until its single value satisfies `ok` (scrapes lag the data by up to
    /// a scrape interval); returns that value, or fails with the last one seen.
    pub fn value_until(
        &mut self,
        agent: &ureq::Agent,
        promql: &str,
        ok: impl Fn(f64) -> bool,
        deadline: Instant,
    ) -> f64 {
        let mut last = None;
        while Instant::now() < deadline {
            let v = self.value(agent, promql, deadline);
            if ok(v) {
                return v;
            }
            last = Some(v);
            std::thread::sleep(POLL_PAUSE);
        }
        panic!("{promql} never reached the expected value; last {last:?}");
    }

    /// The alerts Prometheus holds now (pending and firing), from `/api/v1/alerts`.
    pub fn alerts(&self, agent: &ureq::Agent) -> Vec<Value> {
        self.api_get(agent, "/alerts", &[])
            .and_then(|d| d["alerts"].as_array().cloned())
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An Alertmanager with a null receiver.
pub struct Alertmanager {
    child: Child,
    log: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    limit: Duration,
}

impl Alertmanager {
    /// Starts Alertmanager in `dir`; `limit` bounds every wait.
    pub fn start(dir: &Path, limit: Duration) -> Self {
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: 'null'\n  group_wait: 1s\nreceivers:\n  - name: 'null'\n",
        )
        .expect("config");
        let port = free_port();
        let log = dir.join("alertmanager.log");
        let child = spawn(
            ALERTMANAGER,
            &[
                format!("--config.file={}", config.display()),
                format!("--storage.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--cluster.listen-address=".into(),
            ],
            &log,
        );
        let _ = writeln!(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&log)
                .expect("log"),
            "alertmanager on 127.0.0.1:{port}"
        );
        Self {
            child,
            log,
            url: format!("http://127.0.0.1:{port}"),
            limit,
        }
    }

    /// `127.0.0.1:PORT`, as Prometheus' `alertmanagers` targets name it.
    pub fn address(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Waits until it answers `/-/ready`.
    pub fn wait_ready(&mut self) {
        let agent = http_agent();
        let deadline = Instant::now() + self.limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!("alertmanager exited with {status}:\n{log}");
            }
            let ready = agent
                .get(format!("{}/-/ready", self.url))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "alertmanager not ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Alerts named `alertname` as the v2 API lists them.
    pub fn alerts(&self, alertname: &str) -> Vec<Value> {
        let response = http_agent()
            .get(format!("{}/api/v2/alerts", self.url))
            .query("filter", format!("alertname=\"{alertname}\""))
            .call();
        match response {
            Ok(mut r) if r.status() == 200 => {
                r.body_mut().read_json::<Vec<Value>>().expect("alert list")
            }
            _ => Vec::new(),
        }
    }

    /// Polls until `check` accepts the alert list; returns it.
    pub fn wait_for(
        &self,
        alertname: &str,
        what: &str,
        check: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + self.limit;
        loop {
            let alerts = self.alerts(alertname);
            if check(&alerts) {
                return alerts;
            }
            assert!(Instant::now() < deadline, "{what}; last list: {alerts:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
