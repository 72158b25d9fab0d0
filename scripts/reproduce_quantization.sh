#!/usr/bin/env bash
# Uplink value quantisation on the default task: SparsyFed at S = 0.95 with fp32 (raw),
# fp16 and int8 uplink values (error feedback on), seeds $SEEDS (default 0,1,2), 40 rounds
# each; then the accuracy table and the per-round wire report of seed 0 (raw and int8).
# About 0.8 minutes per run on 2 cores (9 runs by default; the README's table used
# SEEDS=0,1,2,3,4,5,6,7). Usage: [SEEDS=...] scripts/reproduce_quantization.sh [OUT_DIR] [overrides]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/quantization}"
shift || true
export FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1
py=.venv/bin/python
$py -m sparsyfed -m method=sparsyfed sparsity=0.95 wire.values=raw,fp16,int8 "seed=${SEEDS:-0,1,2}" \
  "hydra.sweep.dir=$out" "hydra.sweep.subdir=\${wire.values}-seed\${seed}" "$@"
$py scripts/summarize.py "$out"
$py scripts/wire_report.py "$out/raw-seed0" "$out/int8-seed0" || true
