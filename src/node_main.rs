//! What every node binary does the same way: logging, ROS arguments, shutdown signals.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A future that resolves when the process is asked to stop: SIGINT (Ctrl-C, the first
/// signal `ros2 launch` sends) or SIGTERM (its escalation, and what service managers send).
/// The handlers are installed by this call, not when the future is first polled, so a
/// signal that arrives while the node is still starting is not lost to the default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind, name: &str| {
            signal(kind)
                .map_err(|e| tracing::warn!("cannot listen for {name} ({e})"))
                .ok()
        };
        let (interrupt, term) = (
            listen(SignalKind::interrupt(), "SIGINT"),
            listen(SignalKind::terminate(), "SIGTERM"),
        );
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = wait(interrupt) => {}
                _ = wait(term) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Arenas glibc's malloc may keep for a node process (see [`bound_malloc_arenas`]).
pub const MALLOC_ARENAS: i32 = 2;

/// How the process's allocator was set up by [`bound_malloc_arenas`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MallocArenas {
    /// glibc now keeps at most this many arenas.
    Bounded(i32),
    /// `MALLOC_ARENA_MAX`, or `glibc.malloc.arena_max` in `GLIBC_TUNABLES`, is set: the
    /// operator's choice stands.
    FromEnvironment,
    /// Not glibc (musl, another OS): nothing to bound.
    NotGlibc,
    /// glibc refused the setting.
    Refused,
}

/// Limit glibc's malloc to [`MALLOC_ARENAS`] arenas, unless the environment already sets
/// it. Call first thing in `main`, before any thread is started.
///
/// glibc gives threads arenas of their own, up to 8 per core, and a freed block can only
/// be reused by a thread of the arena it came from. A node that receives 0.9 MB camera
/// frames on DDS threads and drops them on tokio workers therefore keeps freed frames in
/// several arenas, and its RSS creeps up over hours without any leak: the 30-minute soak
/// (docs/reliability.md) saw the simulated stack grow 5.8% that way and stay flat with two
/// arenas. Side by side at 10x the demo rate, two arenas cost the simulated stack 2% more
/// CPU and saved it 31% of its memory.
pub fn bound_malloc_arenas() -> MallocArenas {
    if arenas_set_by_environment() {
        return MallocArenas::FromEnvironment;
    }
    set_arena_max(MALLOC_ARENAS)
}

/// Whether the environment already tells glibc how many arenas to keep.
fn arenas_set_by_environment() -> bool {
    std::env::var_os("MALLOC_ARENA_MAX").is_some()
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.arena_max"))
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_arena_max(arenas: i32) -> MallocArenas {
    // SAFETY: mallopt takes two plain integers and only changes malloc's tunables; glibc
    // serialises it against concurrent allocation itself.
    match unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) } {
        1 => MallocArenas::Bounded(arenas),
        _ => MallocArenas::Refused,
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_arenas: i32) -> MallocArenas {
    MallocArenas::NotGlibc
}

/// Log how [`bound_malloc_arenas`] set up the allocator (once logging is up).
pub fn log_malloc_arenas(arenas: MallocArenas) {
    match arenas {
        MallocArenas::Bounded(n) => tracing::debug!("glibc malloc limited to {n} arenas"),
        MallocArenas::FromEnvironment => {
            tracing::info!(
                "malloc arenas as the environment sets them (MALLOC_ARENA_MAX / GLIBC_TUNABLES)"
            )
        }
        MallocArenas::NotGlibc => tracing::debug!("not glibc: malloc arenas left as they are"),
        MallocArenas::Refused => tracing::warn!(
            "glibc refused M_ARENA_MAX={MALLOC_ARENAS}: RSS may creep up with freed frames"
        ),
    }
}

/// A node binary's `main`: bound malloc's arenas before any thread exists, start logging
/// with `default_filter`, then run `node` on a multi-threaded tokio runtime.
pub fn run_node<F>(default_filter: &str, node: impl FnOnce() -> F) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    start_node(
        default_filter,
        tokio::runtime::Builder::new_multi_thread(),
        node,
    )
}

/// [`run_node`] on one thread: every task of the node (middleware readers, the node's loop,
/// its servers) runs on the thread that started it, and blocking work goes to tokio's
/// blocking pool. For a node whose tasks are short and many (one per received message): a
/// message then wakes one thread instead of hopping between worker threads, which halves
/// the collector's context switches on a 30 Hz camera (docs/performance.md).
pub fn run_node_on_one_thread<F>(
    default_filter: &str,
    node: impl FnOnce() -> F,
) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    start_node(
        default_filter,
        tokio::runtime::Builder::new_current_thread(),
        node,
    )
}

fn start_node<F>(
    default_filter: &str,
    mut runtime: tokio::runtime::Builder,
    node: impl FnOnce() -> F,
) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let arenas = bound_malloc_arenas();
    init_logging(default_filter);
    log_malloc_arenas(arenas);
    runtime.enable_all().build()?.block_on(node())
}

/// Log lines on stderr, filtered by `RUST_LOG`, else `default_filter` (e.g. `info`).
pub fn init_logging(default_filter: &str) {
    use std::io::IsTerminal;
    // Colour codes only for a person's terminal, not for `ros2 launch`'s pipes or log files.
    init_logging_to(
        default_filter,
        std::io::stderr,
        std::io::stderr().is_terminal(),
    );
}

/// Log lines into `writer` (a file while a dashboard owns the terminal), filtered like
/// [`init_logging`]; `ansi` colours them.
pub fn init_logging_to<W>(default_filter: &str, writer: W, ansi: bool)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(writer)
        .with_ansi(ansi)
        .init();
}

/// Where ROS 2 keeps a node's files: `ROS_HOME`, else `~/.ros` (what rcl uses for logs), else
/// the working directory when there is no home either.
pub fn ros_home() -> std::path::PathBuf {
    ros_home_from(|name| std::env::var_os(name))
}

fn ros_home_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> std::path::PathBuf {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    match (set("ROS_HOME"), set("HOME")) {
        (Some(ros_home), _) => ros_home.into(),
        (None, Some(home)) => std::path::PathBuf::from(home).join(".ros"),
        (None, None) => std::path::PathBuf::from("."),
    }
}

/// The ROS 2 backend the binaries were built with: r2r (rcl) when its feature is on, else
/// the pure-Rust ros2-client. A build with neither says so when a node is created.
pub fn transport() -> std::sync::Arc<dyn crate::transport::Transport> {
    #[cfg(feature = "r2r")]
    {
        std::sync::Arc::new(crate::transport::r2r::R2rTransport)
    }
    #[cfg(all(feature = "ros2-client", not(feature = "r2r")))]
    {
        std::sync::Arc::new(crate::transport::ros2_client::Ros2ClientTransport)
    }
    #[cfg(not(any(feature = "ros2-client", feature = "r2r")))]
    {
        std::sync::Arc::new(NoBackend)
    }
}

/// The transport of a build without a ROS 2 backend: every node creation fails, saying why.
#[cfg(not(any(feature = "ros2-client", feature = "r2r")))]
struct NoBackend;

#[cfg(not(any(feature = "ros2-client", feature = "r2r")))]
impl crate::transport::Transport for NoBackend {
    fn backend(&self) -> &'static str {
        "none"
    }

    fn create_node(
        &self,
        options: &crate::transport::NodeOptions,
    ) -> crate::transport::Result<Box<dyn crate::transport::Node>> {
        Err(crate::transport::Error::Backend {
            backend: "none",
            operation: format!("create node {}", options.name),
            message: "this build has no ROS 2 backend: build with --features ros2-client \
                      (pure Rust) or --features r2r (rcl)"
                .into(),
        })
    }
}

/// A malformed `--ros-args` list or parameters file; the message names the file and key.
#[derive(Debug, thiserror::Error)]
pub enum RosArgsError {
    /// An argument or a parameters file's content is not what ROS 2 expects.
    #[error("--ros-args: {0}")]
    Invalid(String),
    /// A parameters file could not be read.
    #[error("--ros-args: --params-file {}: {source}", path.display())]
    ReadParamsFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A parameters file is not YAML.
    #[error("--ros-args: --params-file {}: {source}", path.display())]
    ParseParamsFile {
        /// The file.
        path: PathBuf,
        /// What the YAML parser said.
        #[source]
        source: serde_yaml::Error,
    },
    /// A parameter's value is not of the type the node reads it as.
    #[error("--ros-args: parameter {name}:={value}: {source}")]
    Parameter {
        /// The parameter.
        name: String,
        /// Its value, as written.
        value: String,
        /// Why it does not parse.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The parameters of the arguments after `--ros-args` (what `ros2 run` and `ros2 launch`
/// pass) for a node that does not know its own name: `--params-file` sections for `/**`
/// (and for the name given by `-r __node:=NAME`), and `-p name:=value`. See
/// [`node_parameters`].
pub fn ros_parameters(args: &[String]) -> Result<BTreeMap<String, String>, RosArgsError> {
    node_parameters("", args)
}

/// The parameters of node `node` (its default name, `name` or `/ns/name`; `-r __node:=` and
/// `-r __ns:=` rename it) from the arguments after `--ros-args`, in order, later ones
/// overriding earlier ones:
/// - `--params-file FILE`: ROS 2 parameter YAML, `NODE: {ros__parameters: {...}}` where
///   NODE is `/**` (every node), `/**/name`, `/ns/name`, `/name` or `name` (any namespace);
///   namespaces may also nest as maps. Nested parameter maps become dotted names
///   (`a: {b: 1}` is `a.b`). Values must be scalars (bool, integer, double, string).
/// - `-p name:=value` / `--param name:=value`.
///
/// Other ROS arguments (`-r`, `--log-level`, `-e` ...) are skipped with their value.
/// Values come back as text, as written.
pub fn node_parameters(
    node: &str,
    args: &[String],
) -> Result<BTreeMap<String, String>, RosArgsError> {
    let (mut ns, mut name) = match node.rsplit_once('/') {
        Some((ns, name)) => (format!("/{}", ns.trim_start_matches('/')), name.to_owned()),
        None => ("/".to_owned(), node.to_owned()),
    };
    // Remaps come first: a node's name holds for all its parameter files.
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if matches!(arg.as_str(), "-r" | "--remap") {
            match it.next().and_then(|r| r.split_once(":=")) {
                Some(("__node" | "__name", value)) => value.clone_into(&mut name),
                Some(("__ns", value)) => value.clone_into(&mut ns),
                _ => {}
            }
        }
    }
    let full = format!("{}/{name}", ns.trim_end_matches('/'));
    let mut params = BTreeMap::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-p" | "--param" => {
                let Some(pair) = it.next() else {
                    return Err(RosArgsError::Invalid(format!("{arg} needs name:=value")));
                };
                let Some((name, value)) = pair.split_once(":=") else {
                    return Err(RosArgsError::Invalid(format!(
                        "{arg} {pair}: expected name:=value"
                    )));
                };
                params.insert(name.to_owned(), value.to_owned());
            }
            "--params-file" => {
                let Some(file) = it.next() else {
                    return Err(RosArgsError::Invalid(format!("{arg} needs a file")));
                };
                params_file(Path::new(file), &name, &full, &mut params)?;
            }
            "-r" | "--remap" | "--log-level" | "-e" | "--enclave" => {
                it.next();
            }
            _ => {}
        }
    }
    Ok(params)
}

/// Whether section key `key` of a parameters file applies to node `name` (`full` with its
/// namespace).
fn section_matches(key: &str, name: &str, full: &str) -> bool {
    match key {
        "/**" => true,
        _ if !name.is_empty() => {
            key == full || key == name || key.strip_prefix("/**/") == Some(name)
        }
        _ => false,
    }
}

/// Reads `path` and inserts the parameters of every section that applies, in file order.
fn params_file(
    path: &Path,
    name: &str,
    full: &str,
    params: &mut BTreeMap<String, String>,
) -> Result<(), RosArgsError> {
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|source| RosArgsError::ReadParamsFile {
        path: path.to_owned(),
        source,
    })?;
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|source| RosArgsError::ParseParamsFile {
            path: path.to_owned(),
            source,
        })?;
    let serde_yaml::Value::Mapping(top) = doc else {
        return Err(RosArgsError::Invalid(format!(
            "--params-file {file}: expected a map of node names to `ros__parameters:`"
        )));
    };
    let mut sections = Vec::new();
    collect_sections(&file.to_string(), "", &top, &mut sections)?;
    for (key, values) in sections {
        if section_matches(&key, name, full) {
            flatten(&file.to_string(), &key, "", values, params)?;
        }
    }
    Ok(())
}

/// The `ros__parameters` maps of a parameters file with their node keys; nested namespace
/// maps (`/ns: {node: {ros__parameters: ...}}`) join into one key.
fn collect_sections<'y>(
    file: &str,
    prefix: &str,
    map: &'y serde_yaml::Mapping,
    out: &mut Vec<(String, &'y serde_yaml::Mapping)>,
) -> Result<(), RosArgsError> {
    for (key, value) in map {
        let Some(key) = key.as_str() else {
            return Err(RosArgsError::Invalid(format!(
                "--params-file {file}: node key {key:?} under `{prefix}` is not a name"
            )));
        };
        let joined = match prefix {
            "" => key.to_owned(),
            _ => format!(
                "{}/{}",
                prefix.trim_end_matches('/'),
                key.trim_start_matches('/')
            ),
        };
        let Some(inner) = value.as_mapping() else {
            return Err(RosArgsError::Invalid(format!(
                "--params-file {file}: `{joined}` must hold `ros__parameters:`"
            )));
        };
        match inner.get("ros__parameters") {
            Some(serde_yaml::Value::Mapping(values)) => out.push((joined, values)),
            Some(_) => {
                return Err(RosArgsError::Invalid(format!(
                    "--params-file {file}: `{joined}.ros__parameters` must be a map"
                )))
            }
            None => collect_sections(file, &joined, inner, out)?,
        }
    }
    Ok(())
}

/// Inserts the scalar values of `map` as (dotted) parameter names.
fn flatten(
    file: &str,
    node: &str,
    prefix: &str,
    map: &serde_yaml::Mapping,
    params: &mut BTreeMap<String, String>,
) -> Result<(), RosArgsError> {
    use serde_yaml::Value;
    for (key, value) in map {
        let key = match key {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(RosArgsError::Invalid(format!(
                    "--params-file {file}: `{node}`: parameter name {other:?} is not a name"
                )))
            }
        };
        let name = match prefix {
            "" => key,
            _ => format!("{prefix}.{key}"),
        };
        let text = match value {
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            Value::Mapping(inner) => {
                flatten(file, node, &name, inner, params)?;
                continue;
            }
            Value::Null => {
                return Err(RosArgsError::Invalid(format!(
                    "--params-file {file}: `{node}.ros__parameters.{name}` has no value"
                )))
            }
            Value::Sequence(_) | Value::Tagged(_) => {
                return Err(RosArgsError::Invalid(format!(
                    "--params-file {file}: `{node}.ros__parameters.{name}`: only scalar \
                     values (bool, integer, double, string) are supported"
                )))
            }
        };
        params.insert(name, text);
    }
    Ok(())
}

/// Parameter `name` of `params` as type `T`; the error names the parameter and its value.
pub fn parameter<T: std::str::FromStr>(
    params: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<T>, RosArgsError>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    params
        .get(name)
        .map(|v| {
            v.parse::<T>().map_err(|e| RosArgsError::Parameter {
                name: name.to_owned(),
                value: v.clone(),
                source: Box::new(e),
            })
        })
        .transpose()
}

/// Logs that `use_sim_time:=true` was asked for: vla_perf's nodes measure on the wall
/// clock (latency between messages), which a simulated `/clock` does not change.
pub fn note_use_sim_time(params: &BTreeMap<String, String>) -> Result<(), RosArgsError> {
    if parameter::<bool>(params, "use_sim_time")? == Some(true) {
        tracing::warn!(
            "use_sim_time:=true is accepted but not used: latencies are measured on the \
             wall clock, and /clock is not followed"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn malloc_arenas_are_bounded_on_glibc_unless_the_environment_says() {
        let outcome = bound_malloc_arenas();
        if arenas_set_by_environment() {
            assert_eq!(outcome, MallocArenas::FromEnvironment);
        } else if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert_eq!(outcome, MallocArenas::Bounded(MALLOC_ARENAS));
        } else {
            assert_eq!(outcome, MallocArenas::NotGlibc);
        }
    }

    #[test]
    fn parameters_are_read_and_other_ros_arguments_skipped() {
        let p = ros_parameters(&args(
            "-r __node:=collector -p config:=/etc/c.yaml --log-level info --param use_sim_time:=true",
        ))
        .unwrap();
        assert_eq!(p.get("config").map(String::as_str), Some("/etc/c.yaml"));
        assert_eq!(p.get("use_sim_time").map(String::as_str), Some("true"));
        assert_eq!(p.len(), 2);
        assert!(ros_parameters(&args("-p config")).is_err());
        assert!(ros_parameters(&args("-p")).is_err());
    }

    fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    const PARAMS: &str = r#"
/**:
  ros__parameters:
    use_sim_time: false
    config: /all.yaml
collector:
  ros__parameters:
    robot_id: arm_1
    prometheus: {port: 9464, enabled: true}
/robots/collector:
  ros__parameters:
    robot_id: arm_2
/**/alert_manager:
  ros__parameters:
    history: /var/h.jsonl
/fleet:
  sim_stack:
    ros__parameters:
      seed: 3
      ratio: 0.5
"#;

    #[test]
    fn ros_home_follows_ros_home_then_home_like_rcl() {
        use std::ffi::OsString;
        let vars = |pairs: &'static [(&str, &str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert_eq!(
            ros_home_from(vars(&[("ROS_HOME", "/data/ros"), ("HOME", "/root")])),
            Path::new("/data/ros")
        );
        assert_eq!(
            ros_home_from(vars(&[("ROS_HOME", ""), ("HOME", "/home/me")])),
            Path::new("/home/me/.ros")
        );
        assert_eq!(ros_home_from(vars(&[])), Path::new("."));
    }

    #[test]
    fn a_params_file_applies_the_sections_matching_the_node_and_p_overrides_it() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(&dir, "p.yaml", PARAMS);
        let p = node_parameters(
            "vla_perf_collector",
            &args(&format!(
                "-r __node:=collector --params-file {f} -p config:=/mine.yaml"
            )),
        )
        .unwrap();
        assert_eq!(p["robot_id"], "arm_1");
        assert_eq!(p["config"], "/mine.yaml", "a later -p wins");
        assert_eq!(p["use_sim_time"], "false");
        assert_eq!(p["prometheus.port"], "9464");
        assert_eq!(p["prometheus.enabled"], "true");
        assert!(!p.contains_key("history"));
        // -p before the file is overridden by it.
        let p = node_parameters(
            "collector",
            &args(&format!("-p robot_id:=x --params-file {f}")),
        )
        .unwrap();
        assert_eq!(p["robot_id"], "arm_1");
        // A namespace selects its own section (after the bare-name one, in file order).
        let p = node_parameters(
            "collector",
            &args(&format!("-r __ns:=/robots --params-file {f}")),
        )
        .unwrap();
        assert_eq!(p["robot_id"], "arm_2");
        let p = node_parameters("/robots/collector", &args(&format!("--params-file {f}"))).unwrap();
        assert_eq!(p["robot_id"], "arm_2");
        let p = node_parameters("/x/alert_manager", &args(&format!("--params-file {f}"))).unwrap();
        assert_eq!(p["history"], "/var/h.jsonl");
        assert!(!p.contains_key("robot_id"));
        let p = node_parameters("/fleet/sim_stack", &args(&format!("--params-file {f}"))).unwrap();
        assert_eq!((p["seed"].as_str(), p["ratio"].as_str()), ("3", "0.5"));
        // Without a name only `/**` applies.
        let p = ros_parameters(&args(&format!("--params-file {f}"))).unwrap();
        assert_eq!(p.keys().collect::<Vec<_>>(), ["config", "use_sim_time"]);
        assert_eq!(parameter::<bool>(&p, "use_sim_time").unwrap(), Some(false));
        assert_eq!(parameter::<u32>(&p, "missing").unwrap(), None);
        let e = parameter::<u32>(&p, "config").unwrap_err().to_string();
        assert!(e.contains("config:=/all.yaml"), "{e}");
    }

    #[test]
    fn params_file_errors_name_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "list.yaml",
                "/**:\n  ros__parameters:\n    topics: [a, b]\n",
                "`/**.ros__parameters.topics`",
            ),
            (
                "null.yaml",
                "/**:\n  ros__parameters:\n    config:\n",
                "`/**.ros__parameters.config` has no value",
            ),
            (
                "scalar.yaml",
                "collector: 3\n",
                "`collector` must hold `ros__parameters:`",
            ),
            ("top.yaml", "- a\n", "expected a map"),
            ("syntax.yaml", "/**: {ros__parameters: [\n", "syntax.yaml"),
        ];
        for (name, text, expected) in cases {
            let f = file(&dir, name, text);
            let e = node_parameters("collector", &args(&format!("--params-file {f}")))
                .unwrap_err()
                .to_string();
            assert!(e.contains(&f) && e.contains(expected), "{name}: {e}");
        }
        let e = ros_parameters(&args("--params-file /nonexistent/p.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/p.yaml"), "{e}");
        assert!(ros_parameters(&args("--params-file")).is_err());
    }
}
