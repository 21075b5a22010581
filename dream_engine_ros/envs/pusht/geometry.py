"""PushT's world as gym-pusht builds and draws it: one home for its size, the T, the agent, walls, colours.

Every PushT module (the structured model, the readers, the simulator node, the planners)
takes these from here; the engine never sees them.
"""

from __future__ import annotations

import numpy as np

WORLD_SIZE = 512.0  # gym-pusht's workspace (world units); frames are this square resized
# The T in its body frame (gym-pusht `add_tee`, world units): bar and stem boxes, area centroid.
T_BOXES = ((-60.0, 60.0, 0.0, 30.0), (-15.0, 15.0, 30.0, 120.0))
T_CENTROID_LOCAL = np.array([0.0, (3600 * 15.0 + 2700 * 75.0) / 6300.0])
AGENT_RADIUS_WORLD = 15.0
WALLS_WORLD = (7.0, 504.0)  # gym-pusht's walls (segments at 5 and 506, radius 2): the T's outline stays inside
WALL_LINES_WORLD = (5.0, 506.0)  # the wall segments' centre lines

# gym-pusht's render colours (pygame named colours and the lighter fills pymunk draws): floor and
# walls, goal, T (fill, outline), agent (fill, outline). The agent's rim blended half-way into the
# floor is bluish-gray, nearer the T's fill than the agent's blue; these blends keep such rim pixels
# with the agent instead of making stray "T".
FLOOR_COLOURS = ((255, 255, 255), (233, 233, 233), (211, 211, 211), (248, 248, 248))
GOAL_COLOURS = ((144, 238, 144),)
BLOCK_COLOURS = ((143, 163, 184), (119, 136, 153))
AGENT_COLOURS = ((78, 126, 255), (65, 105, 225))
AGENT_RIM_COLOURS = ((166, 190, 255), (160, 180, 240))


def world_to_pixels(xy: np.ndarray, pixels: int) -> np.ndarray:
    """PushT world units -> pixel centres at `pixels` x `pixels` (as the frames are rendered)."""
    return np.asarray(xy, dtype=np.float64) * (pixels / WORLD_SIZE) - 0.5


def pixels_to_world(xy: np.ndarray, pixels: int) -> np.ndarray:
    return (np.asarray(xy, dtype=np.float64) + 0.5) * (WORLD_SIZE / pixels)
