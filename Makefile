# One-command entry points; each bootstraps first (idempotent, fast when already done).
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
export DREAM_ENGINE_VENV := $(VENV)

.PHONY: bootstrap demo demo-mpc test test-ros lint bench bench-ros bench-mpc eval-physics contact-sheet

bootstrap:
	@bash scripts/bootstrap.sh

# Start the engine node on pusht-tiny, feed a PushT frame, run a goal; last line = mp4 path.
demo: bootstrap
	@SDL_VIDEODRIVER=dummy $(VENV)/bin/dream-engine demo

# Model-predictive control over ROS: simulated PushT robot + engine + planner reach a held-out goal;
# prints success and seconds per replan; last line = mp4 (real camera | dreamed plan).
demo-mpc: bootstrap
	@SDL_VIDEODRIVER=dummy $(VENV)/bin/dream-engine demo-mpc

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

# MPC on DINO-WM's PushT protocol (50 held-out tasks): CEM and random shooting over the engine, CEM with the
# simulator as the model, drive-to-goal, do-nothing. Resumable (out/mpc.jsonl); about an hour on 2 CPU cores.
bench-mpc: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) bench/bench_mpc.py --tasks 50 --jsonl out/mpc.jsonl

# Physics of the default model on held-out PushT episodes (agent, T pose, conservation) vs copy-first-frame.
eval-physics: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) -m dream_engine_ros.evaluation.evaluate_physics --episodes 10 --seed 777 --json out/physics.json

# Truth above predictions, frames 0/6/12/24/36/48 (the picture in the README).
contact-sheet: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) scripts/contact_sheet.py --out docs/contact_sheet.png
