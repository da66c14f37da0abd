#!/usr/bin/env bash
# GPU check of the tracker's CUDA path in one call (about 5 minutes on one H100/H200 from a cold start;
# the steps share a budget that stays 60 s under the wall-clock limit the check runs under,
# $CHECK_LIMIT_S (default 600), or $CHECK_BUDGET_S if that is smaller; each step has its own limit inside it):
#   1. install what is missing except torch (without network access, wheels carried in ./.whl are used),
#   2. the engine tests (test/test_engine*.py, test/test_bench.py; the CUDA ones run only there),
#   3. seatrack-bench at 640x512 (rgbt), float16 + CUDA graphs, against the float32 eager unmerged-LoRA
#      baseline measured in the same run, with a kernel profile of one forward,
#   4. half-precision fidelity on the golden fixtures (python -m seatrack_ros.engine.fidelity),
#   5. the same benchmark with the network compiled (torch.compile) under the graphs, then the float16
#      fidelity of the compiled tracker, then float32 + graphs: extras, cut first when time runs out,
#   6. one summary table (last in the output; also summary.txt).
# Everything lands in two files in $OUT when set, else ./device_out: summary.txt and device_check.tar.gz
# (the logs and JSON of every step).
#
# Usage, from the repository root:   bash scripts/device_check.sh
# The golden fixtures must reach the machine: $SEATRACK_GOLDEN_DIR, ./shared/golden, ../shared/golden or
# ./.device_golden (copy model_io.npz, tracker_seq.npz and golden_meta.json there and carry that folder).
# Environment: PYTHON (default python3), BENCH_FRAMES (default 300), BENCH_WARMUP (default 30),
# CHECK_LIMIT_S (default 600), CHECK_BUDGET_S (default: CHECK_LIMIT_S - 60, never more); for a dry run without a GPU: DEVICE=cpu BENCH_FRAMES=1 BENCH_WARMUP=0
# BENCH_EXTRA=--tiny-model FIDELITY_ARGS="--dtypes float32 --no-tracker" NO_COMPILE=1.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT_DIR="${OUT:-$ROOT/device_out}"
mkdir -p "$OUT_DIR"
PY="${PYTHON:-python3}"
FRAMES="${BENCH_FRAMES:-300}"
WARMUP="${BENCH_WARMUP:-30}"
DEVICE="${DEVICE:-cuda}"
BENCH_EXTRA="${BENCH_EXTRA:-}"
FIDELITY_ARGS="${FIDELITY_ARGS:-}"
LIMIT="${CHECK_LIMIT_S:-600}"
BUDGET=$(( LIMIT - 60 ))  # the margin keeps the summary and the packing inside the caller's limit
if [ -n "${CHECK_BUDGET_S:-}" ] && (( CHECK_BUDGET_S < BUDGET )); then BUDGET=$CHECK_BUDGET_S; fi
export PYTHONUNBUFFERED=1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
START=$(date +%s)
stamp() { echo "[device_check +$(( $(date +%s) - START ))s] $*"; }
# step NAME LIMIT LOG CMD...: run CMD under min(LIMIT, what is left of the budget less 20 s for the
# summary), appending its output to $OUT_DIR/LOG; skipped when under 30 s are left.
step() {
  local name=$1 limit=$2 log=$3; shift 3
  local left=$(( BUDGET - ($(date +%s) - START) - 20 ))
  (( left < limit )) && limit=$left
  if (( limit < 30 )); then stamp "SKIPPED $name (budget spent)" | tee -a "$OUT_DIR/$log"; return 0; fi
  stamp "$name (limit ${limit}s)" | tee -a "$OUT_DIR/$log"
  timeout "$limit" "$@" 2>&1 | tee -a "$OUT_DIR/$log"
  local rc=${PIPESTATUS[0]}
  (( rc == 124 )) && stamp "TIMED OUT: $name" | tee -a "$OUT_DIR/$log"
  return 0
}

# ---- 1. packages ---------------------------------------------------------------------------------
# torch is never installed here: a bare `pip install torch` picks an arbitrary (multi-GB) build; the
# machine must bring a CUDA build of torch.
if ! "$PY" -c 'import torch' 2>/dev/null; then
  stamp "torch is not importable with $PY: this check needs a Python with a CUDA build of torch (set PYTHON)"; exit 2
fi
missing=$("$PY" -c '
import importlib.util as u
need = {"cv2": "opencv-python-headless", "numpy": "numpy", "pytest": "pytest"}
print(" ".join(p for m, p in need.items() if u.find_spec(m) is None))')
if [ -n "$missing" ]; then
  stamp "missing: $missing"
  if ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      && export PYTHONPATH="$PYTHONPATH:/tmp/site"
  else
    timeout 120 "$PY" -m pip install -q $missing || stamp "pip install failed (no network?); carry wheels in ./.whl"
  fi
fi
if [ -z "${SEATRACK_GOLDEN_DIR:-}" ]; then
  for d in "$ROOT/shared/golden" "$ROOT/../shared/golden" "$ROOT/.device_golden"; do
    if [ -f "$d/model_io.npz" ]; then export SEATRACK_GOLDEN_DIR="$d"; break; fi
  done
fi
{
  stamp "environment; budget ${BUDGET}s of a ${LIMIT}s limit"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
  "$PY" -c 'import sys, torch, numpy, cv2
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda,
      "cudnn", torch.backends.cudnn.version(), "numpy", numpy.__version__, "opencv", cv2.__version__)
print("cuda available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
  echo "golden: ${SEATRACK_GOLDEN_DIR:-NOT FOUND (golden tests error, fidelity is skipped: see the usage above)}"
  "$PY" - <<'EOF'
# Which fused attention kernel PyTorch picks for the network's two attention shapes (batch 2 streams,
# 12 heads, 320 tokens): plain blocks (head dim 64) and guided blocks (q/k 128 after folding, v 64).
import torch
try:
    from torch.nn.attention import SDPBackend
    if torch.cuda.is_available():
        names = {int(b): name for name, b in SDPBackend.__members__.items()}
        for dtype in (torch.float16, torch.float32):
            qkv = torch.randn(2, 320, 3, 12, 64, device="cuda", dtype=dtype).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            plain = torch._fused_sdp_choice(q, k, v, scale=0.125)
            guided = torch._fused_sdp_choice(torch.cat([q, q], -1), torch.cat([k, k], -1), v, scale=0.125)
            print(f"sdpa kernel {dtype}: plain {names.get(plain, plain)}, guided {names.get(guided, guided)}")
except Exception as exc:
    print("sdpa kernel choice not available:", type(exc).__name__, exc)
EOF
} 2>&1 | tee "$OUT_DIR/env.txt"

# ---- 2-5. steps, most important first ---------------------------------------------------------
BENCH=("$PY" -m seatrack_ros.bench --device "$DEVICE" $BENCH_EXTRA --variant rgbt --width 640 --height 512)
step "tests" 150 pytest.log "$PY" -m pytest test/test_engine.py test/test_engine_cuda.py test/test_bench.py \
  -q -rs -s -p no:cacheprovider
step "bench float16 + graphs" 90 bench.log "${BENCH[@]}" --frames "$FRAMES" --warmup "$WARMUP" --half --cuda-graphs \
  --profile-kernels 15 --json "$OUT_DIR/bench_fp16_graphs.json"
if [ -n "${SEATRACK_GOLDEN_DIR:-}" ]; then
  step "fidelity" 75 fidelity.log "$PY" -m seatrack_ros.engine.fidelity --device "$DEVICE" $FIDELITY_ARGS \
    --json "$OUT_DIR/fidelity.json"
fi
if [ -z "${NO_COMPILE:-}" ]; then
  step "bench float16 + compile + graphs" 200 bench.log "${BENCH[@]}" --frames "$FRAMES" --warmup "$WARMUP" --half \
    --cuda-graphs --compile --profile-kernels 15 --json "$OUT_DIR/bench_fp16_compile_graphs.json"
  if [ -n "${SEATRACK_GOLDEN_DIR:-}" ]; then
    step "fidelity float16 compiled" 100 fidelity.log "$PY" -m seatrack_ros.engine.fidelity --device "$DEVICE" \
      --dtypes float16 --compile --json "$OUT_DIR/fidelity_compile.json"
  fi
fi
step "bench float32 + graphs" 45 bench.log "${BENCH[@]}" --frames "$(( FRAMES < 100 ? FRAMES : 100 ))" \
  --warmup "$(( WARMUP < 10 ? WARMUP : 10 ))" --no-half --cuda-graphs --json "$OUT_DIR/bench_fp32_graphs.json"

# ---- 6. summary ----------------------------------------------------------------------------------
stamp "summary"
"$PY" - "$OUT_DIR" <<'EOF' 2>&1 | tee "$OUT_DIR/summary.txt"
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
def load(name):
    p = out / name
    return json.loads(p.read_text()) if p.is_file() else None

log = out / "pytest.log"
tests = [l for l in (log.read_text().splitlines() if log.is_file() else []) if " passed" in l or " failed" in l or " error" in l]
print("=" * 100)
print("tests:", tests[-1].strip("= ") if tests else "NO RESULT (see pytest.log)")
for name, title in (("bench_fp16_graphs.json", "float16 + CUDA graphs"),
                    ("bench_fp16_compile_graphs.json", "float16 + torch.compile + CUDA graphs"),
                    ("bench_fp32_graphs.json", "float32 + CUDA graphs")):
    r = load(name)
    if not r:
        print(f"bench {title}: NO RESULT")
        continue
    v = r["versions"]
    print(f"bench {title} on {v.get('device_name')} | torch {v['torch']} cuda {v.get('cuda')} cudnn {v.get('cudnn')} "
          f"| {r['config']['width']}x{r['config']['height']} N={r['config']['frames']} "
          f"half={r['config']['half']} graphs={r['config']['cuda_graphs']} compiled={r['config'].get('compiled')}")
    print(f"  {'measurement':<26}{'median ms':>10}{'p99 ms':>9}{'base med':>10}{'base p99':>10}{'ratio':>8}  target")
    f, t = r["forward"], r["track"]
    ratio_f, ratio_t = r["speedup"]["forward_median"] or 0.0, r["speedup"]["track_median"] or 0.0
    goal_f = ("PASS" if ratio_f and ratio_f >= 10 else "MISS") + " (>= 10x)" if r["config"]["half"] else ""
    med, p99 = t["candidate"]["median_ms"], t["candidate"]["p99_ms"]
    goal_t = ("PASS" if med < 1 and p99 < 2 else "MISS") + " (< 1 ms median, < 2 ms p99)"
    print(f"  {'forward (batch 1)':<26}{f['candidate']['median_ms']:10.3f}{f['candidate']['p99_ms']:9.3f}"
          f"{f['baseline']['median_ms']:10.3f}{f['baseline']['p99_ms']:10.3f}{ratio_f:7.2f}x  {goal_f}")
    print(f"  {'track() 640x512':<26}{med:10.3f}{p99:9.3f}{t['baseline']['median_ms']:10.3f}"
          f"{t['baseline']['p99_ms']:10.3f}{ratio_t:7.2f}x  {goal_t}")
    for stage, s in r["stages"].items():
        if s.get("n"):
            print(f"    stage {stage:<20}{s['median_ms']:10.3f}{s['p99_ms']:9.3f}")
    k = r.get("kernels")
    if k and "count" in k:
        print(f"    one eager forward: {k['count']} {k['what']}, {k['total_ms']:.3f} ms of kernel time; costliest:")
        for e in k["top"][:8]:
            print(f"      {e['total_ms']:8.3f} ms {e['calls']:4d}x {e['name'][:80]}")
for fid in (load("fidelity.json"), load("fidelity_compile.json")):
    if not fid:
        continue
    compiled = " (tracker network compiled)" if fid.get("compile_network") else ""
    print(f"fidelity vs golden on {fid['device_name']}{compiled} (model: px of the 256 px crop; tracker: px of 320x240, 7 frames)")
    print(f"  {'dtype':<10}{'score map':>10}{'box px':>9}{'argmax':>8}{' | open-loop box px':>20}{'argmax':>8}"
          f"{' | closed box px':>16}{'argmax':>8}{'diverged at':>12}")
    for name, e in fid["results"].items():
        m, k = e["model"], e.get("tracker")
        row = f"  {name:<10}{m['score_map_max_abs']:10.2e}{m['box_max_abs_px']:9.4f}{str(m['argmax_equal']):>8}"
        if k:
            o, c = k["open_loop"], k["closed_loop"]
            row += (f"{o['box_max_abs_px']:20.4f}{o['argmax_equal_frames']:>6}/{o['frames']}"
                    f"{c['box_max_abs_px']:16.4f}{c['argmax_equal_frames']:>6}/{c['frames']}"
                    f"{str(c['crop_window_diverged_at_frame']):>12}")
        print(row)
        if k:
            print(f"  {'':<10}open-loop box px per frame: " + " ".join(f"{v:.3f}" for v in o["box_abs_px_per_frame"]))
if not load("fidelity.json"):
    print("fidelity: NO RESULT")
EOF
# ---- pack: summary.txt beside one archive of everything else -----------------------------------
stamp "done" | tee -a "$OUT_DIR/summary.txt"
(
  cd "$OUT_DIR" || exit 0
  files=$(find . -maxdepth 1 -type f ! -name summary.txt ! -name device_check.tar.gz -printf '%P\n' | sort)
  if [ -n "$files" ] && tar czf device_check.tar.gz $files; then rm -f $files; fi
)
ls "$OUT_DIR"
