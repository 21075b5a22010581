#!/usr/bin/env bash
# DAgger for the planner's contact model (README: "The planner's contact model"): the planner drives
# the simulator with the current model, the contact model is fine-tuned on what really happened,
# twice. ~25 min on 2 CPU cores. Writes dream_engine_ros/weights/pusht-contact-planner.safetensors.
set -euo pipefail
PY=${PY:-.venv/bin/python}
OUT=${OUT:-out/planner_contact}
SHIPPED=dream_engine_ros/weights
export SDL_VIDEODRIVER=dummy

# A weights folder like the shipped one whose planner contact model is $2.
weights_with() {
  mkdir -p "$1"
  for file in "$SHIPPED"/pusht-causal.safetensors "$SHIPPED"/pusht-agent.safetensors "$SHIPPED"/pusht-contact.safetensors; do
    ln -sf "$(realpath "$file")" "$1/"
  done
  ln -sf "$(realpath "$2")" "$1/pusht-contact-planner.safetensors"
}

fine_tune() {  # init, seed, out, episodes...
  local init=$1 seed=$2 out=$3
  shift 3
  "$PY" -m dream_engine_ros.training.train_contact --init "$init" --planner-episodes "$@" --planner-share 0.15 \
    --episodes 8000 --iterations 3000 --max-lr 2e-4 --seed "$seed" --out "$out"
}

mkdir -p "$OUT"
# round 1: planned with the frames' contact model (tasks of seed 777, never a held-out set)
weights_with "$OUT/round0" "$SHIPPED/pusht-contact.safetensors"
"$PY" -m dream_engine_ros.training.planner_episodes --tasks 160 --seed 777 --weights "$OUT/round0" --out "$OUT/planner_777.npz"
fine_tune "$SHIPPED/pusht-contact.safetensors" 2025 "$OUT/round1.safetensors" "$OUT/planner_777.npz"
# round 2: planned with round 1's model (seed 778), fine-tuned on both rounds' episodes
weights_with "$OUT/round1" "$OUT/round1.safetensors"
"$PY" -m dream_engine_ros.training.planner_episodes --tasks 160 --seed 778 --weights "$OUT/round1" --out "$OUT/planner_778.npz"
fine_tune "$OUT/round1.safetensors" 2026 "$OUT/round2.safetensors" "$OUT/planner_777.npz" "$OUT/planner_778.npz"
cp "$OUT/round2.safetensors" "$SHIPPED/pusht-contact-planner.safetensors"
