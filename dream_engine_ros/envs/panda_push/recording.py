"""Episodes of the pushing scene as rosbag2 MCAP recordings, the way a robot would log them: PNG frames
on /camera/image_raw and the hand's velocity command as geometry_msgs/Twist on /cmd_vel (linear.x,
linear.y; the rest zero), both at 10 Hz. Train on them with
`--action-topic /cmd_vel --action-fields linear.x,linear.y` (`ACTION_FIELDS`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dream_engine_ros.augment import teleop_bag
from dream_engine_ros.augment.typestore import ros2_typestore
from dream_engine_ros.envs.panda_push.episodes import Episode
from dream_engine_ros.envs.panda_push.scene import FPS

CAMERA_TOPIC = "/camera/image_raw"
ACTION_TOPIC = "/cmd_vel"
ACTION_FIELDS = "linear.x,linear.y"
FRAME_ID = "panda_push_camera"


def twist_message(values: np.ndarray, ns: int) -> tuple[str, Any]:
    """(vx, vy) m/s as a Twist (no header: the reader stamps it with the bag's log time)."""
    types = ros2_typestore().types
    linear = types["geometry_msgs/msg/Vector3"](x=float(values[0]), y=float(values[1]), z=0.0)
    angular = types["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0)
    return "geometry_msgs/msg/Twist", types["geometry_msgs/msg/Twist"](linear=linear, angular=angular)


def write_episode_bag(path: Path, episode: Episode) -> Path:
    return teleop_bag.write_teleop_bag(path, episode.frames, episode.actions, twist_message,
                                       camera_topic=CAMERA_TOPIC, action_topic=ACTION_TOPIC, frame_id=FRAME_ID,
                                       compressed=True, fps=FPS)
