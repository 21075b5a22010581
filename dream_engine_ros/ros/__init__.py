"""The thin ROS 2 face of the engine: lifecycle node, camera cache, action servers.

Modules here may import rclpy and ROS message packages; nothing under
``dream_engine_ros.engine`` may import anything from here.
"""
