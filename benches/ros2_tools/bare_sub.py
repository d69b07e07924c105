#!/usr/bin/python3
"""Bare rclpy subscriber for benches/ros2_tools.sh: the floor of receiving a topic in Python.

Usage: bare_sub.py TOPIC TYPE (e.g. /camera/image_raw sensor_msgs/msg/Image). Sensor-data
QoS (as `ros2 topic hz`); the callback does nothing. Stops on SIGINT or SIGTERM.
"""
import signal
import sys

import rclpy
from rclpy.qos import qos_profile_sensor_data
from rosidl_runtime_py.utilities import get_message

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
rclpy.init()
node = rclpy.create_node("bench_bare_subscriber")
node.create_subscription(get_message(sys.argv[2]), sys.argv[1], lambda msg: None,
                         qos_profile_sensor_data)
try:
    rclpy.spin(node)
except (KeyboardInterrupt, SystemExit):
    pass
