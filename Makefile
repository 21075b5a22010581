# One-command entry points; each bootstraps first (idempotent, fast when already done).
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
export DREAM_ENGINE_VENV := $(VENV)

.PHONY: bootstrap demo test test-ros lint bench bench-ros eval-physics contact-sheet

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

# Lint and type gate (CI runs it before the tests): ruff (E, F, I, B, UP) everywhere, mypy (strict on engine/).
lint: bootstrap
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy

bench: bootstrap
	@$(PY) bench/bench_engine.py

# ROS overhead figures: demo wall time, goal-to-first-frame latency, ROS vs direct engine.
bench-ros: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) bench/bench_ros.py

# Physics of the default model on held-out PushT episodes (agent, T pose, conservation) vs copy-first-frame.
eval-physics: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) -m dream_engine_ros.evaluation.evaluate_physics --episodes 10 --seed 777 --json out/physics.json

# Truth above predictions, frames 0/6/12/24/36/48 (the picture in the README).
contact-sheet: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) scripts/contact_sheet.py --out docs/contact_sheet.png
