"""One PyBullet world for the folder's tests (building it takes a fraction of a second; every reset
rebuilds its contents anyway)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dream_engine_ros.envs.panda_push.scene import PandaPushScene


@pytest.fixture(scope="session")
def panda_scene() -> Iterator[PandaPushScene]:
    with PandaPushScene() as scene:
        yield scene
