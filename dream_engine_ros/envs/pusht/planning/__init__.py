"""Planning on PushT: goal cost, tasks, the simulator as robot, MPC loop and scorers."""
