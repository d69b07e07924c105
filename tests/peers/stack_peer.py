#!/usr/bin/env python3
"""Simulated VLA stack on Cyclone DDS: the *test target* that the collector measures.

It is independent of the Rust code (Eclipse Cyclone DDS through the `cyclonedds` wheel,
types built at runtime from .msg text by rosmsg.py) and plays a sequential
voice -> transcript -> plan -> vision -> action pipeline from a JSON plan file, printing
the wall time of every message it publishes: the ground truth the collector's latencies are
checked against. The sleeps below are the stack's simulated processing time, nothing else.

Topics (a test config must match them; a plan may override any of them in "topics"):

| stage | topic | type | payload |
|---|---|---|---|
| voice | /vla/voice | std_msgs/String | the command text, plain |
| transcript | /vla/transcript | std_msgs/String | JSON {"text", "confidence"} |
| plan | /vla/plan | std_msgs/String | JSON {"command_id", "status", "steps"} |
| vision | /vla/detections | sensor_msgs/Image | 8x8 rgb8, header.stamp = send time |
| action_start, action_done | /vla/execute/_action/status | action_msgs/GoalStatusArray | every goal so far |

Action status is reliable + transient-local keep-last 1 (the ROS 2 action status QoS);
everything else reliable + volatile keep-last 10. A plan with "layout": "discover" uses the
other topics of stack_plan.TOPICS_DISCOVER (voice as audio_common_msgs/AudioStamped, the
vision image stamped with its voice stamp) plus two background publishers on timers
(README.md). Output: one JSON line per message,
`{"id": "c0", "stage": "plan", "t": wall_time_just_before_write}` (plus "status" for plans
and action statuses, "goal" for action statuses). Exit codes: 0 success, 1 error, 2 bad
plan or usage, 3 timeout waiting for readers. Run it only inside a private network
namespace (it is also pinned to `lo`). See README.md for the plan format.
"""
import argparse
import gc
import json
import sys
import threading
import time
from pathlib import Path

from cyclonedds.core import DDSException

import cyclone_peer
from cyclone_peer import EXIT_ERROR, EXIT_TIMEOUT, PeerError, configure_cyclone, dds_topic
from rosmsg import Registry
from stack_plan import Background, IMAGE_SIZE, PlanError, load_plan, plan_topics, run_command

# The voice message of the discover layout: a few int16 samples. AudioInfo.format 8 is
# pyaudio's paInt16.
AUDIO_SAMPLE = {
    "header": {"frame_id": "mic"},
    "audio": {"audio_data": {"int16_data": [0, 1000, -1000, 0]},
              "info": {"format": 8, "channels": 1, "rate": 16000, "chunk": 4}},
}


def log(*parts):
    print("stack_peer:", *parts, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


class Stack:
    """The writers of the simulated stack and the action server's goal table."""

    def __init__(self, registry: Registry, domain: int, topics: dict, background: dict = None):
        from cyclonedds.domain import DomainParticipant
        from cyclonedds.pub import DataWriter
        from cyclonedds.topic import Topic
        self.registry = registry
        self.participant = DomainParticipant(domain)
        self.writers = {}
        # Background writers exist before the wait, so a discovering reader sees them, but
        # the wait is for the stage topics only.
        self.stage_keys = list(topics)
        for key, (name, msg_type, qos) in {**topics, **(background or {})}.items():
            topic = Topic(self.participant, dds_topic(name), registry.idl_type(msg_type))
            writer = DataWriter(self.participant, topic, qos=cyclone_peer.make_qos(qos, None))
            self.writers[key] = (name, msg_type, writer)
        self.goals = {}  # uuid -> [stamp (sec, nanosec), status], in acceptance order
        self.lock = threading.Lock()  # the background publishers write from their own thread

    def wait_for_readers(self, readers: int, timeout: float, settle: float):
        deadline = time.monotonic() + timeout
        for key in self.stage_keys:
            name, _, writer = self.writers[key]
            while writer.get_publication_matched_status().current_count < readers:
                if time.monotonic() > deadline:
                    matched = writer.get_publication_matched_status().current_count
                    raise PeerError(f"timeout: {name} has {matched}/{readers} readers after "
                                    f"{timeout}s", EXIT_TIMEOUT)
                time.sleep(0.01)
        # The writers see the readers before the readers have necessarily seen the writers.
        time.sleep(settle)
        log(f"every topic has {readers}+ reader(s); starting")

    def publish(self, key: str, sample, stamp=None) -> float:
        """Writes `sample`; returns the wall time read just before. A header gets that time
        as its stamp, or `stamp` = (sec, nanosec) where given."""
        # The write's DDS source timestamp is set to the printed time, so the ground truth
        # is exactly when this stage "produced" its output, not a reading taken some
        # scheduler-dependent moment before Cyclone stamps the write itself. The time is
        # read inside the lock, so waiting for a background write is not part of it.
        with self.lock:
            now_ns = time.time_ns()
            now = now_ns / 1e9
            if hasattr(sample, "header"):
                sample.header.stamp.sec, sample.header.stamp.nanosec = (
                    stamp if stamp is not None else divmod(now_ns, 1_000_000_000))
            self.writers[key][2].write(sample, timestamp=now_ns)
        return now

    def string(self, key: str, text: str) -> float:
        return self.publish(key, self.registry.from_json("std_msgs/msg/String", {"data": text}))

    def image(self, frame: str, key: str = "vision", stamp=None) -> float:
        sample = self.registry.from_json("sensor_msgs/msg/Image", {"header": {"frame_id": frame}})
        cyclone_peer.fill_image(sample, f"{IMAGE_SIZE}x{IMAGE_SIZE}", 0)
        return self.publish(key, sample, stamp)

    def audio(self, key: str):
        """A short mgonzs13 AudioStamped (4 int16 samples, 16 kHz mono); returns the wall
        time just before the write and the header stamp it got, (sec, nanosec)."""
        sample = self.registry.from_json("audio_common_msgs/msg/AudioStamped", AUDIO_SAMPLE)
        t = self.publish(key, sample)
        return t, (sample.header.stamp.sec, sample.header.stamp.nanosec)

    def goal_status(self, uuid: bytes, status: int) -> float:
        """Sets one goal's status and publishes the whole table, as an action server does."""
        if uuid not in self.goals:
            now = time.time()  # the goal's stamp is its acceptance time
            self.goals[uuid] = [(int(now), int(now % 1 * 1e9)), status]
        self.goals[uuid][1] = status
        array = {"status_list": [
            {"goal_info": {"goal_id": {"uuid": list(u)},
                           "stamp": {"sec": s[0], "nanosec": s[1]}}, "status": st}
            for u, (s, st) in self.goals.items()]}
        return self.publish("action", self.registry.from_json(
            "action_msgs/msg/GoalStatusArray", array))

    def finish(self, timeout: float, linger: float):
        from cyclonedds.util import duration
        for name, _, writer in self.writers.values():
            if not writer.wait_for_acks(duration(seconds=timeout)):
                log(f"warning: not every sample on {name} was acknowledged")
        time.sleep(linger)  # answer retransmits and late transient-local readers


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plan", required=True, help="JSON plan file (see README.md)")
    parser.add_argument("--domain", type=int, help="DDS domain id (default: the plan's, else 0)")
    parser.add_argument("--readers", type=int, default=1,
                        help="readers every topic must match before starting (default 1)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for readers, and for acks at the end")
    parser.add_argument("--settle", type=float, default=0.5,
                        help="seconds to wait after the readers matched")
    parser.add_argument("--linger", type=float, default=1.0, help="seconds to stay up at the end")
    parser.add_argument("--unicast-only", action="store_true",
                        help="no multicast: unicast discovery to 127.0.0.1")
    parser.add_argument("--msg-dir", type=Path, default=cyclone_peer.DEFAULT_MSG_DIR)
    parser.add_argument("--msg-package", default="vla_perf")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    background = None
    try:
        plan, commands = load_plan(args.plan)
        domain = args.domain if args.domain is not None else int(plan.get("domain", 0))
        layout = plan.get("layout", "default")
        topics, background_topics = plan_topics(plan)
        registry = Registry(args.msg_dir, args.msg_package)
        configure_cyclone(args.unicast_only)
        stack = Stack(registry, domain, topics, background_topics)
        stack.wait_for_readers(args.readers, args.timeout, args.settle)
        # A collection between a send time and its write would be charged to the system
        # under test; the run allocates little, so collect once now and then not at all.
        gc.collect()
        gc.disable()
        if background_topics:  # from just before the first command to the end of the last
            background = Background(stack, background_topics, float(plan.get("period", 1.0)),
                                    log)
            background.start()
        run_start = not_before = time.monotonic()
        if background is not None:
            background.begin(run_start)
        for c in commands:
            not_before = run_command(stack, c, run_start, not_before, log, emit, layout=layout)
        if background is not None:
            background.stop()
            if background.error is not None:
                return EXIT_ERROR
            background = None
        stack.finish(args.timeout, args.linger)
        return 0
    except (PeerError, PlanError) as e:
        log(e)
        return e.code
    except (KeyError, ValueError, TypeError, OSError, DDSException) as e:
        log(f"error: {e.args[0] if isinstance(e, KeyError) else e}")
        return EXIT_ERROR
    finally:
        if background is not None:
            background.stop()


if __name__ == "__main__":
    sys.exit(main())
