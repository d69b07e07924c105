#!/usr/bin/python3
"""Tables of benches/ros2_tools.sh from its per-case directories.

Usage: report.py WORK_DIR (one sub-directory per case, written by the shell script):
  case.env        key=value: name, kind (rate | load), backend, topic, t0, t1, nominal,
                  truth (publish), clk_tck
  cpu.tsv         role pid ticks_at_t0 ticks_at_t1 rss_kib_at_t1
  threads0.tsv, threads1.tsv  role tid comm ticks, per thread at t0 and t1
  hz.log          `ros2 topic hz` output, each line prefixed with the wall time it was read
  prom_rate.tsv   "wall_time value" of vla_perf_topic_rate_hz{topic}, scraped once a second
  prom0.txt, prom1.txt, prom0.t, prom1.t  whole scrapes at t0 and t1, and their times
  truth.log       the publisher's "wall_time sent" lines
"""
import math
import re
import sys
from pathlib import Path


def load_env(path):
    env = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    return env


def cpu(case, env):
    """role -> (cpu % of one core over [t0, t1], rss MiB)."""
    span = float(env["t1"]) - float(env["t0"])
    tck = float(env.get("clk_tck", 100))
    out = {}
    path = case / "cpu.tsv"
    if path.exists():
        for line in path.read_text().splitlines():
            role, _pid, a, b, rss = line.split()
            out[role] = (100.0 * (int(b) - int(a)) / tck / span, int(rss) / 1024.0)
    return out


# Threads that receive for the middleware: Cyclone DDS's receive threads, RustDDS's
# participant event loop (which also reassembles fragments and fills the reader caches).
RECEIVE_THREADS = re.compile(r"^(recvUC|recvMC|recv|RustDDS_Partici.*)$")


def threads(case, env):
    """role -> [(comm, cpu % of one core)] over [t0, t1], busiest first; a thread that
    ended before t1 is missing here but counted in `cpu`."""
    span = float(env["t1"]) - float(env["t0"])
    tck = float(env.get("clk_tck", 100))
    start = {}
    for line in (case / "threads0.tsv").read_text().splitlines():
        role, tid, comm, ticks = line.split()
        start[(role, tid)] = int(ticks)
    out = {}
    for line in (case / "threads1.tsv").read_text().splitlines():
        role, tid, comm, ticks = line.split()
        used = int(ticks) - start.get((role, tid), 0)
        out.setdefault(role, []).append((comm, 100.0 * used / tck / span))
    return {r: sorted(v, key=lambda x: -x[1]) for r, v in out.items()}


def interpolate(points, t):
    """Value of a piecewise-linear (time, value) series at t."""
    for (ta, va), (tb, vb) in zip(points, points[1:]):
        if ta <= t <= tb:
            return va + (vb - va) * (t - ta) / (tb - ta) if tb > ta else va
    raise ValueError(f"t={t} outside the log ({points[0][0]}..{points[-1][0]})")


def sent_series(case):
    """(wall_time, messages sent so far) from the publisher's log."""
    rows = [line.split() for line in (case / "truth.log").read_text().splitlines() if line]
    return [(float(t), int(n)) for t, n in rows]


def true_rate(points, a, b):
    """Messages sent per second over [a, b] (a clamped to the log's start)."""
    a = max(a, points[0][0])
    return (interpolate(points, b) - interpolate(points, a)) / (b - a)


def hz_readings(case, t0, t1):
    """(wall_time, rate) of the `ros2 topic hz` readings printed within [t0, t1]."""
    out = []
    for line in (case / "hz.log").read_text().splitlines():
        m = re.match(r"([0-9.]+) average rate: ([0-9.]+)", line)
        if m and t0 <= float(m.group(1)) <= t1:
            out.append((float(m.group(1)), float(m.group(2))))
    return out


def prom_readings(case):
    path = case / "prom_rate.tsv"
    if not path.exists():
        return []
    return [(float(t), float(v)) for t, v in
            (l.split() for l in path.read_text().splitlines() if l.strip()) if v != "nan"]


def prom_value(case, which, name, **labels):
    path = case / f"prom{which}.txt"
    if not path.exists():
        return None
    total, found = 0.0, False
    for line in path.read_text().splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.split()[-1])
            found = True
    return total if found else None


def fmt(x, spec):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def err_pct(value, true):
    return 100.0 * (value - true) / true


RATE_WINDOW = 10.0  # seconds: the collector's rate window; `ros2 topic hz -w RATE*10`

BACKEND = {"r2r": "collector (r2r, rcl/Cyclone)", "rc": "collector (ros2-client/RustDDS)",
           "rclpy": "bare rclpy subscriber"}


def main():
    work = Path(sys.argv[1])
    cases = sorted((p for p in work.iterdir() if (p / "case.env").exists()),
                   key=lambda p: int(load_env(p / "case.env")["order"]))
    rate_rows, load_rows, hz_cpu, coll_cpu, split_rows = [], [], {}, {}, []
    for case in cases:
        env = load_env(case / "case.env")
        c = cpu(case, env)
        if env["kind"] == "rate" and env["what"] == "camera" and (case / "threads1.tsv").exists():
            per = threads(case, env)
            for role, label in (("hz", "ros2 topic hz"), ("collector", BACKEND[env["backend"]])):
                total = c.get(role, (math.nan, 0))[0]
                receive = sum(p for comm, p in per.get(role, []) if RECEIVE_THREADS.match(comm))
                busiest = ", ".join(f"{comm} {p:.2f}" for comm, p in per.get(role, [])[:4] if p > 0)
                split_rows.append((env["name"], label, fmt(total, ".2f"), f"{receive:.2f}",
                                   fmt(total - receive, ".2f"), busiest))
        if env["kind"] == "rate":
            t0, t1 = float(env["t0"]), float(env["t1"])
            sent = sent_series(case)
            true = true_rate(sent, t0, t1)
            what = env["what"]
            for tool, readings, role in (
                ("ros2 topic hz", hz_readings(case, t0, t1), "hz"),
                (BACKEND[env["backend"]], prom_readings(case), "collector"),
            ):
                # Each reading against the true rate of the RATE_WINDOW seconds before it.
                errs = [err_pct(v, true_rate(sent, t - RATE_WINDOW, t)) for t, v in readings]
                mean = sum(v for _, v in readings) / len(readings) if readings else math.nan
                mean_err = sum(errs) / len(errs) if errs else math.nan
                worst = max((abs(e) for e in errs), default=math.nan)
                cpu_pct = c.get(role, (math.nan, 0))[0]
                rate_rows.append((what, env["name"], f"{true:.3f}", tool, len(readings),
                                  fmt(mean, ".3f"), fmt(mean_err, "+.3f"),
                                  fmt(worst, ".3f"), fmt(cpu_pct, ".1f"),
                                  fmt(c.get(role, (0, math.nan))[1], ".0f")))
                (hz_cpu if role == "hz" else coll_cpu).setdefault(what, []).append(
                    (env["backend"], cpu_pct, abs(mean_err), worst))
            received = None
            m0 = prom_value(case, 0, "vla_perf_topic_messages_total", topic=env["topic"])
            m1 = prom_value(case, 1, "vla_perf_topic_messages_total", topic=env["topic"])
            if m0 is not None and m1 is not None:
                s0, s1 = (float((case / f"prom{i}.t").read_text()) for i in (0, 1))
                received = (m1 - m0) / (s1 - s0)
                received = f"{received:.3f} msg/s ({100 * (received / true_rate(sent, s0, s1) - 1):+.3f}% vs sent)"
            extra = ", ".join(f"{r} {v[0]:.1f}%" for r, v in c.items()
                              if r not in ("hz", "collector"))
            rate_rows.append(("", "", "", f"  (collector received {fmt(received, 's')} over "
                              f"the window by its message counter; other processes: {extra})",
                              "", "", "", "", "", ""))
        else:
            role = "subscriber"
            c_sub = c.get(role, (math.nan, math.nan))
            done0 = prom_value(case, 0, "vla_perf_commands_total")
            done1 = prom_value(case, 1, "vla_perf_commands_total")
            measured = fmt(done1 - done0 if done0 is not None and done1 is not None else None,
                           ".0f")
            cam = prom_value(case, 1, "vla_perf_topic_rate_hz", topic="/camera/image_raw")
            t0, t1 = float(env["t0"]), float(env["t1"])
            spoken = sum(1 for line in (case / "speaker.log").read_text().splitlines()
                         if " spoken " in line and t0 <= float(line.split()[0]) <= t1)
            others = ", ".join(f"{r} {v[0]:.1f}%" for r, v in c.items() if r != role)
            load_rows.append((BACKEND[env["backend"]], fmt(c_sub[0], ".1f"),
                              fmt(c_sub[1], ".0f"), measured, spoken, fmt(cam, ".2f"), others))

    seconds = None
    for case in cases:
        env = load_env(case / "case.env")
        seconds = float(env["t1"]) - float(env["t0"])
    print()
    print(f"== 1. Rate accuracy and CPU, side by side ({seconds:.0f} s measured per case; CPU ="
          " utime+stime over it, % of one core)")
    print("   true Hz: the publisher's own count over the window; n: readings (one a second);"
          " err %: mean of each\n   reading's error vs the true rate of the 10 s before it;"
          " worst %: largest |error| of one reading")
    head = ("topic", "case", "true Hz", "tool", "n", "rate Hz", "err %", "worst %", "CPU %",
            "RSS MiB")
    table(head, rate_rows)
    print()
    print("== 2. CPU at the typical VLA load with camera (SIMULATED stack: camera 30 Hz "
          "640x480 rgb8, vision, commands every 3 s)")
    table(("subscriber", "CPU %", "RSS MiB", "commands finished", "spoken", "camera Hz",
           "others (CPU %)"), load_rows)
    print()
    print("== 3. Ratios: collector CPU / `ros2 topic hz` CPU (goal <= 0.2 at the same accuracy)")
    ratio_rows = []
    hz_mean = {}
    for what, runs in hz_cpu.items():
        vals = [r[1] for r in runs if not math.isnan(r[1])]
        hz_mean[what] = sum(vals) / len(vals) if vals else math.nan
    for what, runs in coll_cpu.items():
        for backend, cpu_pct, err, worst in runs:
            hz_run = next(r for r in hz_cpu[what] if r[0] == backend)
            ratio = cpu_pct / hz_run[1] if hz_run[1] else math.nan
            same = err <= max(hz_run[2], 0.5)
            verdict = "met" if ratio <= 0.2 and same else "NOT met"
            ratio_rows.append((what, BACKEND[backend], fmt(cpu_pct, ".1f"),
                               fmt(hz_run[1], ".1f"), fmt(ratio, ".2f"),
                               f"{err:.3f} vs {hz_run[2]:.3f}", verdict))
    cam_hz = hz_mean.get("camera", math.nan)
    for row, env_backend in ((r, r[0]) for r in load_rows):
        if env_backend.startswith("bare"):
            continue
        c_pct = float(row[1]) if row[1] != "n/a" else math.nan
        ratio = c_pct / cam_hz if cam_hz else math.nan
        ratio_rows.append(("VLA load (vs hz on camera)", env_backend, row[1],
                           fmt(cam_hz, ".1f"), fmt(ratio, ".2f"), "-",
                           "met" if ratio <= 0.2 else "NOT met"))
    table(("topic", "collector", "collector CPU %", "hz CPU %", "ratio",
           "|mean err| % coll vs hz", "goal"), ratio_rows)
    print()
    print("== 4. Camera cases per thread (% of one core): the middleware's receive thread "
          "(Cyclone recvUC/recvMC,\n   RustDDS's participant loop) against everything else")
    table(("case", "tool", "total", "receive thread", "rest", "busiest threads"), split_rows)


def table(head, rows):
    plain = [r for r in rows if not (r[0] == "" and r[1] == "")]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *plain)]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(head, widths))
    print(line)
    print("-" * len(line))
    for row in rows:
        if row[0] == "" and row[1] == "":
            print("  ".join(str(x) for x in row if x != ""))
            continue
        print("  ".join(f"{str(x):<{w}}" for x, w in zip(row, widths)))


if __name__ == "__main__":
    main()
