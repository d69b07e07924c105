#!/usr/bin/python3
"""Load and ground-truth nodes of benches/ros2_tools.sh (rclpy, Debian's python3).

  helpers.py publish --topic T --rate HZ --log FILE [--size CHARS | --image W H]
      std_msgs/String (reliable, depth 100), or with --image a sensor_msgs/Image rgb8 WxH
      (sensor-data QoS, header stamped at send), at HZ from a deadline loop (late messages
      are sent at once to catch up, so the mean rate holds). Every 0.25 s it appends
      "WALL_TIME MESSAGES_SENT" to FILE: the true send rate over any interval.
  helpers.py speak [--period S]
      Speaks a SIMULATED command to the stack every S seconds (default 3, as `vla-perf demo`):
      audio_common_msgs/AudioStamped on /audio/utterance, reliable, text convention of
      src/sim/speech.rs (info.format = -1, UTF-8 text in audio_data.uint8_data); prints
      "WALL_TIME spoken N" per command.

Every mode stops on SIGINT or SIGTERM.
"""
import argparse
import signal
import time

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions

RUNNING = True


def stop(*_):
    global RUNNING
    RUNNING = False


def node(name):
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    return rclpy.create_node(name)


def publish(args):
    n = node("bench_publisher")
    if args.image:
        # A camera as the SIMULATED one publishes it (src/sim/nodes.rs): rgb8, sensor data QoS.
        import array

        from sensor_msgs.msg import Image

        width, height = args.image
        msg = Image(width=width, height=height, encoding="rgb8", step=3 * width)
        msg.header.frame_id = "bench_camera"
        msg.data = array.array("B", bytes(range(256)) * (3 * width * height // 256 + 1))[
            : 3 * width * height]
        pub = n.create_publisher(Image, args.topic, qos_profile_sensor_data)
    else:
        from std_msgs.msg import String

        msg = String(data="x" * args.size)
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        pub = n.create_publisher(String, args.topic, qos)
    clock = n.get_clock()
    period = 1.0 / args.rate
    sent = 0
    with open(args.log, "w", encoding="ascii") as log:
        deadline = next_log = time.monotonic()
        while RUNNING:
            if args.image:
                msg.header.stamp = clock.now().to_msg()
            pub.publish(msg)
            sent += 1
            now = time.monotonic()
            if now >= next_log:
                log.write(f"{time.time():.6f} {sent}\n")
                log.flush()
                next_log += 0.25
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.1:
                deadline = time.monotonic()  # far behind: resynchronise instead of bursting
        log.write(f"{time.time():.6f} {sent}\n")


COMMANDS = [  # the demo's commands (src/demo.rs)
    "pick up the red cup",
    "go to the kitchen",
    "open the drawer",
    "place the blue box on the table",
    "look at the green ball",
    "close the door",
]


def speak(args):
    from audio_common_msgs.msg import AudioStamped

    n = node("bench_speaker")
    pub = n.create_publisher(AudioStamped, "/audio/utterance",
                             QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    spoken = 0
    next_at = time.monotonic() + 2.0  # let discovery settle, as the demo does
    while RUNNING:
        if time.monotonic() < next_at:
            time.sleep(min(0.1, next_at - time.monotonic()))
            continue
        text = f"[b{spoken}] {COMMANDS[spoken % len(COMMANDS)]}".encode()
        msg = AudioStamped()
        msg.header.stamp = n.get_clock().now().to_msg()
        msg.header.frame_id = "bench_microphone"
        msg.audio.audio_data.uint8_data = text
        msg.audio.info.format = -1
        msg.audio.info.channels = 1
        msg.audio.info.chunk = len(text)
        pub.publish(msg)
        spoken += 1
        print(f"{time.time():.6f} spoken {spoken}", flush=True)
        next_at += args.period


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("publish")
    p.add_argument("--topic", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--size", type=int, default=16, help="String payload characters")
    p.add_argument("--image", type=int, nargs=2, metavar=("W", "H"),
                   help="publish rgb8 images of W x H pixels instead of strings")
    p.add_argument("--log", required=True)
    p.set_defaults(run=publish)
    s = sub.add_parser("speak")
    s.add_argument("--period", type=float, default=3.0)
    s.set_defaults(run=speak)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
