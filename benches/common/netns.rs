//! Keeps a benchmark's DDS traffic on loopback: [`enter`] re-runs the benchmark inside a
//! private network namespace (`unshare -n`; lo up with multicast, 224.0.0.0/4 routed to
//! lo) and exits with its status; inside, it returns and the benchmark runs.

const INSIDE: &str = "VLA_PERF_IN_NETNS";

/// Returns inside the private namespace; outside, re-runs this benchmark there and exits.
pub fn enter() {
    if std::env::var_os(INSIDE).is_some() {
        return;
    }
    let exe = std::env::current_exe().expect("bench path");
    let status = std::process::Command::new("unshare")
        .args(["-n", "--", "sh", "-c"])
        .arg("ip link set lo up multicast on && ip route add 224.0.0.0/4 dev lo && exec \"$0\" \"$@\"")
        .arg(exe)
        .args(std::env::args().skip(1))
        .env(INSIDE, "1")
        .status()
        .expect("unshare (util-linux)");
    std::process::exit(status.code().unwrap_or(1));
}
