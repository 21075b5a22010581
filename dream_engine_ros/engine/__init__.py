"""Engine core: pure PyTorch, no ROS import anywhere below this package."""
