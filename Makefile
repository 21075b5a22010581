# One-command entry points; each bootstraps first (idempotent, fast when already done).
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
export DREAM_ENGINE_VENV := $(VENV)

.PHONY: train-pusht-generic train-pusht-generic-more train-panda-generic bootstrap demo demo-mpc test test-ros lint bench bench-ros bench-http bench-mpc bench-augment demo-augment train-contact train-contact-planner train-agent eval-physics eval-policy gate contact-sheet

bootstrap:
	@bash scripts/bootstrap.sh

# Start the engine node on the default spec (pusht-structured), feed its demo scene's frame, run a goal; last line = mp4 path.
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

# Lint and type gate (CI runs it before the tests): ruff (E, F, I, B, UP) everywhere, mypy (strict on engine/, envs/, cli/, the ROS adapter).
lint: bootstrap
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy

bench: bootstrap
	@$(PY) bench/bench_engine.py

# ROS overhead figures: demo wall time, goal-to-first-frame latency, ROS vs direct engine.
bench-ros: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) bench/bench_ros.py

# HTTP API under load: N clients for a bounded time (p50/p95, 429 share, nothing lost, RSS), HTTP overhead vs
# in-process, first SSE event vs the first decoded chunk (docs/HTTP.md has the measured table).
bench-http: bootstrap
	@$(PY) bench/bench_http.py --clients 4 --seconds 10 --json out/bench_http.json

# Augmentation (docs/augmentation.md): samples/s with 0 (in-process), 1 and 2 Ray workers, scaling efficiency, peak RSS
# per worker, the writer's share, and the PushT tracking check. ~1.5 min on 2 CPU cores.
bench-augment: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) bench/bench_augment.py --recordings 4 --steps 60 --per-start 4 --json out/bench_augment.json

# Worked example: two PushT teleop recordings (rosbag2 MCAP) -> perturbed rollouts in out/augment-demo/out; last line = index.
demo-augment: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) scripts/demo_augment.py

# MPC on DINO-WM's PushT protocol (50 held-out tasks): CEM and random shooting over the engine's decode-free
# scene states and over its dreamed frames, CEM with the simulator as the model, drive-to-goal, do-nothing.
# Resumable (out/mpc.jsonl); about an hour on 2 CPU cores (the dreamed-frame rows; the rest ~10 min).
bench-mpc: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) bench/bench_mpc.py --tasks 50 --jsonl out/mpc.jsonl

# Retrain the frames' contact model (envs/pusht/contact_model.py) into the shipped weights: 12000 simulated episodes
# (states only) and 10000 training steps, about 15 minutes on 2 CPU cores; prints its held-out pose accuracy.
# Its recipe: no walls, starts inside the T allowed (docs/envs/pusht.md: why the frames keep it).
train-contact: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) -m dream_engine_ros.envs.pusht.training.train_contact --no-walls --overlapping-starts \
		--out dream_engine_ros/weights/pusht-contact.safetensors

# Planners' contact model: a model with walls (~15 min), then three DAgger rounds (the planner drives, the
# model is fine-tuned), ~31 min.
train-contact-planner: bootstrap
	@PY=$(PY) bash scripts/train_planner_contact.sh

# Refit the agent's motion (envs/pusht/agent_model.py; planners' scene-state rollouts): 400 simulated episodes, ~15 s.
train-agent: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) -m dream_engine_ros.envs.pusht.training.train_agent --out dream_engine_ros/weights/pusht-agent.safetensors

# Physics of the default model on held-out PushT episodes (agent, T pose, conservation) vs copy-first-frame.
eval-physics: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) -m dream_engine_ros.envs.pusht.evaluation.evaluate_physics --episodes 10 --seed 777 --json out/physics.json

# The shipped PushT policies closed-loop in the default model vs in gym-pusht (docs/POLICY_EVAL.md): table,
# correlations, out/policy_eval.json and the scatter plot docs/policy_eval.png. ~7 min of CPU (estimated from the
# measured per-frame cost; the full run was not completed on the shared machine).
eval-policy: bootstrap
	@SDL_VIDEODRIVER=dummy $(VENV)/bin/dream-engine evaluate-policy --policy all --episodes 30 --seed 2026 --horizon 96 \
		--threads 1 --json out/policy_eval.json --plot docs/policy_eval.png

# Quality gate of the default model on held-out PushT rollouts with the recorded thresholds (docs/QUALITY_GATE.md):
# exit 1 on a regression; writes out/gate/report.json and the plot docs/gate_curves.png.
gate: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) scripts/gate_plot.py --out out/gate --plot docs/gate_curves.png

# Truth above predictions, frames 0/6/12/24/36/48 (the picture in the README and docs/envs/pusht.md).
contact-sheet: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) scripts/contact_sheet.py --out docs/contact_sheet.png

# The generic block-diffusion model of PushT from pixels and actions only (docs/training.md): 240 scripted gym-pusht
# episodes recorded as rosbag2 MCAP, then the documented `dream-engine train` command (45-minute budget, 2 CPU cores).
train-pusht-generic: bootstrap
	@SDL_VIDEODRIVER=dummy $(PY) scripts/record_pusht_bags.py --episodes 240 --steps 64 --seed 0 --out data/pusht_bags
	@SDL_VIDEODRIVER=dummy $(VENV)/bin/dream-engine train --input data/pusht_bags/teleop_* --camera-topic /camera/image_raw \
		--action-topic /teleop/target --time-budget-min 45 --out runs/pusht-block

# Train that model further, a session at a time (resumable: the dynamics continues from its checkpoint for another
# MINUTES, the tokenizer stays as the dynamics learned it). Run after train-pusht-generic, as often as wanted.
MINUTES ?= 60
train-pusht-generic-more: bootstrap
	@SDL_VIDEODRIVER=dummy $(VENV)/bin/dream-engine train --input data/pusht_bags/teleop_* --camera-topic /camera/image_raw \
		--action-topic /teleop/target --time-budget-min $(MINUTES) --resume --out runs/pusht-block

# The same generic model and the same `dream-engine train` command on a second, 3-D scene (docs/envs/panda_push.md):
# 200 scripted Panda pushing episodes (PyBullet, CPU renderer) recorded as rosbag2 MCAP with Twist commands on
# /cmd_vel, then training from pixels and commands only. Evaluate with
# `$(PY) -m dream_engine_ros.envs.panda_push.evaluate --spec runs/panda-block --episodes 10 --seed 777`.
train-panda-generic: bootstrap
	@$(PY) scripts/record_panda_bags.py --episodes 200 --steps 64 --seed 0 --out data/panda_bags
	@$(VENV)/bin/dream-engine train --input data/panda_bags/episode_* --camera-topic /camera/image_raw \
		--action-topic /cmd_vel --action-fields linear.x,linear.y --time-budget-min 45 --out runs/panda-block
