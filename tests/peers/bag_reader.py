#!/usr/bin/env python3
"""Reads an MCAP file with the independent `rosbags` library and prints what it holds.

Usage: bag_reader.py FILE.mcap

Used by tests/analyze_bag.rs on the MCAP that `vla-perf analyze --mcap-out` writes: the
message types are built from the schemas stored in the file itself (ros2msg text with its
dependencies), not from any definition of ours, and every message is deserialized.

Output (JSON on stdout):
  {"topics": {"/vla_perf/command_latency": {"type": "vla_perf/msg/CommandLatency",
                                             "count": N}, ...},
   "commands": [{"command_id", "outcome", "end_to_end", "stages": {name: latency}}],
   "metric_names": [...],         names seen in /vla_perf/metrics
   "diagnostics": [...]}          status names seen in /diagnostics
Exit codes: 0 success, 1 a message could not be deserialized, 2 usage.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore


def number(v: float):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def main(argv) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    # An empty store: every type must come from the file's own schemas.
    typestore = get_typestore(Stores.EMPTY)
    out = {"topics": {}, "commands": [], "metric_names": [], "diagnostics": []}
    with Reader(Path(argv[1])) as reader:
        types = {}
        for conn in reader.connections:
            types.update(get_types_from_msg(conn.msgdef.data, conn.msgtype))
            out["topics"][conn.topic] = {"type": conn.msgtype, "count": 0}
        typestore.register(types)
        metric_names, diagnostics = set(), set()
        for conn, _, raw in reader.messages():
            try:
                msg = typestore.deserialize_cdr(raw, conn.msgtype)
            except Exception as e:  # noqa: BLE001 - any failure is the finding
                print(f"cannot deserialize a {conn.msgtype} on {conn.topic}: {e}",
                      file=sys.stderr)
                return 1
            out["topics"][conn.topic]["count"] += 1
            if conn.msgtype == "vla_perf/msg/CommandLatency":
                out["commands"].append({
                    "command_id": msg.command_id,
                    "outcome": int(msg.outcome),
                    "end_to_end": number(msg.end_to_end),
                    "stages": {s.stage: number(s.latency) for s in msg.stages},
                })
            elif conn.topic.endswith("/metrics"):
                metric_names.update(m.name for m in msg.metrics)
            elif conn.msgtype == "diagnostic_msgs/msg/DiagnosticArray":
                diagnostics.update(s.name for s in msg.status)
        out["metric_names"] = sorted(metric_names)
        out["diagnostics"] = sorted(diagnostics)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
