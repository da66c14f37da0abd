#!/usr/bin/env bash
# Scores of the demo model on held-out synthetic scenes, per modality, measured with the project's
# own tools: seatrack-scenes writes the scenes as benchmark folders (thermal: LasHeR layout, depth:
# DepthTrack, event: VisEvent), seatrack-run tracks them, seatrack-eval scores them (success AUC,
# precision at 20 px; for depth also DepthTrack's own Pr/Re/F). docs/demo-model.md reports what this printed.
#   scripts/eval_demo_model.sh                        # the shipped demo model, seeds 10000-10019
#   scripts/eval_demo_model.sh out/eval runs/demo/SEATrack_ep0010.pth.tar   # another demo checkpoint
#   SEEDS=10000-10002 scripts/eval_demo_model.sh     # fewer scenes
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
OUT="${1:-$ROOT/out/demo_model_eval}"
CHECKPOINT="${2:-}"
SEEDS="${SEEDS:-10000-10019}"
declare -A BENCHMARK=([thermal]=lasher [depth]=depthtrack [event]=visevent)
for modality in thermal depth event; do
  data="$OUT/data/$modality"
  results="$OUT/results/$modality"
  if [ ! -d "$data" ]; then
    seatrack-scenes "$data" --modality "$modality" --seeds "$SEEDS"
  fi
  seatrack-run "$data" --benchmark "${BENCHMARK[$modality]}" --variant demo \
    ${CHECKPOINT:+--checkpoint "$CHECKPOINT"} --device cpu --out "$results" --overwrite --no-progress
  seatrack-eval --benchmark "${BENCHMARK[$modality]}" --dataset "$data" --results "demo=$results" \
    --out "$OUT/scores/$modality" --no-plots
  if [ "$modality" = depth ]; then  # DepthTrack's own metrics are Pr/Re/F; also precision and success
    seatrack-eval --benchmark depthtrack --dataset "$data" --results "demo=$results" --scoring ope \
      --out "$OUT/scores/depth_ope" --no-plots
  fi
done
