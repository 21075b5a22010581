"""What the bootstrap promises about the venv the tests run in."""

from __future__ import annotations

import importlib.metadata

import cv2


def test_one_opencv_distribution_owns_cv2() -> None:
    """Two OpenCV wheels (gym-pusht pulls opencv-python; headless used to be installed too) write
    the same cv2/ files, and which version loads then depends on install order."""
    owners = sorted(set(importlib.metadata.packages_distributions().get("cv2", [])))
    assert owners == ["opencv-python"]
    assert cv2.__version__ == importlib.metadata.version("opencv-python").rsplit(".", 1)[0]


def test_this_package_declares_its_plugins() -> None:
    names = {entry.name for entry in importlib.metadata.entry_points(group="dream_engine_ros.plugins")}
    assert names == {"model-folder", "rectified-flow", "causal-video", "block-diffusion", "builtin-envs"}
