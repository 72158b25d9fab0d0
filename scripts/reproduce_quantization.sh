#!/usr/bin/env bash
# Uplink value quantisation on the default task: SparsyFed at S = 0.95 with fp32 (raw),
# fp16 and int8 uplink values (error feedback on), seeds 0, 1, 2, 40 rounds each;
# then the accuracy table and the per-round wire report of one int8 run.
# About 10 minutes on 2 cores. Usage: scripts/reproduce_quantization.sh [OUT_DIR] [overrides]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/quantization}"
shift || true
export FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1
py=.venv/bin/python
$py -m sparsyfed -m method=sparsyfed sparsity=0.95 wire.values=raw,fp16,int8 seed=0,1,2 \
  "hydra.sweep.dir=$out" "hydra.sweep.subdir=\${wire.values}-seed\${seed}" "$@"
$py scripts/summarize.py "$out"
$py scripts/wire_report.py "$out/raw-seed0" "$out/int8-seed0" || true
