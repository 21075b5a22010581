"""Model-predictive control over the Dream Engine (no ROS import): sampling planners (CEM,
random shooting), the PushT goal cost read from pixels, the simulator as a robot and as a
model, and the receding-horizon loop."""
