"""The plan of the SIMULATED test stacks (stack_peer.py on Cyclone DDS, rclpy_stack.py on
rclpy): topics, stages per outcome, goal ids and the plan file's checks, shared by both.

Pure Python, no DDS: each stack imports it and adds its own middleware.
"""
import hashlib
import json
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
    unknown = set(plan) - {"domain", "commands", "period", "topics"}
    if unknown:
        raise PlanError(f"plan has unknown key(s) {sorted(unknown)}", EXIT_USAGE)
    period = float(plan.get("period", 1.0))
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


def run_command(stack, c: dict, run_start: float, not_before: float, log, emit,
                after_publish: bool = False) -> float:
    """Plays one command on `stack` (its string, image and goal_status writers); returns the
    monotonic time its last message went out. `after_publish` adds "t_after", the wall time
    just after each publish call, for stacks that cannot set the write's source timestamp."""
    cid, outcome, offsets = c["id"], c["outcome"], c["offsets"]
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
        if stage == "voice":
            line["t"] = stack.string("voice", text)
        elif stage == "transcript":
            line["t"] = stack.string("transcript", json.dumps(
                {"text": text, "confidence": float(c.get("confidence", 0.9))}))
        elif stage == "plan":
            status = "rejected" if outcome == "rejected" else "accepted"
            steps = [] if status == "rejected" else c.get("steps", ["locate", "grasp", "place"])
            line["status"] = status
            line["t"] = stack.string("plan", json.dumps(
                {"command_id": cid, "status": status, "steps": steps}))
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
