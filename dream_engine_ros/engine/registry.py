"""Named registries: how families, frame decoders, goal costs and specs are found without a switch.

Why: generic code (the engine, the ROS node, the HTTP app, the planners) must not name an
environment or a model family. Each plug-in registers what it brings under a name, and generic
code looks the name up. A plug-in is a callable run once, before the first look-up:

    1. the built-in plug-ins listed in `dream_engine_ros/envs/` and `engine/families/` (this
       package's own, so a source checkout works without being pip-installed);
    2. every entry point of the group `dream_engine_ros.plugins` (`importlib.metadata`), so a
       pip-installed package can add an environment or a family without editing this one.

A plug-in that fails to load is reported by name in the error of the look-up that needed it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

ENTRY_POINT_GROUP = "dream_engine_ros.plugins"
# Modules whose `register()` adds this package's own families and environments.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "dream_engine_ros.engine.model_dir",
    "dream_engine_ros.engine.families.rectified_flow.plugin",
    "dream_engine_ros.engine.families.causal_video.plugin",
    "dream_engine_ros.engine.families.block_diffusion.plugin",
    "dream_engine_ros.envs.builtin",
)

T = TypeVar("T")

_lock = threading.RLock()
_loaded = False
_loading = False
_load_errors: dict[str, str] = {}


class Registry(Generic[T]):
    """Name -> object, filled by plug-ins; a miss lists what exists (and plug-ins that failed)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T, *, replace: bool = False) -> T:
        """Add `item` under `name`; a second registration of a name is an error unless `replace`."""
        if not name:
            raise ValueError(f"a {self.kind} needs a non-empty name")
        with _lock:
            if name in self._items and not replace:
                raise ValueError(f"{self.kind} {name!r} already registered")
            self._items[name] = item
        return item

    def unregister(self, name: str) -> None:
        """Remove `name` (a spec added for a while, e.g. by a test); unknown names are ignored."""
        with _lock:
            self._items.pop(name, None)

    def get(self, name: str) -> T:
        load_plugins()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(self._items) or "none"
            failed = "".join(f"; plug-in {key} failed to load: {why}" for key, why in _load_errors.items())
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}{failed}") from None

    def __contains__(self, name: object) -> bool:
        load_plugins()
        return name in self._items

    def names(self) -> list[str]:
        load_plugins()
        return list(self._items)

    def registered(self, name: str) -> bool:
        """Whether `name` is registered now, without loading the plug-ins (for a plug-in's own checks
        while it registers)."""
        return name in self._items

    def registered_names(self) -> list[str]:
        """The names registered now, without loading the plug-ins."""
        return list(self._items)

    def values(self) -> list[T]:
        load_plugins()
        return list(self._items.values())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _run_plugin(label: str, entry: importlib.metadata.EntryPoint) -> None:
    try:
        register: Callable[[], object] = entry.load()
        register()
    except Exception as error:  # a broken third-party plug-in must not break the others
        _load_errors[label] = f"{type(error).__name__}: {error}"


def load_plugins() -> None:
    """Run every plug-in once (built-ins first, then entry points); later calls return at once.
    Another thread waits for the loading to finish; a plug-in's own look-ups do not re-enter it."""
    global _loaded, _loading
    if _loaded:
        return
    with _lock:
        if _loaded or _loading:
            return
        _loading = True
        try:
            for module in BUILTIN_PLUGINS:
                importlib.import_module(module).register()
            for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                if entry.value.split(":")[0] in BUILTIN_PLUGINS:
                    continue  # this package's own, already run
                _run_plugin(entry.name, entry)
        finally:
            _loaded, _loading = True, False


def plugin_errors() -> dict[str, str]:
    """Plug-ins that failed to load and why (shown by `dream-engine specs`)."""
    load_plugins()
    return dict(_load_errors)
