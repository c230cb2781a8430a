#!/usr/bin/env bash
# GPU checks of issue #16, prepared on a CPU-only machine and not yet run: about 5 minutes on one H200.
#   1. several small 32 px (`laptop` preset) training processes sharing one GPU: total images/s toward 5,000;
#   2. the `paper` step's GFLOP/s as a fraction of the H200's dense bf16 peak (989 TFLOP/s), compiled and not;
#   3. FID features on the GPU (in memory vs clean-fid's folder path) at 32 px.
# Usage: tools/gpu_check.sh [OUT_DIR]   (default /tmp/gpu_check); every step writes JSON to OUT_DIR only.
set -euo pipefail
OUT=${1:-/tmp/gpu_check}
PY=${PYTHON:-python}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"

# 1. K concurrent laptop-size trainings (batch 64, compiled): each prints its own images/s; the sum is the total.
for K in 1 4 8; do
  for i in $(seq 1 "$K"); do
    timeout 150 $PY -m gan_lib.bench train --preset laptop --device cuda --batch 64 --variants scratch \
      --rounds 1 --steps 20 --warmup 4 --compile --out "$OUT/laptop_k${K}_${i}.json" >"$OUT/laptop_k${K}_${i}.log" 2>&1 &
  done
  wait
  $PY - "$OUT" "$K" <<'EOF'
import json, sys, pathlib
out, k = pathlib.Path(sys.argv[1]), int(sys.argv[2])
rows = [json.loads(p.read_text())["rows"][0] for p in sorted(out.glob(f"laptop_k{k}_*.json"))]
for mode in ("optimized", "compiled"):
    total = sum(r[mode]["images_per_s"] for r in rows if mode in r)
    print(f"{k} processes sharing the GPU, {mode}: {total:.0f} img/s total ({len(rows)} finished)")
EOF
done | tee "$OUT/laptop_shared.txt"

# 2. the paper step, batch 64: eager (reference, channels-last+bf16) and compiled, as a fraction of bf16 peak
timeout 240 $PY -m gan_lib.bench train --preset paper --device cuda --batch 64 --variants scratch --rounds 1 \
  --steps 6 --warmup 4 --compile --source-classes 1000 --out "$OUT/paper.json" >"$OUT/paper.log" 2>&1 || true
$PY - "$OUT/paper.json" <<'EOF' | tee "$OUT/paper_peak.txt"
import json, sys
r = json.load(open(sys.argv[1]))["rows"][0]
gflop = r["reference"]["gflop_per_step"]  # same work in every mode; compiled rows carry no FLOP count
for mode in ("reference", "optimized", "compiled"):
    if mode in r:
        tflops = gflop / r[mode]["step_seconds"] / 1e3
        print(f"paper step batch 64 {mode}: {r[mode]['images_per_s']} img/s, {tflops:.0f} TFLOP/s, "
              f"{100 * tflops / 989:.1f} % of dense bf16 peak")
EOF

# 3. FID features on the GPU at 32 px
timeout 120 $PY -m gan_lib.bench features --device cuda --num 1000 --resolution 32 --repeats 2 \
  --out "$OUT/features_cuda_32px.json" | tee "$OUT/features.txt"
