#!/usr/bin/env bash
# Stages, on this (CPU) machine, what tools/gpu_study150_objects.sh needs on a lent H200 (issue #12, item 5), in
# .gpu/ (ignored). Prepared on a CPU-only machine; the device part has not been run yet.
#   .gpu/whl/                cp312 wheels of tools/gpu_wheels.txt (what the device image lacks), ~18 MB
#   .gpu/cache/datasets/     the prepared fluent-objects-1000 dataset (the device cannot download it), ~3 MB
#   .gpu/inception/part-0N   the FID Inception network (87 MB) in three parts: one call carries 64 MiB at most
# The tracked tree (~133 MB, mostly executed notebooks and reports) is over that limit too. Before the calls:
#   git sparse-checkout set --no-cone '/*' '!/papermill_runs/' '!/results/' '/results/source/' '!/tests/'   (~10 MB)
# and afterwards `git sparse-checkout disable` brings every file back (untried with the device tool: should it
# insist on files the sparse checkout left out, move those folders out of the checkout instead). The three calls,
# each within the machine's 30 s of warmth after the last:
#   1. carry .gpu/whl .gpu/inception/part-00:   mkdir -p /tmp/stage && cp -r .gpu/whl .gpu/inception/part-00 /tmp/stage/
#   2. carry .gpu/cache .gpu/inception/part-01: cp -r .gpu/cache .gpu/inception/part-01 /tmp/stage/
#   3. carry .gpu/inception/part-02, timeout_s 560: bash tools/gpu_study150_objects.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
rm -rf .gpu && mkdir -p .gpu/whl .gpu/cache/datasets .gpu/inception
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .gpu/whl $(grep -v '^#' tools/gpu_wheels.txt)
$PY -m gan_lib.data prepare fluent-objects-1000 --resolution 32 >/dev/null
mkdir -p .gpu/cache/datasets/fluent-objects-1000
cp -a "$($PY -c 'from gan_lib.paths import cache_dir; print(cache_dir())')/datasets/fluent-objects-1000/32px" \
  .gpu/cache/datasets/fluent-objects-1000/
split -n 3 -d "$($PY -c 'from gan_lib.evaluation.network import find_inception; print(find_inception())')" .gpu/inception/part-
du -sh .gpu/whl .gpu/cache .gpu/inception/*
