"""A second, 3-D scene: a Franka Panda pushing a cube on a table (PyBullet via panda-gym, CPU renderer).

Everything the scene needs outside a model: the simulator and camera, the scripted episodes (training and
held-out rules), rosbag2 recordings for `dream-engine train`, a pixel reader of the cube and the evaluation
of a trained model against copy-first-frame. No spec is registered: the model is whatever
`dream-engine train` makes from the recordings (docs/envs/panda_push.md).
"""
