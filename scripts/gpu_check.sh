#!/usr/bin/env bash
# GPU readiness on a CUDA machine: the gpu-marked tests (every method's client round and
# server step on CUDA against the CPU), then 3 rounds of one ResNet-18 Table 1 cell on CUDA
# with seconds per round, clients per second and peak GPU memory (scripts/gpu_rounds.py).
#
# Usage: scripts/gpu_check.sh [hydra overrides for the cell ...]
#   e.g. scripts/gpu_check.sh data_dir=/data/sparsyfed
# PYTHON selects the interpreter (default: python).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python}"

if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA device (torch.cuda.is_available() is False)" >&2
    exit 2
fi

echo "== pytest -m gpu"
"$PYTHON" -m pytest -q -m gpu tests/gpu

echo "== 3 rounds of +experiment=cifar10_alpha0.1 method=sparsyfed sparsity=0.95 on cuda"
"$PYTHON" scripts/gpu_rounds.py --rounds 3 "$@"
