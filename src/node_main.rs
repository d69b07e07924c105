//! What every node binary does the same way: logging, ROS arguments, shutdown signals.

use std::collections::BTreeMap;

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

/// Log lines on stderr, filtered by `RUST_LOG`, else `default_filter` (e.g. `info`).
pub fn init_logging(default_filter: &str) {
    init_logging_to(default_filter, std::io::stderr, true);
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

/// The ROS 2 backend the binaries were built with: r2r (rcl) when its feature is on, else
/// the pure-Rust ros2-client.
#[cfg(any(feature = "ros2-client", feature = "r2r"))]
pub fn transport() -> std::sync::Arc<dyn crate::transport::Transport> {
    #[cfg(feature = "r2r")]
    {
        std::sync::Arc::new(crate::transport::r2r::R2rTransport)
    }
    #[cfg(all(feature = "ros2-client", not(feature = "r2r")))]
    {
        std::sync::Arc::new(crate::transport::ros2_client::Ros2ClientTransport)
    }
}

/// A malformed `--ros-args` list.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--ros-args: {0}")]
pub struct RosArgsError(String);

/// The `-p name:=value` / `--param name:=value` pairs of the arguments after `--ros-args`
/// (what `ros2 run` and `ros2 launch` pass); other ROS arguments (`-r`, `--log-level`,
/// `--params-file` ...) are skipped with their value.
pub fn ros_parameters(args: &[String]) -> Result<BTreeMap<String, String>, RosArgsError> {
    let mut params = BTreeMap::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-p" | "--param" => {
                let Some(pair) = it.next() else {
                    return Err(RosArgsError(format!("{arg} needs name:=value")));
                };
                let Some((name, value)) = pair.split_once(":=") else {
                    return Err(RosArgsError(format!("{arg} {pair}: expected name:=value")));
                };
                params.insert(name.to_owned(), value.to_owned());
            }
            "-r" | "--remap" | "--params-file" | "--log-level" | "-e" | "--enclave" => {
                it.next();
            }
            _ => {}
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
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
}
