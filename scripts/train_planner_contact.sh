#!/usr/bin/env bash
# The planner's contact model (README: "The planner's contact model"): a contact model that sees the
# walls (train_contact's defaults, ~15 min), then DAgger: the planner drives the simulator with the
# current model, the model is fine-tuned on what really happened, $ROUNDS times (3, ~31 min).
# Writes dream_engine_ros/weights/pusht-contact-planner.safetensors.
set -euo pipefail
PY=${PY:-.venv/bin/python}
OUT=${OUT:-out/planner_contact}
ROUNDS=${ROUNDS:-3}
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

mkdir -p "$OUT"
"$PY" -m dream_engine_ros.envs.pusht.training.train_contact --out "$OUT/base.safetensors"  # walls, starts clear of the T
model="$OUT/base.safetensors"  # round 1 plans with it
episodes=()
for round in $(seq 1 "$ROUNDS"); do
  seed=$((776 + round))  # task sets 777, 778, ...: never the benchmark's 4242 or the tuning set's 1234
  weights_with "$OUT/planning$round" "$model"
  "$PY" -m dream_engine_ros.envs.pusht.training.planner_episodes --tasks 160 --seed "$seed" --weights "$OUT/planning$round" \
    --out "$OUT/planner_$seed.npz"
  episodes+=("$OUT/planner_$seed.npz")
  # fine-tuned from the last round's model on every round's episodes (15 % of each batch)
  "$PY" -m dream_engine_ros.envs.pusht.training.train_contact --init "$model" --planner-episodes "${episodes[@]}" \
    --planner-share 0.15 --episodes 8000 --iterations 3000 --max-lr 2e-4 --seed $((2024 + round)) \
    --out "$OUT/round$round.safetensors"
  model="$OUT/round$round.safetensors"
done
cp "$model" "$SHIPPED/pusht-contact-planner.safetensors"
