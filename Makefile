# One-command entry points; each bootstraps first (idempotent, fast when already done).
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
export DREAM_ENGINE_VENV := $(VENV)

.PHONY: bootstrap demo test test-ros bench bench-ros

bootstrap:
	@bash scripts/bootstrap.sh

# Start the engine node on pusht-tiny, feed a PushT frame, run a goal; last line = mp4 path.
demo: bootstrap
	@SDL_VIDEODRIVER=dummy $(VENV)/bin/dream-engine demo

# The whole suite (engine, CLI, ROS with real rclpy + FastDDS).
test: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) -m pytest --durations=15

test-ros: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) -m pytest test/ros --durations=10

bench: bootstrap
	@$(PY) bench/bench_engine.py

# ROS overhead figures: demo wall time, goal-to-first-frame latency, ROS vs direct engine.
bench-ros: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) bench/bench_ros.py
