"""The one rosbags type store (ROS 2 Kilted message definitions), built once per process.

Why cached: building it takes ~60 ms, more than writing a whole 13-frame sample bag.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def ros2_typestore() -> Any:
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)
