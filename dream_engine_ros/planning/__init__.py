"""Model-predictive control with any world model (no ROS import, no scene): sampling planners (CEM,
random shooting), the goal-cost registry, a goal-image scorer and the receding-horizon loop.
Scene-specific costs, robots and tasks live in their environment plug-ins (`envs/<scene>/planning/`)."""
