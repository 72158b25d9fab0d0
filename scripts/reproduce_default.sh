#!/usr/bin/env bash
# Faithfulness check on the default task (docs/references.md section 6.1 setting): dense FedAvg and
# SparsyFed at S = 0.95 and 0.99, seeds 0, 1, 2, 40 rounds each; then the table.
# About 8 minutes on 2 cores (measured 2026-12-01). Usage: scripts/reproduce_default.sh [OUT_DIR] [extra overrides]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/default}"
shift || true
export FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1
py=.venv/bin/python
$py -m sparsyfed -m method=fedavg seed=0,1,2 "hydra.sweep.dir=$out/fedavg" "$@"
$py -m sparsyfed -m method=sparsyfed sparsity=0.95,0.99 seed=0,1,2 "hydra.sweep.dir=$out/sparsyfed" "$@"
$py scripts/summarize.py "$out"
