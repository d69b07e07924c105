"""The plan of the SIMULATED test stacks (stack_peer.py on Cyclone DDS, rclpy_stack.py on
rclpy): topics, stages per outcome, goal ids and the plan file's checks, shared by both.

Pure Python, no DDS: each stack imports it and adds its own middleware.
"""
import hashlib
import json
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
