#!/usr/bin/env bash
# ros2_tools.sh: vla_perf's collector against ROS 2's own tools, on the real ROS 2 Jazzy core.
#
# Measures, one case after another (each: warm-up, then SECONDS of measurement):
#  1. Rate accuracy and CPU of `ros2 topic hz` and of the collector's `topic_rate`
#     (vla_perf_topic_rate_hz{topic} on its Prometheus endpoint, scraped once a second)
#     watching the same topic SIDE BY SIDE (same messages, same window), once per collector
#     backend (r2r from the colcon install, ros2-client from target/release), on
#       (a) /camera/image_raw, sensor_msgs/Image rgb8 640x480 at 30 Hz, sensor-data QoS, as
#           the SIMULATED stack's camera publishes it, from an rclpy publisher;
#       (b) /bench/fast, std_msgs/String (16 chars) at 1 kHz, reliable, from an rclpy
#           publisher. The publishers (benches/ros2_tools/helpers.py) log their own count:
#           the true rate (the SIMULATED stack's camera has no such count, and frames lost
#           on the way to a receiver are exactly what a rate measurement must show).
#     `ros2 topic hz` gets -w RATE*10, the collector's 10 s rate window; each reading of
#     either tool (hz prints one a second) is compared with the true rate over the 10 s
#     before it.
#  2. CPU at the typical VLA load with camera (the SIMULATED stack: camera 30 Hz 640x480,
#     vision, a spoken command every 3 s as `vla-perf demo` does) of the r2r collector, the
#     ros2-client collector and a bare rclpy subscriber to the camera (bare_sub.py), one at
#     a time; the collector watches the camera as an extra topic besides its stages.
#  3. A table of the figures and the ratios collector CPU / `ros2 topic hz` CPU (goal of the
#     issue: <= 0.2 with either backend at the same accuracy).
#  4. Where each tool's CPU goes on the camera, per thread: the middleware's receive thread
#     (Cyclone DDS `recvUC`/`recvMC`, RustDDS's participant event loop) against the rest.
# CPU is utime+stime from /proc/PID/stat over the measurement window, % of one core (for
# `ros2 topic hz`, its python process).
#
# Run (as root, or with unprivileged user namespaces: it re-runs itself under `unshare -n`
# so DDS never leaves loopback; ROS_DOMAIN_ID 78, ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST):
#   benches/ros2_tools.sh [SECONDS]                     # SECONDS per case, default 30
# Environment: VLA_PERF_BENCH_SECONDS (same as the argument), VLA_PERF_BENCH_WARMUP
# (default 12 s: the 10 s rate windows fill before measuring), VLA_PERF_BENCH_DOMAIN (78),
# VLA_PERF_COLCON_WS (colcon workspace with vla_perf installed, default target/colcon_ws as
# .ci/ros2-build makes it), VLA_PERF_BENCH_BUILD=0 (skip `cargo build --release --bins`),
# VLA_PERF_BENCH_KEEP=1 (keep the per-case logs; kept anyway on failure).
# Needs: /opt/ros/jazzy (rclpy, ros2cli, rmw_cyclonedds_cpp, sensor_msgs, std_msgs,
# audio_common_msgs), Debian's /usr/bin/python3, the colcon install of vla_perf
# (.ci/ros2-build), cargo, unshare, ip, curl. Takes about 7 x (SECONDS + WARMUP + 10) s
# after the build; the whole run is bounded by `timeout`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
secs=${1:-${VLA_PERF_BENCH_SECONDS:-30}}
warmup=${VLA_PERF_BENCH_WARMUP:-12}
domain=${VLA_PERF_BENCH_DOMAIN:-78}
ws=${VLA_PERF_COLCON_WS:-$repo/target/colcon_ws}
helpers=$here/ros2_tools
[[ $secs =~ ^[0-9]+$ && $secs -ge 5 ]] || { echo "SECONDS must be an integer >= 5" >&2; exit 2; }
[[ $warmup =~ ^[0-9]+$ ]] || { echo "VLA_PERF_BENCH_WARMUP must be an integer" >&2; exit 2; }

if [[ -z ${VLA_PERF_BENCH_NETNS:-} ]]; then
  # ---- outside: prerequisites, build, then re-run inside a private network namespace ----
  cargo_dir=$(dirname "$(command -v cargo || echo /root/.cargo/bin/cargo)")
  # Debian's python3 for rclpy and ros2cli: pyenv and other Pythons stay off PATH.
  export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$cargo_dir"
  unset PYTHONPATH VIRTUAL_ENV PYENV_VERSION
  for f in /opt/ros/jazzy/setup.bash "$ws/install/setup.bash" \
           "$ws/install/vla_perf/lib/vla_perf/collector" \
           "$ws/install/vla_perf/lib/vla_perf/sim_stack"; do
    [[ -e $f ]] || { echo "missing $f (ROS 2 Jazzy, and .ci/ros2-build for the colcon" \
                          "install; VLA_PERF_COLCON_WS names another workspace)" >&2; exit 2; }
  done
  for tool in unshare ip curl timeout; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
  done
  if [[ ${VLA_PERF_BENCH_BUILD:-1} != 0 ]]; then
    echo "building the ros2-client binaries (nice -n 10 cargo build --release --bins) ..."
    (cd "$repo" && timeout 3600 nice -n 10 cargo build --release --bins --quiet)
  fi
  [[ -x $repo/target/release/collector ]] || { echo "no $repo/target/release/collector" >&2; exit 2; }
  export VLA_PERF_BENCH_NETNS=1
  # 7 cases; each case has its own bounded waits: this is only the backstop.
  limit=$((7 * (secs + warmup + 60) + 60))
  exec timeout -k 10 "$limit" unshare -n -- "$BASH" "${BASH_SOURCE[0]}" "$@"
fi

# ---- inside the private network namespace ----
# Never touch a real network: only a fresh namespace has loopback as its sole interface.
[[ $(ip -o link show | wc -l) == 1 ]] ||
  { echo "ros2_tools: not in a private network namespace; run it without VLA_PERF_BENCH_NETNS" >&2; exit 2; }
ip link set lo up multicast on
ip route add 224.0.0.0/4 dev lo
export ROS_DOMAIN_ID=$domain ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export RMW_IMPLEMENTATION=rmw_cyclonedds_cpp PYTHONUNBUFFERED=1 LANG=C.UTF-8 LC_ALL=C.UTF-8
unset ROS_LOCALHOST_ONLY ROS_STATIC_PEERS CYCLONEDDS_URI
work=$(mktemp -d /tmp/vla_perf_ros2_tools.XXXXXX)
export ROS_HOME=$work/ros_home ROS_LOG_DIR=$work/ros_log
set +u
# shellcheck disable=SC1091
source /opt/ros/jazzy/setup.bash
# shellcheck disable=SC1091
source "$ws/install/setup.bash"
set -u

r2r_bin=$ws/install/vla_perf/lib/vla_perf
rc_bin=$repo/target/release
port=9464
prom_url=http://127.0.0.1:$port/metrics
clk_tck=$(getconf CLK_TCK)
declare -a group_pids=()   # every process started, each the leader of its own group
ok=0

stop_groups() {
  local pid i
  for pid in "${group_pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    local alive=0
    for pid in "${group_pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${group_pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  for pid in "${group_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  group_pids=()
}
cleanup() {
  trap - EXIT INT TERM
  stop_groups
  if [[ $ok == 1 && ${VLA_PERF_BENCH_KEEP:-0} == 0 ]]; then
    rm -rf "$work"
  else
    echo "logs kept in $work" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { echo "ros2_tools: $*" >&2; exit 1; }

# start NAME CMD...: CMD in its own process group (log: $case_dir/NAME.log); pid in started[NAME]
declare -A started=()
start() {
  local name=$1
  shift
  setsid "$@" >"$case_dir/$name.log" 2>&1 </dev/null &
  started[$name]=$!
  group_pids+=("$!")
}

# start_hz TOPIC WINDOW: `ros2 topic hz` (its python process is started[hz]); each output
# line is prefixed with the wall time it was read at, into $case_dir/hz.log
start_hz() {
  setsid ros2 topic hz "$1" -w "$2" \
    > >(while IFS= read -r line; do echo "$EPOCHREALTIME $line"; done >"$case_dir/hz.log") \
    2>"$case_dir/hz.err" </dev/null &
  started[hz]=$!
  group_pids+=("$!")
}

now() { echo "$EPOCHREALTIME"; }
# sleep_until WALL_TIME (seconds, fractional)
sleep_until() {
  local left
  left=$(awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { d = a - b; printf "%.3f", (d > 0 ? d : 0) }')
  sleep "$left"
}
ticks() { # utime+stime of PID in clock ticks (fields 14 and 15; comm may hold spaces)
  local stat
  stat=$(<"/proc/$1/stat") || return 1
  stat=${stat##*) }
  awk '{ print $12 + $13 }' <<<"$stat"
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# thread_ticks ROLE PID: "ROLE TID COMM ticks" per thread of PID (spaces in COMM become _)
thread_ticks() {
  local t stat comm
  for t in /proc/"$2"/task/*; do
    stat=$(<"$t/stat") || continue
    comm=${stat#*(}
    comm=${comm%) *}
    stat=${stat##*) }
    awk -v r="$1" -v t="${t##*/}" -v c="${comm// /_}" '{ print r, t, c, $12 + $13 }' <<<"$stat"
  done
}
alive() { kill -0 "$1" 2>/dev/null; }
scrape() { curl -s --max-time 2 "$prom_url" || true; }
prom_rate() { # value of vla_perf_topic_rate_hz{topic=$1} or nan
  scrape | awk -v t="topic=\"$1\"" 'index($0, "vla_perf_topic_rate_hz{") == 1 && index($0, t) { v = $NF } END { print (v == "" ? "nan" : v) }'
}

# Collector configuration: default pipeline plus the measured topic as a watched topic.
collector_config() { # FILE TOPIC TYPE RATE [QOS_DEPTH]
  {
    echo "collector:"
    echo "  topics:"
    echo "    - topic: $2"
    echo "      msg_type: $3"
    echo "      expected_rate_hz: $4"
    [[ -n ${5:-} ]] && echo "      qos_depth: $5"
    echo "  prometheus: {enabled: true, listen: 127.0.0.1:$port}"
  } >"$1"
}

start_collector() { # BACKEND CONFIG
  case $1 in
    r2r) start collector "$r2r_bin/collector" --config "$2" ;;
    rc) start collector "$rc_bin/collector" --config "$2" ;;
  esac
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND until it succeeds
wait_for() {
  local what=$1 limit=$2 deadline
  shift 2
  deadline=$(($(date +%s) + limit))
  until "$@"; do
    (($(date +%s) < deadline)) || die "$case_name: no $what within ${limit}s (logs: $case_dir)"
    sleep 0.5
  done
}
hz_printed() { grep -q "average rate" "$case_dir/hz.log"; }
prom_has_rate() { [[ $(prom_rate "$1") != nan ]]; }

check_alive() {
  local role
  for role in "${!measured[@]}"; do
    alive "${measured[$role]}" || die "$case_name: $role (pid ${measured[$role]}) died; logs: $case_dir"
  done
}

# measure: CPU of every process in measured[ROLE]=PID over SECONDS; scrapes as asked
declare -A measured=()
declare -A ticks0=()
measure() { # PROM_TOPIC (empty: no per-second scrape)
  local prom_topic=$1 role t0 t1 i
  check_alive
  now >"$case_dir/prom0.t"
  scrape >"$case_dir/prom0.txt"
  t0=$(now)
  : >"$case_dir/threads0.tsv"
  for role in "${!measured[@]}"; do
    ticks0[$role]=$(ticks "${measured[$role]}")
    thread_ticks "$role" "${measured[$role]}" >>"$case_dir/threads0.tsv"
  done
  for ((i = 1; i <= secs; i++)); do
    sleep_until "$(awk -v a="$t0" -v i="$i" 'BEGIN { printf "%.6f", a + i }')"
    if [[ -n $prom_topic ]]; then
      local t
      t=$(now)
      echo "$t $(prom_rate "$prom_topic")" >>"$case_dir/prom_rate.tsv"
    fi
  done
  t1=$(now)
  check_alive
  : >"$case_dir/cpu.tsv"
  : >"$case_dir/threads1.tsv"
  for role in "${!measured[@]}"; do
    local pid=${measured[$role]}
    thread_ticks "$role" "$pid" >>"$case_dir/threads1.tsv"
    echo "$role $pid ${ticks0[$role]} $(ticks "$pid") $(rss_kib "$pid")" >>"$case_dir/cpu.tsv"
  done
  now >"$case_dir/prom1.t"
  scrape >"$case_dir/prom1.txt"
  {
    echo "t0=$t0"
    echo "t1=$t1"
    echo "clk_tck=$clk_tck"
  } >>"$case_dir/case.env"
}

order=0
new_case() { # NAME KIND BACKEND
  order=$((order + 1))
  case_name=$1
  case_dir=$work/$1
  mkdir -p "$case_dir"
  measured=()
  started=()
  printf 'name=%s\nkind=%s\nbackend=%s\norder=%s\n' "$1" "$2" "$3" "$order" >"$case_dir/case.env"
  echo "[$(date +%T)] case $order/7: $1 (${warmup}s warm-up, ${secs}s measured)"
}
end_case() {
  stop_groups
  sleep 1 # let the rmw settle (sockets, shared memory) before the next case
}

camera=/camera/image_raw
fast=/bench/fast
collector_config "$work/camera.yaml" "$camera" sensor_msgs/msg/Image 30
collector_config "$work/fast.yaml" "$fast" std_msgs/msg/String 1000 100
"$rc_bin/vla-perf" check-config "$work/camera.yaml" "$work/fast.yaml" >/dev/null ||
  die "collector configs rejected"

echo "ros2_tools: ROS 2 $ROS_DISTRO ($RMW_IMPLEMENTATION), domain $ROS_DOMAIN_ID, discovery" \
  "$ROS_AUTOMATIC_DISCOVERY_RANGE, private network namespace; $(nproc) CPUs;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); logs in $work"

# ---- 1a. camera: ros2 topic hz and the collector side by side ----
for backend in r2r rc; do
  new_case "camera_$backend" rate "$backend"
  printf 'what=camera\ntopic=%s\nnominal=30\ntruth=publish\n' "$camera" >>"$case_dir/case.env"
  start publisher /usr/bin/python3 "$helpers/helpers.py" publish --topic "$camera" --rate 30 --image 640 480 --log "$case_dir/truth.log"
  start_collector "$backend" "$work/camera.yaml"
  start_hz "$camera" 300
  measured=([hz]=${started[hz]} [collector]=${started[collector]} [publisher]=${started[publisher]})
  wait_for "ros2 topic hz reading" 40 hz_printed
  wait_for "collector topic_rate" 30 prom_has_rate "$camera"
  sleep "$warmup"
  measure "$camera"
  end_case
done

# ---- 1b. 1 kHz small messages: ros2 topic hz and the collector side by side ----
for backend in r2r rc; do
  new_case "fast_$backend" rate "$backend"
  printf 'what=1 kHz\ntopic=%s\nnominal=1000\ntruth=publish\n' "$fast" >>"$case_dir/case.env"
  start publisher /usr/bin/python3 "$helpers/helpers.py" publish --topic "$fast" --rate 1000 --log "$case_dir/truth.log"
  start_collector "$backend" "$work/fast.yaml"
  start_hz "$fast" 10000
  measured=([hz]=${started[hz]} [collector]=${started[collector]} [publisher]=${started[publisher]})
  wait_for "ros2 topic hz reading" 40 hz_printed
  wait_for "collector topic_rate" 30 prom_has_rate "$fast"
  sleep "$warmup"
  measure "$fast"
  end_case
done

# ---- 2. typical VLA load with camera: each subscriber alone ----
for backend in r2r rc rclpy; do
  new_case "load_$backend" load "$backend"
  printf 'what=load\ntopic=%s\n' "$camera" >>"$case_dir/case.env"
  start sim_stack "$r2r_bin/sim_stack"
  start speaker /usr/bin/python3 "$helpers/helpers.py" speak --period 3
  if [[ $backend == rclpy ]]; then
    start subscriber /usr/bin/python3 "$helpers/bare_sub.py" "$camera" sensor_msgs/msg/Image
  else
    start_collector "$backend" "$work/camera.yaml"
    started[subscriber]=${started[collector]}
  fi
  measured=([subscriber]=${started[subscriber]} [sim_stack]=${started[sim_stack]} [speaker]=${started[speaker]})
  if [[ $backend != rclpy ]]; then
    wait_for "collector topic_rate" 30 prom_has_rate "$camera"
  fi
  sleep "$warmup"
  measure ""
  end_case
done

/usr/bin/python3 "$helpers/report.py" "$work"
ok=1
