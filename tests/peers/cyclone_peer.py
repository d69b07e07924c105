#!/usr/bin/env python3
"""Independent ROS 2 wire peer on Eclipse Cyclone DDS (the `cyclonedds` PyPI wheel).

Rust integration tests run it to prove that our pure-Rust ROS 2 backend interoperates
with a DDS implementation nobody here wrote. It speaks the ROS 2 conventions directly:
topic `/a/b` is DDS topic `rt/a/b`, `pkg/msg/T` is type `pkg::msg::dds_::T_`, data is
XCDR1 (CDR_LE). Types come from the .msg files at runtime (see rosmsg.py).

Output is JSON lines on stdout, diagnostics on stderr. Exit codes: 0 success, 1 error,
2 usage, 3 timeout (too few samples / subscribers). Run it only inside a private network
namespace: DDS traffic must never leave loopback (it is also pinned to `lo`).
See README.md for the full contract.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

from cyclonedds.core import DDSException

from rosmsg import Registry

EXIT_ERROR, EXIT_TIMEOUT = 1, 3
DEFAULT_MSG_DIR = Path(__file__).resolve().parents[2] / "msg"

# Pin Cyclone to loopback; never let it pick a real NIC even outside a namespace.
LOOPBACK_CONFIG = "<General><Interfaces><NetworkInterface name=\"lo\"/></Interfaces></General>"
# For a loopback without multicast: unicast SPDP to every auto participant index on 127.0.0.1.
UNICAST_CONFIG = (
    "<General><Interfaces><NetworkInterface name=\"lo\"/></Interfaces>"
    "<AllowMulticast>false</AllowMulticast></General>"
    "<Discovery><Peers><Peer address=\"127.0.0.1\"/></Peers>"
    "<ParticipantIndex>auto</ParticipantIndex>"
    "<MaxAutoParticipantIndex>20</MaxAutoParticipantIndex></Discovery>")


class PeerError(Exception):
    """A failure with an exit code and a reason for stderr."""

    def __init__(self, reason: str, code: int = EXIT_ERROR):
        super().__init__(reason)
        self.code = code


def log(*parts):
    print("cyclone_peer:", *parts, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj, allow_nan=False), flush=True)


def configure_cyclone(unicast_only: bool):
    """Must run before the first participant exists; appends to any user CYCLONEDDS_URI."""
    cfg = f"<CycloneDDS><Domain id=\"any\">{UNICAST_CONFIG if unicast_only else LOOPBACK_CONFIG}</Domain></CycloneDDS>"
    user = os.environ.get("CYCLONEDDS_URI")
    os.environ["CYCLONEDDS_URI"] = f"{user},{cfg}" if user else cfg


def make_qos(profile: str, depth):
    """ROS 2 QoS profiles; XCDR1 pinned explicitly as rmw does."""
    from cyclonedds.core import Policy, Qos
    from cyclonedds.util import duration
    defaults = {"reliable": 10, "best_effort": 5, "latched": 1}
    policies = [
        Policy.History.KeepLast(depth or defaults[profile]),
        Policy.DataRepresentation(use_cdrv0_representation=True),
        Policy.Durability.TransientLocal if profile == "latched" else Policy.Durability.Volatile,
        Policy.Reliability.BestEffort if profile == "best_effort"
        else Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100)),
    ]
    return Qos(*policies)


def dds_topic(name: str, raw: bool = False) -> str:
    if raw:  # e.g. ros_discovery_info, which ROS 2 does not prefix with rt/
        return name
    return "rt" + (name if name.startswith("/") else "/" + name)


def open_topic(args, registry):
    from cyclonedds.domain import DomainParticipant
    from cyclonedds.topic import Topic
    configure_cyclone(args.unicast_only)
    dtype = registry.idl_type(args.type)
    participant = DomainParticipant(args.domain)
    return participant, Topic(participant, dds_topic(args.topic, args.raw_topic), dtype)


def stamp_of(sample):
    header = getattr(sample, "header", None)
    stamp = getattr(header, "stamp", None)
    return [stamp.sec, stamp.nanosec] if stamp is not None else None


def fill_image(sample, size: str, index: int):
    """rgb8 test pattern: byte k of message i is (k + i) % 256, so receivers can verify it."""
    try:
        width, height = (int(x) for x in size.lower().split("x"))
    except ValueError:
        raise PeerError(f"--image wants WxH, got {size!r}", 2)
    n = width * height * 3
    pattern = bytes(range(256)) * (n // 256 + 2)
    sample.width, sample.height, sample.encoding = width, height, "rgb8"
    sample.is_bigendian, sample.step = 0, width * 3
    sample.data = pattern[index % 256:index % 256 + n]


def load_templates(args):
    if args.json_lines:
        with open(args.json_lines) as f:
            templates = [json.loads(line) for line in f if line.strip()]
        if not templates:
            raise PeerError(f"{args.json_lines} holds no JSON lines")
        return templates
    return [json.loads(args.json) if args.json else {}]


def cmd_publish(args, registry):
    from cyclonedds.pub import DataWriter
    from cyclonedds.util import duration
    templates = load_templates(args)
    count = args.count if args.count is not None else len(templates)
    full = registry.spec(args.type).name
    if args.image and full != "sensor_msgs/msg/Image":
        raise PeerError("--image needs --type sensor_msgs/msg/Image", 2)
    # Build the first sample before touching DDS so bad templates fail fast.
    registry.from_json(full, templates[0], 0)

    participant, topic = open_topic(args, registry)
    writer = DataWriter(participant, topic, qos=make_qos(args.qos, args.depth))
    if args.wait_subscribers:
        deadline = time.monotonic() + args.timeout
        while writer.get_publication_matched_status().current_count < args.wait_subscribers:
            if time.monotonic() > deadline:
                matched = writer.get_publication_matched_status().current_count
                raise PeerError(f"timeout: {matched}/{args.wait_subscribers} subscribers matched "
                                f"after {args.timeout}s", EXIT_TIMEOUT)
            time.sleep(0.01)
        # The writer sees the reader before the reader has necessarily seen the writer;
        # a best-effort sample sent in that gap is dropped, so give discovery a moment.
        time.sleep(args.settle)
        log(f"{args.wait_subscribers} subscriber(s) matched on {dds_topic(args.topic)}")

    start = time.monotonic()
    for i in range(count):
        if args.rate > 0:
            delay = start + i / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sample = registry.from_json(full, templates[i % len(templates)], i)
        if args.image:
            fill_image(sample, args.image, i)
        now = time.time()
        if args.stamp == "now" and hasattr(sample, "header"):
            sample.header.stamp.sec, sample.header.stamp.nanosec = int(now), int(now % 1 * 1e9)
        writer.write(sample)
        line = {"i": i, "t": now}
        if stamp_of(sample) is not None:
            line["stamp"] = stamp_of(sample)
        emit(line)

    if args.qos != "best_effort" and not writer.wait_for_acks(duration(seconds=args.timeout)):
        log("warning: not all samples acknowledged by reliable readers")
    time.sleep(args.linger)  # keep answering retransmits / late latched readers
    return 0


def cmd_subscribe(args, registry):
    from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState, WaitSet
    from cyclonedds.sub import DataReader
    from cyclonedds.util import duration
    full = registry.spec(args.type).name
    participant, topic = open_topic(args, registry)
    reader = DataReader(participant, topic, qos=make_qos(args.qos, args.depth))
    waitset = WaitSet(participant)
    waitset.attach(ReadCondition(reader, SampleState.Any | ViewState.Any | InstanceState.Any))
    log(f"subscribed to {dds_topic(args.topic)} as {registry.idl_type(full).__idl_typename__}")

    received, deadline = 0, time.monotonic() + args.timeout
    while args.count == 0 or received < args.count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        waitset.wait(duration(seconds=min(left, 0.5)))
        for sample in reader.take(N=64):
            now = time.time()
            if not sample.sample_info.valid_data:
                continue
            emit({"t": now, "msg": registry.to_json(full, sample, args.bytes)})
            received += 1
            if received == args.count:
                break
    if args.count and received < args.count:
        raise PeerError(f"timeout: received {received}/{args.count} samples in {args.timeout}s",
                        EXIT_TIMEOUT)
    return 0


def cmd_print_idl(type_name, registry):
    print(registry.describe(type_name))
    sample = registry.from_json(type_name, {})
    print(f"// default sample, XCDR1: {sample.serialize(use_version_2=False).hex()}")
    return 0


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--domain", type=int, default=0, help="DDS domain id")
    common.add_argument("--topic", required=True, help="ROS topic name, e.g. /vla_perf/alerts")
    common.add_argument("--type", required=True, help="ROS type, e.g. vla_perf/msg/Alert")
    common.add_argument("--raw-topic", action="store_true",
                        help="use --topic verbatim as the DDS topic name (no rt/ prefix)")
    common.add_argument("--qos", choices=["reliable", "best_effort", "latched"], default="reliable")
    common.add_argument("--depth", type=int, help="keep-last depth (default 10/5/1 by --qos)")
    common.add_argument("--count", type=int, help="messages to send / receive")
    common.add_argument("--timeout", type=float, default=10.0, help="seconds")
    common.add_argument("--unicast-only", action="store_true",
                        help="no multicast: unicast discovery to 127.0.0.1")
    common.add_argument("--msg-dir", type=Path, default=argparse.SUPPRESS)
    common.add_argument("--msg-package", default=argparse.SUPPRESS)

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--print-idl", metavar="TYPE", help="print the generated type and exit")
    parser.add_argument("--msg-dir", type=Path, default=DEFAULT_MSG_DIR,
                        help=f"directory of the package's .msg files (default {DEFAULT_MSG_DIR})")
    parser.add_argument("--msg-package", default="vla_perf", help="package name of --msg-dir")
    sub = parser.add_subparsers(dest="command")

    pub = sub.add_parser("publish", parents=[common], help="publish N messages")
    src = pub.add_mutually_exclusive_group()
    src.add_argument("--json", help="JSON template of one message")
    src.add_argument("--json-lines", help="file of templates, one per line, used in turn")
    pub.add_argument("--rate", type=float, default=10.0, help="Hz; 0 = as fast as possible")
    pub.add_argument("--wait-subscribers", type=int, default=0, metavar="K")
    pub.add_argument("--settle", type=float, default=0.5,
                     help="seconds to wait after K subscribers matched")
    pub.add_argument("--stamp", choices=["now", "template"], default="template")
    pub.add_argument("--image", metavar="WxH", help="fill a sensor_msgs/Image rgb8 payload")
    pub.add_argument("--linger", type=float, default=1.0, help="seconds to stay up at the end")

    subs = sub.add_parser("subscribe", parents=[common], help="print received messages")
    subs.add_argument("--bytes", choices=["list", "base64", "summary"], default="list",
                      help="how uint8[]/byte[] fields are printed")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        registry = Registry(args.msg_dir, args.msg_package)
        if args.print_idl:
            return cmd_print_idl(args.print_idl, registry)
        if args.command is None:
            parser.error("give a command (publish, subscribe) or --print-idl TYPE")
        if args.command == "publish":
            if args.count is None and not args.json_lines:
                parser.error("publish needs --count (or --json-lines)")
            return cmd_publish(args, registry)
        if args.count is None:
            parser.error("subscribe needs --count (0 = until --timeout)")
        return cmd_subscribe(args, registry)
    except PeerError as e:
        log(e)
        return e.code
    except (KeyError, ValueError, TypeError, OSError, DDSException) as e:
        log(f"error: {e.args[0] if isinstance(e, KeyError) else e}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
