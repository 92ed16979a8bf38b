#!/usr/bin/env bash
# Starts (or resumes) opsis-mini 2's training in the background, niced, as every working
# session should.
#   The structured variant (trained since session 6, the default model since session 8;
#   docs/mini2/structured-variant.md): the scene-state flow with its sound network and the
#   layered renderer (OPSIS_TRAIN_RENDERER=0: the flow alone), each resuming from
#   its run folder or, when that was lost with the machine, from the shipped
#   models/opsis-mini-2-structured.safetensors. Assemble the shipped file after a stop:
#     ./build/train/opsis-train-mini2-states --out RUNS/mini2-states \
#         --renderer RUNS/mini2-renderer/renderer.safetensors --assemble models/opsis-mini-2-structured.safetensors
#   (with no renderer run folder, --renderer models/opsis-mini-2-structured.safetensors: its
#   renderer and step are kept)
#   The latent variant (OPSIS_TRAIN_LATENT=1): the video autoencoder first (until its run
#   folder says it is frozen), then the joint generator, which resumes from its run folder or
#   continues from the shipped weights (models/opsis-mini-2.safetensors).
#
#   bash train/run-mini2.sh [RUNS_DIR]     (default ../runs beside the checkout)
# Stop them with: pkill -INT -f "build/train/opsis-train-mini2"   (each saves before exiting)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-../runs}
mkdir -p "$runs"
threads=${OPSIS_TRAIN_THREADS:-2}
shipped=models/opsis-mini-2-structured.safetensors
# Session 8 gave the flow both cores (the renderer's curve was flat); since session 9 the
# renderer learns again (small sprites drawn at their size, per-look rates: its sprite L1 still
# falls), so each trains on one thread unless OPSIS_TRAIN_RENDERER=0.
flow_threads=$threads
if [ "${OPSIS_TRAIN_RENDERER:-1}" = 1 ]; then flow_threads=$(( threads > 1 ? threads / 2 : 1 )); fi
if [ "${OPSIS_TRAIN_RENDERER:-1}" = 1 ] && ! pgrep -f "build/train/opsis-train-mini2-renderer" >/dev/null; then
  init=()
  [ -f "$runs/mini2-renderer/renderer.safetensors" ] || [ ! -f "$shipped" ] || init=(--init "$shipped")
  echo "training the layered renderer (log: $runs/mini2-renderer.log)"
  nohup nice -n 10 ./build/train/opsis-train-mini2-renderer --out "$runs/mini2-renderer" "${init[@]}" \
    --threads "$(( threads - flow_threads > 0 ? threads - flow_threads : 1 ))" --checkpoint-every 50 >> "$runs/mini2-renderer.log" 2>&1 &
fi
if ! pgrep -f "build/train/opsis-train-mini2-states" >/dev/null; then
  init=()
  [ -f "$runs/mini2-states/states.safetensors" ] || [ ! -f "$shipped" ] || init=(--init "$shipped")
  echo "training the scene-state flow and its sound (log: $runs/mini2-states.log)"
  nohup nice -n 10 ./build/train/opsis-train-mini2-states --out "$runs/mini2-states" "${init[@]}" \
    --threads "$flow_threads" --data-threads 2 --checkpoint-every 100 >> "$runs/mini2-states.log" 2>&1 &
fi
[ "${OPSIS_TRAIN_LATENT:-0}" = 1 ] || exit 0
if pgrep -f "build/train/opsis-train-mini2 " >/dev/null; then
  echo "the latent generator's trainer is already running"; exit 0
fi
if [ ! -f "$runs/mini2-ae/FROZEN" ] && ! python3 - <<'PY' 2>/dev/null
import json,struct,sys
f=open("models/opsis-mini-2.safetensors","rb"); n=struct.unpack("<Q",f.read(8))[0]
cfg=json.loads(json.loads(f.read(n))["__metadata__"]["opsis.config"]); sys.exit(0 if "generator" in cfg else 1)
PY
then
  ae_init=()
  # A lost run folder continues from the shipped autoencoder (its EMA weights and step).
  [ -f "$runs/mini2-ae/checkpoint.safetensors" ] || ae_init=(--init models/opsis-mini-2.safetensors)
  echo "training the video autoencoder (log: $runs/mini2-ae.log)"
  nohup nice -n 10 ./build/train/opsis-train-mini2-autoencoder --out "$runs/mini2-ae" "${ae_init[@]}" \
    --export models/opsis-mini-2.safetensors --threads "$threads" --batch 24 --checkpoint-every 100 \
    >> "$runs/mini2-ae.log" 2>&1 &
  exit 0
fi
init=()
[ -f "$runs/mini2/checkpoint.safetensors" ] || {
  if [ -f "$runs/mini2-ae/FROZEN" ]; then init=(--autoencoder "$runs/mini2-ae/ema.safetensors"); else init=(--init models/opsis-mini-2.safetensors); fi
}
echo "training the generator (log: $runs/mini2.log)"
nohup nice -n 10 ./build/train/opsis-train-mini2 --out "$runs/mini2" --export models/opsis-mini-2.safetensors \
  "${init[@]}" --threads "$threads" --batch 8 --windows "${OPSIS_TRAIN_WINDOWS:-1,2}" --checkpoint-every 100 \
  >> "$runs/mini2.log" 2>&1 &
