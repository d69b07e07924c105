#!/usr/bin/env python3
"""Self-test: two cyclone_peer.py instances exchange every known type, both QoS kinds.

    python3 tests/peers/selftest_peer.py [--unicast-only] [--no-multicast]

Re-executes itself inside a private network namespace (`unshare -n`, needs root or
`unshare -rn`), so nothing leaves loopback. Each case publishes a template that sets
every field to a non-default value (NaN and infinities included) and checks that the
subscriber printed exactly what the publisher's generated sample holds.
"""
import argparse
import base64
import concurrent.futures
import json
import subprocess
import sys
from pathlib import Path

from rosmsg import FLOATS, OCTETS, PRIMITIVES, Registry

HERE = Path(__file__).resolve().parent
PEER = [sys.executable, str(HERE / "cyclone_peer.py")]
COUNT = 3


def rich_value(registry, base, depth, k):
    """A non-default value of `base`; floats cycle through specials so they are covered."""
    if base not in PRIMITIVES:
        return rich_template(registry, base, depth + 1)
    if base == "string":
        return f"s{k}-{{i}}-\u00e9"
    if base in FLOATS:
        return ["nan", "inf", "-inf", 1.5, -0.25][k % 5]
    if base == "bool":
        return True
    return 1 + k % 100


def rich_template(registry, name, depth=0):
    out = {}
    for k, f in enumerate(registry.spec(name).fields):
        if f.kind == "scalar":
            out[f.name] = rich_value(registry, f.base, depth, k)
        else:
            n = f.length if f.kind == "array" else (0 if depth > 2 else 2)
            if f.base in OCTETS:
                out[f.name] = [(7 * j + k) % 256 for j in range(n)]
            else:
                out[f.name] = [rich_value(registry, f.base, depth, k + j) for j in range(n)]
    return out


def run_case(registry, type_name, qos, domain, extra):
    topic = f"/selftest/{type_name.replace('/', '_')}"
    common = ["--domain", str(domain), "--topic", topic, "--type", type_name, "--qos", qos,
              "--count", str(COUNT), "--timeout", "20"] + extra
    image = type_name == "sensor_msgs/msg/Image"
    template = {} if image else rich_template(registry, type_name)
    sub = subprocess.Popen(PEER + ["subscribe"] + common + ["--bytes", "base64"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pub_args = ["--rate", "20", "--wait-subscribers", "1", "--json", json.dumps(template)]
    if image:
        pub_args += ["--image", "640x480", "--stamp", "now"]
    pub = subprocess.run(PEER + ["publish"] + common + pub_args, capture_output=True, text=True)
    out, err = sub.communicate(timeout=60)
    problems = []
    if pub.returncode or sub.returncode:
        problems.append(f"rc pub={pub.returncode} sub={sub.returncode}: {pub.stderr} {err}")
    got = [json.loads(line) for line in out.splitlines()]
    sent = [json.loads(line) for line in pub.stdout.splitlines()]
    if len(got) != COUNT:
        problems.append(f"received {len(got)}/{COUNT}")
    expected = [] if image else [expected_for(registry, type_name, template, j) for j in range(COUNT)]
    for line in got:
        msg = line["msg"]
        if image:  # the stamp tells which message this is, hence which pattern it holds
            i = next((s["i"] for s in sent if s["stamp"] == stamp_json(msg)), -1)
            pattern = bytes((k + i) % 256 for k in range(640 * 480 * 3))
            ok = (msg["width"], msg["height"], msg["step"], msg["encoding"]) == (640, 480, 1920, "rgb8") \
                and base64.b64decode(msg["data"]) == pattern
        else:
            ok = msg in expected
        if not ok:
            problems.append(f"sample differs: {json.dumps(msg)[:300]}")
    return problems


def stamp_json(msg):
    header = msg.get("header")
    return [header["stamp"]["sec"], header["stamp"]["nanosec"]] if header else None


def expected_for(registry, type_name, template, i):
    sample = registry.from_json(type_name, template, i)
    return registry.to_json(type_name, sample, "base64")


def inside(args):
    setup = ["ip link set lo up"]
    if not args.no_multicast:
        setup += ["ip link set lo multicast on", "ip route add 224.0.0.0/4 dev lo"]
    for cmd in setup:
        subprocess.run(cmd.split(), check=True)
    registry = Registry(HERE.parents[1] / "msg")
    types = sorted(registry.texts)
    extra = ["--unicast-only"] if args.unicast_only else []
    cases = [(t, q) for t in types for q in ("reliable", "best_effort")]
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_case, registry, t, q, 10 + n, extra): (t, q)
                   for n, (t, q) in enumerate(cases)}
        for fut in concurrent.futures.as_completed(futures):
            t, q = futures[fut]
            problems = fut.result()
            failed += bool(problems)
            print(f"{'FAIL' if problems else 'ok  '} {t} {q}", *problems, sep="\n    " if problems else "")
    print(f"{len(cases) - failed}/{len(cases)} cases passed")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--unicast-only", action="store_true", help="pass --unicast-only to peers")
    parser.add_argument("--no-multicast", action="store_true", help="leave lo without multicast")
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return inside(args)
    return subprocess.run(["unshare", "-n"] + [sys.executable] + sys.argv + ["--inside"]).returncode


if __name__ == "__main__":
    sys.exit(main())
