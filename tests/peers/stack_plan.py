"""The plan of the SIMULATED test stacks (stack_peer.py on Cyclone DDS, rclpy_stack.py on
rclpy): topics, stages per outcome, goal ids and the plan file's checks, shared by both.

Pure Python, no DDS: each stack imports it and adds its own middleware. A stack object
offers string(key, text), image(frame, key="vision", stamp=None), audio(key) -> (t, stamp),
goal_status(uuid, status); each returns the wall time read just before its write.
"""
import hashlib
import json
import threading
import time
from pathlib import Path


class PlanError(Exception):
    """A bad plan or usage: an exit code and a reason for stderr."""

    def __init__(self, reason: str, code: int = 2):
        super().__init__(reason)
        self.code = code


EXIT_USAGE = 2
STAGES = ("voice", "transcript", "plan", "vision", "action_start", "action_done")
# Stages each outcome publishes; the plan of a rejected command says "rejected".
REACHED = {
    "succeeded": STAGES,
    "aborted": STAGES,
    "rejected": STAGES[:3],
    "lost": STAGES[:3],
}
TOPICS = {
    "voice": ("/vla/voice", "std_msgs/msg/String", "reliable"),
    "transcript": ("/vla/transcript", "std_msgs/msg/String", "reliable"),
    "plan": ("/vla/plan", "std_msgs/msg/String", "reliable"),
    "vision": ("/vla/detections", "sensor_msgs/msg/Image", "reliable"),
    "action": ("/vla/execute/_action/status", "action_msgs/msg/GoalStatusArray", "latched"),
}
# The plan's "layout": which topics and payloads the stages use. "default" is the layout
# above; "discover" is the target of `vla-perf discover` (which infers the pipeline from the
# traffic): other names and types, the command id nested as task.uid in the plan, the
# vision image stamped with its command's voice stamp, plus BACKGROUND topics that carry no
# command at all.
TOPICS_DISCOVER = {
    "voice": ("/robot/mic/utterance", "audio_common_msgs/msg/AudioStamped", "reliable"),
    "transcript": ("/robot/stt/text", "std_msgs/msg/String", "reliable"),
    "plan": ("/robot/llm/plan", "std_msgs/msg/String", "reliable"),
    "vision": ("/robot/perception/annotated", "sensor_msgs/msg/Image", "reliable"),
    "action": ("/robot/do_task/_action/status", "action_msgs/msg/GoalStatusArray", "latched"),
}
TOPICS_BY_LAYOUT = {"default": TOPICS, "discover": TOPICS_DISCOVER}
# Publishers on fixed timers for the whole run, independent of the commands (discover only):
# a distractor at the commands' average rate and a 10 Hz camera (sensor-data QoS).
BACKGROUND_BY_LAYOUT = {
    "default": {},
    "discover": {
        "battery": ("/robot/battery", "std_msgs/msg/String", "reliable"),
        "camera": ("/robot/camera/image_raw", "sensor_msgs/msg/Image", "best_effort"),
    },
}
CAMERA_PERIOD = 0.1
STATUS_EXECUTING, STATUS_SUCCEEDED, STATUS_ABORTED = 2, 4, 6
IMAGE_SIZE = 8


def goal_uuid(command_id: str) -> bytes:
    """Goal ids derived from the command id, so a test can recompute them."""
    return hashlib.sha256(command_id.encode()).digest()[:16]


def load_plan(path: str):
    """Reads and checks the plan; returns (plan dict, commands with absolute offsets)."""
    try:
        plan = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise PlanError(f"cannot read plan {path}: {e}", EXIT_USAGE)
    if not isinstance(plan, dict) or not isinstance(plan.get("commands"), list):
        raise PlanError("plan must be an object with a list `commands`", EXIT_USAGE)
    unknown = set(plan) - {"domain", "commands", "period", "topics", "layout"}
    if unknown:
        raise PlanError(f"plan has unknown key(s) {sorted(unknown)}", EXIT_USAGE)
    layout = plan.get("layout", "default")
    if not isinstance(layout, str) or layout not in TOPICS_BY_LAYOUT:
        raise PlanError(f"layout: {layout!r} is not one of {sorted(TOPICS_BY_LAYOUT)}",
                        EXIT_USAGE)
    period = float(plan.get("period", 1.0))
    if BACKGROUND_BY_LAYOUT[layout] and not period > 0:
        raise PlanError(f"period: must be > 0 with layout {layout!r} (the battery timer's "
                        "period)", EXIT_USAGE)
    for name in plan.get("topics", {}):
        if name not in TOPICS:
            raise PlanError(f"topics.{name}: not one of {sorted(TOPICS)}", EXIT_USAGE)
    commands, seen = [], set()
    for i, c in enumerate(plan["commands"]):
        where = f"commands[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("id"), str) or not c["id"]:
            raise PlanError(f"{where}: needs a non-empty string `id`", EXIT_USAGE)
        if c["id"] in seen:
            raise PlanError(f"{where}: duplicate id {c['id']!r}", EXIT_USAGE)
        seen.add(c["id"])
        extra = set(c) - {"id", "start", "delays", "outcome", "text", "confidence", "steps"}
        if extra:
            raise PlanError(f"{where}: unknown key(s) {sorted(extra)}", EXIT_USAGE)
        outcome = c.get("outcome", "succeeded")
        if outcome not in REACHED:
            raise PlanError(f"{where}.outcome: {outcome!r} is not one of {sorted(REACHED)}",
                            EXIT_USAGE)
        delays = c.get("delays", {})
        bad = set(delays) - set(STAGES[1:])
        if bad:
            raise PlanError(f"{where}.delays: unknown stage(s) {sorted(bad)}", EXIT_USAGE)
        offsets, at = {}, float(c.get("start", i * period))
        for stage in REACHED[outcome]:
            if stage != "voice":
                if stage not in delays:
                    raise PlanError(f"{where}.delays.{stage}: missing (outcome {outcome})",
                                    EXIT_USAGE)
                if not float(delays[stage]) >= 0:
                    raise PlanError(f"{where}.delays.{stage}: must be >= 0", EXIT_USAGE)
                at += float(delays[stage])
            offsets[stage] = at
        commands.append({**c, "outcome": outcome, "offsets": offsets})
    commands.sort(key=lambda c: c["offsets"]["voice"])
    return plan, commands


def plan_topics(plan: dict):
    """The plan's stage topics {key: (name, type, qos)} with its `topics` renames applied,
    and its background topics (empty for the default layout)."""
    layout = plan.get("layout", "default")
    base = TOPICS_BY_LAYOUT[layout]
    topics = dict(base)
    for key, name in plan.get("topics", {}).items():
        topics[key] = (name, *base[key][1:])
    return topics, dict(BACKGROUND_BY_LAYOUT[layout])


class Background(threading.Thread):
    """The background publishers of a layout, on fixed timers from the run start (monotonic,
    given to begin()) until stop(): "battery", a JSON string every `period` from period/2
    on, and "camera", an image every CAMERA_PERIOD from CAMERA_PERIOD/2 on. A timer that
    falls behind skips the slots it missed. Prints nothing; a failed write is logged and
    kept in `error`. Start the thread before taking the run start (starting one can take
    milliseconds), then call begin(run_start)."""

    def __init__(self, stack, keys, period: float, log):
        super().__init__(name="background-publishers", daemon=True)
        self.stack, self.keys, self.period, self.log = stack, set(keys), period, log
        self.error, self.run_start = None, None
        self._go, self._halt = threading.Event(), threading.Event()
        self.sent = {key: 0 for key in self.keys}

    def begin(self, run_start: float):
        self.run_start = run_start
        self._go.set()

    def _publish(self, key: str):
        n = self.sent[key]
        if key == "battery":
            level = round(max(0.0, 100.0 - 0.1 * n), 3)
            self.stack.string("battery", json.dumps({"id": f"b{n}", "level": level}))
        else:
            self.stack.image("camera", key="camera")
        self.sent[key] = n + 1

    def run(self):
        while not self._go.wait(0.05):
            if self._halt.is_set():
                return
        timers = []  # [key, period, next monotonic time]
        if "battery" in self.keys:
            timers.append(["battery", self.period, self.run_start + self.period / 2])
        if "camera" in self.keys:
            timers.append(["camera", CAMERA_PERIOD, self.run_start + CAMERA_PERIOD / 2])
        try:
            while timers:
                timer = min(timers, key=lambda t: t[2])
                if self._halt.wait(max(0.0, timer[2] - time.monotonic())):
                    return
                self._publish(timer[0])
                timer[2] += timer[1]
                now = time.monotonic()
                if timer[2] <= now:  # fell behind: resume on the next slot of its grid
                    timer[2] += (int((now - timer[2]) / timer[1]) + 1) * timer[1]
        except Exception as e:  # noqa: BLE001  (reported by the main thread after stop())
            self.error = e
            self.log(f"error: background publisher: {type(e).__name__}: {e}")

    def stop(self):
        self._halt.set()
        self.join()


def run_command(stack, c: dict, run_start: float, not_before: float, log, emit,
                after_publish: bool = False, layout: str = "default") -> float:
    """Plays one command on `stack` (its string, image, audio and goal_status writers) in the
    plan's `layout`; returns the monotonic time its last message went out. `after_publish`
    adds "t_after", the wall time just after each publish call, for stacks that cannot set
    the write's source timestamp."""
    cid, outcome, offsets = c["id"], c["outcome"], c["offsets"]
    discover = layout == "discover"
    voice_stamp = None  # (sec, nanosec) of this command's voice header (discover layout)
    # Sequential pipeline: a command starts no earlier than the previous one ended.
    shift = max(0.0, not_before - (run_start + offsets["voice"]))
    if shift > 0.001:
        log(f"{cid} starts {shift:.3f}s late: the previous command was still running")
    uuid = goal_uuid(cid)
    text = c.get("text", f"command {cid}: pick up the red cup")
    last = not_before
    for stage in REACHED[outcome]:
        delay = run_start + offsets[stage] + shift - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        line = {"id": cid, "stage": stage}
        if stage == "voice" and discover:
            line["t"], voice_stamp = stack.audio("voice")
        elif stage == "voice":
            line["t"] = stack.string("voice", text)
        elif stage == "transcript":
            line["t"] = stack.string("transcript", json.dumps(
                {"text": text, "confidence": float(c.get("confidence", 0.9))}))
        elif stage == "plan":
            status = "rejected" if outcome == "rejected" else "accepted"
            steps = [] if status == "rejected" else c.get("steps", ["locate", "grasp", "place"])
            line["status"] = status
            body = ({"task": {"uid": cid}, "state": status, "steps": steps} if discover
                    else {"command_id": cid, "status": status, "steps": steps})
            line["t"] = stack.string("plan", json.dumps(body))
        elif stage == "vision" and discover:
            # The annotated image carries the stamp of the utterance it answers.
            line["t"] = stack.image(f"camera/{cid}", stamp=voice_stamp)
        elif stage == "vision":
            line["t"] = stack.image(f"camera/{cid}")
        else:
            status = (STATUS_EXECUTING if stage == "action_start"
                      else STATUS_ABORTED if outcome == "aborted" else STATUS_SUCCEEDED)
            line.update(status=status, goal=uuid.hex())
            line["t"] = stack.goal_status(uuid, status)
        if after_publish:
            # The middleware stamps the write inside the publish call: between "t" and this.
            line["t_after"] = time.time()
        last = time.monotonic()
        emit(line)
    return last
