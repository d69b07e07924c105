#!/usr/bin/env python3
"""SIMULATED VLA stack on rclpy: a *test target* that the collector measures, nothing more.

The twin of stack_peer.py (same command line, plan format, topics, types, QoS, outcomes,
output and exit codes) written on rclpy, the standard ROS 2 Python client library, with the
real generated message classes (std_msgs, sensor_msgs, action_msgs, unique_identifier_msgs)
and whichever rmw the sourced ROS 2 installation selects (rmw_cyclonedds_cpp on Jazzy here).
It plays a sequential voice -> transcript -> plan -> vision -> action pipeline from a JSON
plan file and prints the wall time of every message it publishes: the ground truth the
collector's latencies are checked against. The sleeps below are the stack's simulated
processing time; there is no ASR, planner, camera or robot behind it.

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
vision image stamped with its voice stamp) plus two background publishers on timers, in a
thread of their own (README.md). Output: one JSON line per message,
`{"id": "c0", "stage": "plan", "t": wall_time_just_before_publish, "t_after": just_after}` (plus "status" for
plans and action statuses, "goal" for action statuses). Exit codes: 0 success, 1 error,
2 bad plan or usage, 3 timeout waiting for readers.

Unlike stack_peer.py it cannot set the DDS source timestamp of a write: rclpy's publish
takes none, so the rmw stamps the write itself a few tens of microseconds after the printed
time (the Python-to-C conversion and serialization in between; a message is built before
its time is read, to keep that gap small and alike for every stage).

Run it with the ROS 2 installation sourced, with the system Python the installation was
built for (`source /opt/ros/jazzy/setup.bash && /usr/bin/python3 rclpy_stack.py ...`), and
only inside a private network namespace with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST. See
README.md for the plan format.
"""
import argparse
import gc
import json
import os
import sys
import threading
import time
from pathlib import Path

from stack_plan import Background, IMAGE_SIZE, PlanError, load_plan, plan_topics, run_command

EXIT_ERROR, EXIT_TIMEOUT = 1, 3
# --unicast-only, as cyclone_peer.py does it: no multicast, unicast SPDP to the well-known
# ports of participant indices 0..20 on 127.0.0.1. Only meaningful with rmw_cyclonedds_cpp.
UNICAST_CONFIG = (
    "<CycloneDDS><Domain id=\"any\"><General><Interfaces><NetworkInterface name=\"lo\"/>"
    "</Interfaces><AllowMulticast>false</AllowMulticast></General>"
    "<Discovery><Peers><Peer address=\"127.0.0.1\"/></Peers>"
    "<ParticipantIndex>auto</ParticipantIndex>"
    "<MaxAutoParticipantIndex>20</MaxAutoParticipantIndex></Discovery></Domain></CycloneDDS>")


class StackError(Exception):
    """A failure with an exit code and a reason for stderr."""

    def __init__(self, reason: str, code: int = EXIT_ERROR):
        super().__init__(reason)
        self.code = code


def log(*parts):
    print("rclpy_stack:", *parts, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


def qos_profile(profile: str):
    """The QoS profiles of stack_peer.py: reliable + volatile keep-last 10, latched
    (reliable + transient-local keep-last 1, as an action server's status publisher), or
    best_effort (best-effort + volatile keep-last 5, ROS 2's sensor-data profile)."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    if profile == "best_effort":
        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                          reliability=ReliabilityPolicy.BEST_EFFORT,
                          durability=DurabilityPolicy.VOLATILE)
    latched = profile == "latched"
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=1 if latched else 10,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


class Stack:
    """The publishers of the simulated stack and the action server's goal table."""

    def __init__(self, domain: int, topics: dict, background: dict = None):
        import rclpy
        from action_msgs.msg import GoalStatusArray
        from sensor_msgs.msg import Image
        from std_msgs.msg import String
        types = {
            "std_msgs/msg/String": String,
            "sensor_msgs/msg/Image": Image,
            "action_msgs/msg/GoalStatusArray": GoalStatusArray,
        }
        every = {**topics, **(background or {})}
        if any(t == "audio_common_msgs/msg/AudioStamped" for _, t, _ in every.values()):
            # Only the discover layout needs it (mgonzs13's audio_common, in Jazzy).
            from audio_common_msgs.msg import AudioStamped
            types["audio_common_msgs/msg/AudioStamped"] = AudioStamped
        self.context = rclpy.context.Context()
        rclpy.init(args=["rclpy_stack"], context=self.context, domain_id=domain)
        self.node = rclpy.create_node("vla_stack_sim", context=self.context)
        self.publishers = {}
        # Background publishers exist before the wait, so a discovering reader sees them,
        # but the wait is for the stage topics only.
        self.stage_keys = list(topics)
        for key, (name, msg_type, qos) in every.items():
            publisher = self.node.create_publisher(types[msg_type], name, qos_profile(qos))
            self.publishers[key] = (name, publisher)
        self.goals = {}  # uuid -> [stamp (sec, nanosec), status], in acceptance order
        self.lock = threading.Lock()  # the background publishers publish from their own thread

    def wait_for_readers(self, readers: int, timeout: float, settle: float):
        deadline = time.monotonic() + timeout
        for key in self.stage_keys:
            name, publisher = self.publishers[key]
            while publisher.get_subscription_count() < readers:
                if time.monotonic() > deadline:
                    matched = publisher.get_subscription_count()
                    raise StackError(f"timeout: {name} has {matched}/{readers} readers after "
                                     f"{timeout}s", EXIT_TIMEOUT)
                time.sleep(0.01)
        # The publishers see the readers before the readers have necessarily seen them.
        time.sleep(settle)
        log(f"every topic has {readers}+ reader(s); starting")

    def publish(self, key: str, msg, stamp=None) -> float:
        """Publishes a message built beforehand; returns the wall time read just before
        (also its header stamp, if it has a header, unless `stamp` = (sec, nanosec) is
        given). The time is read inside the lock: waiting for a background publish is not
        part of it."""
        with self.lock:
            now_ns = time.time_ns()
            if hasattr(msg, "header"):
                msg.header.stamp.sec, msg.header.stamp.nanosec = (
                    stamp if stamp is not None else divmod(now_ns, 1_000_000_000))
            self.publishers[key][1].publish(msg)
        return now_ns / 1e9

    def string(self, key: str, text: str) -> float:
        from std_msgs.msg import String
        return self.publish(key, String(data=text))

    def image(self, frame: str, key: str = "vision", stamp=None) -> float:
        from sensor_msgs.msg import Image
        n = IMAGE_SIZE * IMAGE_SIZE * 3
        # The rgb8 test pattern of cyclone_peer.py: byte k of message 0 is k % 256.
        msg = Image(height=IMAGE_SIZE, width=IMAGE_SIZE, encoding="rgb8", is_bigendian=0,
                    step=IMAGE_SIZE * 3, data=bytes(k % 256 for k in range(n)))
        msg.header.frame_id = frame
        return self.publish(key, msg, stamp)

    def audio(self, key: str):
        """stack_peer.py's AudioStamped (4 int16 samples, 16 kHz mono, format 8 = pyaudio's
        paInt16); returns the wall time just before the publish and the header stamp it got,
        (sec, nanosec)."""
        from audio_common_msgs.msg import AudioStamped
        msg = AudioStamped()
        msg.header.frame_id = "mic"
        msg.audio.audio_data.int16_data = [0, 1000, -1000, 0]
        info = msg.audio.info
        info.format, info.channels, info.rate, info.chunk = 8, 1, 16000, 4
        t = self.publish(key, msg)
        return t, (msg.header.stamp.sec, msg.header.stamp.nanosec)

    def goal_status(self, uuid: bytes, status: int) -> float:
        """Sets one goal's status and publishes the whole table, as an action server does."""
        from action_msgs.msg import GoalInfo, GoalStatus, GoalStatusArray
        from builtin_interfaces.msg import Time
        from unique_identifier_msgs.msg import UUID
        if uuid not in self.goals:
            now = time.time()  # the goal's stamp is its acceptance time
            self.goals[uuid] = [(int(now), int(now % 1 * 1e9)), status]
        self.goals[uuid][1] = status
        array = GoalStatusArray(status_list=[
            GoalStatus(goal_info=GoalInfo(goal_id=UUID(uuid=list(u)),
                                          stamp=Time(sec=s[0], nanosec=s[1])),
                       status=st)
            for u, (s, st) in self.goals.items()])
        return self.publish("action", array)

    def finish(self, timeout: float, linger: float):
        from rclpy.duration import Duration
        for name, publisher in self.publishers.values():
            if not publisher.wait_for_all_acked(Duration(nanoseconds=int(timeout * 1e9))):
                log(f"warning: not every sample on {name} was acknowledged")
        time.sleep(linger)  # answer retransmits and late transient-local readers

    def close(self):
        import rclpy
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


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
                        help="no multicast: unicast discovery to 127.0.0.1 (rmw_cyclonedds_cpp)")
    # Accepted for stack_peer.py's command line; rclpy uses the installed message packages.
    parser.add_argument("--msg-dir", type=Path, help="ignored (stack_peer.py compatibility)")
    parser.add_argument("--msg-package", help="ignored (stack_peer.py compatibility)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    stack = background = None
    try:
        plan, commands = load_plan(args.plan)
        domain = args.domain if args.domain is not None else int(plan.get("domain", 0))
        layout = plan.get("layout", "default")
        topics, background_topics = plan_topics(plan)
        if args.unicast_only:  # before the first participant exists; keeps the user's URI
            user = os.environ.get("CYCLONEDDS_URI")
            os.environ["CYCLONEDDS_URI"] = f"{user},{UNICAST_CONFIG}" if user else UNICAST_CONFIG
        try:
            import rclpy  # noqa: F401  (a missing ROS 2 installation is an error, not usage)
        except ImportError as e:
            raise StackError(f"cannot import rclpy ({e}): source a ROS 2 installation and "
                             "run the system python3 it was built for")
        stack = Stack(domain, topics, background_topics)
        stack.wait_for_readers(args.readers, args.timeout, args.settle)
        # A collection between a send time and its publish would be charged to the system
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
            not_before = run_command(stack, c, run_start, not_before, log, emit,
                                     after_publish=True, layout=layout)
        if background is not None:
            background.stop()
            if background.error is not None:
                return EXIT_ERROR
            background = None
        stack.finish(args.timeout, args.linger)
        return 0
    except (StackError, PlanError) as e:
        log(e)
        return e.code
    except Exception as e:  # rclpy's RCLError and friends, bad values in the plan
        log(f"error: {type(e).__name__}: {e.args[0] if isinstance(e, KeyError) else e}")
        return EXIT_ERROR
    finally:
        if background is not None:  # before shutdown: it may still be publishing
            background.stop()
        if stack is not None:
            try:
                stack.close()
            except Exception as e:  # noqa: BLE001  (shutting down; the exit code stands)
                log(f"warning: shutting down rclpy: {e}")


if __name__ == "__main__":
    sys.exit(main())
