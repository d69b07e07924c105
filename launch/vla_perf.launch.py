"""Launch the vla_perf collector and alert node, and optionally the benchmark.

    ros2 launch vla_perf vla_perf.launch.py [config:=FILE] [alerts:=FILE]
        [namespace:=/vla_perf] [use_sim_time:=false] [benchmark:=false] [scenario:=FILE]

The collector measures the stack described by `config` and publishes on `namespace`
(/vla_perf/command_latency, metrics, topic_health, resources; /diagnostics); the alert
node evaluates the rules of `alerts` over those topics and publishes `namespace`/alerts;
with benchmark:=true the benchmark node drives the stack through `scenario`.
XML equivalent: vla_perf.launch.xml.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    share = FindPackageShare("vla_perf")
    config = LaunchConfiguration("config")
    alerts = LaunchConfiguration("alerts")
    namespace = LaunchConfiguration("namespace")
    scenario = LaunchConfiguration("scenario")
    use_sim_time = ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)

    arguments = [
        DeclareLaunchArgument(
            "config",
            default_value=PathJoinSubstitution([share, "config", "collector.yaml"]),
            description="Collector configuration (stages, topics, windows, SLO)",
        ),
        DeclareLaunchArgument(
            "alerts",
            default_value=PathJoinSubstitution([share, "config", "alerts.yaml"]),
            description="Alert rules and notification channels",
        ),
        DeclareLaunchArgument(
            "namespace",
            default_value="/vla_perf",
            description="Namespace of the vla_perf topics",
        ),
        DeclareLaunchArgument(
            "use_sim_time",
            default_value="false",
            description="Accepted for launch compatibility; latencies use the wall clock",
        ),
        DeclareLaunchArgument(
            "benchmark",
            default_value="false",
            description="Also run the benchmark node (true|false)",
        ),
        DeclareLaunchArgument(
            "scenario",
            default_value=PathJoinSubstitution([share, "config", "scenarios", "basic.yaml"]),
            description="Benchmark scenario (with benchmark:=true)",
        ),
    ]

    collector = Node(
        package="vla_perf",
        executable="collector",
        name="collector",
        output="screen",
        parameters=[{"config": config, "namespace": namespace, "use_sim_time": use_sim_time}],
    )
    alert_manager = Node(
        package="vla_perf",
        executable="alert_manager",
        name="alert_manager",
        output="screen",
        parameters=[{"config": alerts, "namespace": namespace, "use_sim_time": use_sim_time}],
    )
    benchmark = Node(
        package="vla_perf",
        executable="benchmark",
        name="benchmark",
        output="screen",
        condition=IfCondition(LaunchConfiguration("benchmark")),
        parameters=[{"scenario": scenario, "config": config, "use_sim_time": use_sim_time}],
    )
    return LaunchDescription(arguments + [collector, alert_manager, benchmark])
