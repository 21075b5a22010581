"""This package's own environments: decoders and goal costs first, then specs (the default's env first)."""

from __future__ import annotations

import importlib

SPEC_MODULES = ("dream_engine_ros.envs.pusht.specs", "dream_engine_ros.envs.gr1.specs")


def register() -> None:
    from dream_engine_ros.envs.gr1 import layout
    from dream_engine_ros.envs.pusht import costs, layers_plugin
    from dream_engine_ros.envs.pusht.ros import start_frame

    layers_plugin.register()
    costs.register()
    layout.register()
    start_frame.register()
    for module in SPEC_MODULES:
        importlib.import_module(module)  # registers its specs on import
