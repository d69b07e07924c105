#!/usr/bin/env python3
"""Writes a rosbag2 recording of a simulated VLA stack with the independent `rosbags` library.

Usage: bag_writer.py PLAN.json OUT_DIR

The test target of tests/analyze_bag.rs: it plays the same sequential voice -> transcript ->
plan -> vision -> action pipeline as stack_peer.py, but instead of publishing on DDS it
writes every message straight into a rosbag2 directory (rosbags.rosbag2.Writer, MCAP or
sqlite3 storage) with a log time it chooses, and prints that time: the ground truth the
analysis must reproduce. No clock is read; times come from the plan.

Topics:

| stage | topic | type | payload |
|---|---|---|---|
| voice | /vla/voice | std_msgs/String | the command text, plain |
| transcript | /vla/transcript | std_msgs/String | JSON {"text", "confidence"} |
| plan | /vla/plan | std_msgs/String | JSON {"command_id", "status", "steps"} |
| vision | /vla/detections | sensor_msgs/Image | 8x8 rgb8, header.stamp = log time |
| action_start, action_done | /vla/execute/_action/status | action_msgs/GoalStatusArray | every goal so far |

Plan (JSON):
  {"storage": "mcap" | "sqlite3", "compress": false, "start_ns": N,
   "commands": [{"id": "c0", "at": 0.5, "outcome": "succeeded" | "aborted" | "rejected" |
                 "lost", "delays": {"transcript": 0.2, "plan": 0.8, ...}, "confidence": 0.9}],
   "streams": [{"topic": "/camera/image_raw", "type": "sensor_msgs/msg/Image",
                "rate": 10, "duration": 20, "width": 160, "height": 120}]}
`at` is seconds after start_ns; each delay is the time since the previous stage the command
reaches. Streams are extra topics written at a fixed rate (sensor_msgs/Image with a header
stamp equal to the log time and a width x height rgb8 payload, or any other type of the
store with default values).

Output: one JSON line per stage message on stdout,
  {"id": "c0", "stage": "plan", "t_ns": 1700000000812000000, "status": "accepted"}
then {"done": true, "messages": N}. Exit codes: 0 success, 2 bad plan or usage.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

STAGES = ("voice", "transcript", "plan", "vision", "action_start", "action_done")
REACHED = {
    "succeeded": STAGES,
    "aborted": STAGES,
    "rejected": STAGES[:3],
    "lost": STAGES[:3],
}
TOPICS = {
    "voice": ("/vla/voice", "std_msgs/msg/String"),
    "transcript": ("/vla/transcript", "std_msgs/msg/String"),
    "plan": ("/vla/plan", "std_msgs/msg/String"),
    "vision": ("/vla/detections", "sensor_msgs/msg/Image"),
    "action": ("/vla/execute/_action/status", "action_msgs/msg/GoalStatusArray"),
}
STATUS_EXECUTING, STATUS_SUCCEEDED, STATUS_ABORTED = 2, 4, 6


class PlanError(Exception):
    pass


def ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


def stamp(ts, t_ns: int):
    Time = ts.types["builtin_interfaces/msg/Time"]
    return Time(sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000)


def image(ts, t_ns: int, frame: str, width: int, height: int):
    Header = ts.types["std_msgs/msg/Header"]
    Image = ts.types["sensor_msgs/msg/Image"]
    data = np.full(width * height * 3, t_ns % 251, dtype=np.uint8)
    return Image(header=Header(stamp=stamp(ts, t_ns), frame_id=frame), height=height,
                 width=width, encoding="rgb8", is_bigendian=0, step=width * 3, data=data)


def default_message(ts, msgtype: str, t_ns: int):
    """A message of any store type with default field values (and a header stamp)."""
    cls = ts.types[msgtype]
    fields = {}
    for name, (kind, detail) in ts.fielddefs[msgtype][1]:
        fields[name] = default_value(ts, kind, detail, t_ns)
    if "header" in fields:
        fields["header"] = ts.types["std_msgs/msg/Header"](stamp=stamp(ts, t_ns), frame_id="x")
    return cls(**fields)


def default_value(ts, kind, detail, t_ns):
    from rosbags.typesys.base import Nodetype
    if kind == Nodetype.BASE:
        base = detail[0]
        return "" if base == "string" else (False if base == "bool" else 0)
    if kind == Nodetype.NAME:
        return default_message(ts, detail, t_ns)
    if kind == Nodetype.ARRAY:
        inner, size = detail
        if inner[0] == Nodetype.BASE and inner[1][0] != "string":
            return np.zeros(size, dtype=np.float64 if "float" in inner[1][0] else np.uint8)
        return [default_value(ts, inner[0], inner[1], t_ns) for _ in range(size)]
    return np.zeros(0, dtype=np.uint8) if kind == Nodetype.SEQUENCE else []


def load_plan(path: str) -> dict:
    plan = json.loads(Path(path).read_text())
    if plan.get("storage") not in ("mcap", "sqlite3"):
        raise PlanError("storage must be mcap or sqlite3")
    for i, c in enumerate(plan.get("commands", [])):
        if c.get("outcome") not in REACHED:
            raise PlanError(f"commands[{i}].outcome: one of {sorted(REACHED)}")
        for stage in REACHED[c["outcome"]][1:]:
            if not float(c.get("delays", {}).get(stage, -1)) >= 0:
                raise PlanError(f"commands[{i}].delays.{stage}: missing or negative")
    return plan


def main(argv) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        plan = load_plan(argv[1])
    except (PlanError, OSError, ValueError) as e:
        print(f"bad plan: {e}", file=sys.stderr)
        return 2
    ts = get_typestore(Stores.ROS2_HUMBLE)
    start = int(plan["start_ns"])
    # (log time ns, order, topic key, message, ground-truth line or None)
    records = []
    goals = {}  # uuid -> [stamp ns, status], in acceptance order
    order = 0
    String = ts.types["std_msgs/msg/String"]
    for c in plan.get("commands", []):
        cid, outcome = c["id"], c["outcome"]
        t = start + ns(float(c["at"]))
        text = c.get("text", f"command {cid}: pick up the red cup")
        uuid = hashlib.sha256(cid.encode()).digest()[:16]
        for stage in REACHED[outcome]:
            if stage != "voice":
                t += ns(float(c["delays"][stage]))
            line = {"id": cid, "stage": stage, "t_ns": t}
            if stage == "voice":
                key, msg = "voice", String(data=text)
            elif stage == "transcript":
                key, msg = "transcript", String(data=json.dumps(
                    {"text": text, "confidence": float(c.get("confidence", 0.9))}))
            elif stage == "plan":
                status = "rejected" if outcome == "rejected" else "accepted"
                line["status"] = status
                key, msg = "plan", String(data=json.dumps(
                    {"command_id": cid, "status": status,
                     "steps": [] if status == "rejected" else ["locate", "grasp", "place"]}))
            elif stage == "vision":
                key, msg = "vision", image(ts, t, f"camera/{cid}", 8, 8)
            else:
                status = (STATUS_EXECUTING if stage == "action_start"
                          else STATUS_ABORTED if outcome == "aborted" else STATUS_SUCCEEDED)
                goals.setdefault(uuid, [t, status])[1] = status
                line["status"] = status
                GoalStatusArray = ts.types["action_msgs/msg/GoalStatusArray"]
                GoalStatus = ts.types["action_msgs/msg/GoalStatus"]
                GoalInfo = ts.types["action_msgs/msg/GoalInfo"]
                UUID = ts.types["unique_identifier_msgs/msg/UUID"]
                key, msg = "action", GoalStatusArray(status_list=[
                    GoalStatus(goal_info=GoalInfo(
                        goal_id=UUID(uuid=np.frombuffer(u, dtype=np.uint8)),
                        stamp=stamp(ts, s)), status=st)
                    for u, (s, st) in goals.items()])
            records.append((t, order, key, msg, line))
            order += 1
    streams = plan.get("streams", [])
    for s in streams:
        period = 1.0 / float(s["rate"])
        count = int(float(s["duration"]) * float(s["rate"]))
        for i in range(count):
            t = start + ns(i * period)
            if s["type"] == "sensor_msgs/msg/Image":
                msg = image(ts, t, s["topic"], int(s.get("width", 16)), int(s.get("height", 16)))
            else:
                msg = default_message(ts, s["type"], t)
            records.append((t, order, s["topic"], msg, None))
            order += 1
    records.sort(key=lambda r: (r[0], r[1]))

    out = Path(argv[2])
    storage = StoragePlugin.MCAP if plan["storage"] == "mcap" else StoragePlugin.SQLITE3
    writer = Writer(out, version=9, storage_plugin=storage)
    if plan.get("compress"):
        writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    with writer:
        connections = {}
        for key, (topic, msgtype) in TOPICS.items():
            connections[key] = writer.add_connection(topic, msgtype, typestore=ts)
        for s in streams:
            connections[s["topic"]] = writer.add_connection(s["topic"], s["type"], typestore=ts)
        for t, _, key, msg, line in records:
            conn = connections[key]
            writer.write(conn, t, ts.serialize_cdr(msg, conn.msgtype))
            if line is not None:
                print(json.dumps(line))
    print(json.dumps({"done": True, "messages": len(records)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
