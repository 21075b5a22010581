"""PushT ROS nodes: the simulated robot, the MPC planner and their demo."""
