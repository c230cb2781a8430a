#!/usr/bin/env bash
# Issue #12, item 5, on one H200: the 150-epoch study of fluent-objects-1000 (4 variants x 3 seeds, 9,375 steps of
# batch 16 each, all 12 runs sharing the GPU), from what tools/gpu_stage.sh staged in $STAGE. Prepared on a CPU-only
# machine and tried there only as a dry run (below); not yet run on a GPU.
# Training stops after $LIMIT seconds; then the finished runs (those with rows) are packed into $OUT/study.tgz with
# the executed notebooks and the invocation record (machine, wall time), beside $OUT/study.log. Unpack into the
# repository root, then `python -m gan_lib.study --preset laptop-150ep --study laptop-150ep-objects
# --datasets fluent-objects-1000 --report-only` renders its report.
# Dry run on a CPU machine (a stage without the cp312 wheels, which this Python cannot install), as tried here:
#   mkdir -p /tmp/drystage && cp -r .gpu/cache /tmp/drystage/ && STAGE=/tmp/drystage PY=.venv/bin/python STEPS=16 \
#   VARIANTS=tl SEEDS=0 JOBS=1 LIMIT=1500 OUT=/tmp/gpu_dry STUDY=gpu-dry tools/gpu_study150_objects.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_study150}; STAGE=${STAGE:-/tmp/stage}; PY=${PY:-python3}; LIMIT=${LIMIT:-480}
STUDY=${STUDY:-laptop-150ep-objects}
mkdir -p "$OUT"
for n in 00 01 02; do
  [ -f "$STAGE/part-$n" ] || cp .gpu/inception/part-$n "$STAGE/part-$n" || { echo "inception part-$n missing"; exit 2; }
done
cat "$STAGE"/part-00 "$STAGE"/part-01 "$STAGE"/part-02 > /tmp/inception-2015-12-05.pt
if [ -d "$STAGE/whl" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$STAGE"/whl/*.whl \
    || exit 2
  export PYTHONPATH=/tmp/site:$PWD
fi
export GAN_LIB_CACHE=$STAGE/cache GAN_LIB_INCEPTION=/tmp/inception-2015-12-05.pt PYTHONUNBUFFERED=1
(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader) > "$OUT/gpu.txt"
timeout --signal=INT "$LIMIT" $PY -m gan_lib.study --preset laptop-150ep --study "$STUDY" \
  --datasets fluent-objects-1000 --variants ${VARIANTS:-scratch tl tl+da tl+da+cr} --seeds ${SEEDS:-0 1 2} \
  --jobs "${JOBS:-12}" --runs-root /tmp/runs --no-report ${STEPS:+--steps $STEPS} > "$OUT/study.log" 2>&1
echo "study exit $?" >> "$OUT/study.log"
for f in /tmp/runs/"$STUDY"/*/status.json; do echo "$(basename "$(dirname "$f")") $(cat "$f")"; done >> "$OUT/study.log"
finished=()
for p in results/runs/"$STUDY"/*.parquet; do
  [ -f "$p" ] || continue
  run=$(basename "$p" .parquet)
  for f in "$p" results/scalars/"$STUDY"/$run.parquet results/figures/samples/"$STUDY"/$run.png \
           results/figures/memorization/"$STUDY"/$run.png papermill_runs/"$STUDY"/$run.ipynb; do
    [ -f "$f" ] && finished+=("$f")
  done
done
[ -f results/studies/"$STUDY".json ] && finished+=(results/studies/"$STUDY".json)
[ ${#finished[@]} -gt 0 ] && tar czf "$OUT/study.tgz" "${finished[@]}"
ls results/runs/"$STUDY"/ 2>/dev/null | wc -l | sed 's/$/ runs finished/' | tee -a "$OUT/study.log"
tail -3 "$OUT/study.log"
