"""dream_engine_ros: action-conditioned video world models served on ROS 2."""

__version__ = "0.1.0"
