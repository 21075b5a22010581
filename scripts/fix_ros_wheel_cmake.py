"""Point the ROS wheels' CMake exports at this interpreter's include directories.

Why: the ros-kilted-* wheels are built in a manylinux container, and some exported
CMake targets (``*__rosidl_generator_pyExport.cmake``) keep that builder's paths,
e.g. ``/opt/python/cp311-cp311/include/python3.11`` and
``.../site-packages/numpy/_core/include``. CMake refuses imported targets whose include
directories do not exist, so building ``msg/`` against the wheels fails. We rewrite those
paths, inside the venv only, to the running Python's and numpy's include directories.
Idempotent: a second run finds nothing to change.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

BUILDER_PREFIX = re.compile(r"/opt/python/cp\d+-cp\d+")
BUILDER_PYTHON_INCLUDE = re.compile(r"/opt/python/cp\d+-cp\d+/include/python\d+\.\d+")
BUILDER_NUMPY_INCLUDE = re.compile(
    r"/opt/python/cp\d+-cp\d+/lib/python\d+\.\d+/site-packages/numpy/(?:_core|core)/include"
)


def local_include_dirs() -> tuple[Path, Path]:
    """Return (python include dir, numpy include dir), failing clearly when absent."""
    python_include = Path(sysconfig.get_paths()["include"])
    if not (python_include / "Python.h").is_file():
        sys.exit(
            f"fix_ros_wheel_cmake: Python.h not found in {python_include}; install this "
            "Python's development headers (e.g. apt-get install python3-dev) and rerun."
        )
    try:
        import numpy
    except ImportError:
        sys.exit("fix_ros_wheel_cmake: numpy is not installed in this environment.")
    return python_include, Path(numpy.get_include())


def rewrite_exports(prefix: Path) -> list[Path]:
    """Rewrite builder paths in every exported CMake file under ``prefix/share``."""
    python_include, numpy_include = local_include_dirs()
    changed: list[Path] = []
    for cmake_file in sorted(prefix.glob("share/*/cmake/*.cmake")):
        text = cmake_file.read_text()
        if "/opt/python/" not in text:
            continue
        new_text = BUILDER_NUMPY_INCLUDE.sub(str(numpy_include), text)
        new_text = BUILDER_PYTHON_INCLUDE.sub(str(python_include), new_text)
        leftovers = sorted(set(m.group(0) for m in re.finditer(r"/opt/python/[^;\"\s)]*", new_text)))
        missing = [p for p in leftovers if not Path(p).exists()]
        if missing:
            print(f"fix_ros_wheel_cmake: warning: {cmake_file} still names {missing}")
        if new_text != text:
            tmp = cmake_file.with_suffix(cmake_file.suffix + ".tmp")
            tmp.write_text(new_text)
            tmp.replace(cmake_file)
            changed.append(cmake_file)
    return changed


def main() -> int:
    prefix = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(sys.prefix)
    changed = rewrite_exports(prefix)
    if changed:
        print(
            f"fix_ros_wheel_cmake: rewrote the wheel builder's /opt/python include paths to "
            f"this Python's in {len(changed)} CMake export file(s) under {prefix}/share"
        )
    else:
        print("fix_ros_wheel_cmake: CMake exports already point at existing include dirs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
