"""Data augmentation: perturbed-action rollouts from real recordings (rosbag2 MCAP/sqlite3, npz episodes).

A client of the engine (never imported by it): `recording` reads frames and actions matched on the
spec's fps grid, `perturb` draws reproducible action perturbations, `execution` rolls them out in-process
or on Ray actors, `writer` finalises one rosbag2 MCAP per sample atomically, `pipeline` ties them together
and `dream_engine_ros.cli.augment` registers `dream-engine augment`.
"""
