#!/usr/bin/env bash
# Every method on the default task at S = 0.9, 0.95, 0.99 (seed 0 unless SEEDS is set), plus
# the dense references; then one table. About 23 minutes on 2 cores for one seed.
# Usage: [SEEDS=0,1,2] scripts/reproduce_methods.sh [OUT_DIR] [extra overrides]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/methods}"
shift || true
seeds="${SEEDS:-0}"
export FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1
py=.venv/bin/python
methods=topk,sparsyfed,sparsyfed_na,sparsefedpp,sparsyfed_spectral,zerofl,flash,flash_spdst,fedsparsify_global,fedsparsify_local
$py -m sparsyfed -m "method=$methods" sparsity=0.9,0.95,0.99 "seed=$seeds" "hydra.sweep.dir=$out/sparse" "$@"
$py -m sparsyfed -m method=fedavg,fedavgm,fedavgm_official "seed=$seeds" "hydra.sweep.dir=$out/dense" "$@"
$py scripts/summarize.py "$out"
