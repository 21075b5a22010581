"""Environments as plug-ins: each folder holds everything one scene or robot needs (specs,
structured models, readers, costs, simulators, ROS nodes, training) and registers it by name.
Generic code never imports these folders; it finds what they registered (`engine.registry`)."""
