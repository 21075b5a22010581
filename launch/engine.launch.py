"""ros2 launch dream_engine_ros engine.launch.py [params_file:=...] [spec:=...] [weights:=...]
[device:=...] [camera_topic:=...] [namespace:=...]

Thin on purpose: it starts the same `dream_engine_node` executable that
`dream-engine node --params-file config/engine.yaml` runs (tested), passing the launch
arguments as parameter overrides and the camera remapping.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    default_params = os.path.join(get_package_share_directory("dream_engine_ros"), "config", "engine.yaml")
    arguments = [
        DeclareLaunchArgument("params_file", default_value=default_params, description="parameter YAML"),
        DeclareLaunchArgument("spec", default_value="pusht-structured", description="model spec name"),
        DeclareLaunchArgument("weights", default_value="", description="weights path ('' = spec default)"),
        DeclareLaunchArgument("device", default_value="auto", description="auto | cpu | cuda[:N]"),
        DeclareLaunchArgument("camera_topic", default_value="image", description="sensor_msgs/Image topic"),
        DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
    ]
    camera_topic = LaunchConfiguration("camera_topic")
    node = Node(
        package="dream_engine_ros",
        executable="dream_engine_node",
        name="dream_engine",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "spec": LaunchConfiguration("spec"),
                "weights": LaunchConfiguration("weights"),
                "device": LaunchConfiguration("device"),
            },
        ],
        remappings=[("image", camera_topic), ("image/compressed", [camera_topic, "/compressed"])],
    )
    return LaunchDescription([*arguments, node])
