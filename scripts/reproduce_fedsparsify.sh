#!/usr/bin/env bash
# FedSparsify's comparison (its paper's Figure 2 and Tables 1-2) at reduced scale on offline data:
# scikit-learn's digits with FedSparsify's fully-connected network, its non-IID class shards
# (2 classes per client), 10 clients all participating, FedSparsify's local recipe (4 epochs,
# batch 32, SGD lr 0.02 constant). Every pruning method at S = 0.8, 0.9, 0.95, 0.99, PruneFL at
# its recommended ratio, and the dense FedAvg / FedProx / FedAvgM; 3 seeds; jobs in parallel.
# Then one table (scripts/summarize.py --fedsparsify).
# Usage: [SEEDS=0,1,2] [ROUNDS=50] scripts/reproduce_fedsparsify.sh [OUT_DIR] [extra overrides]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/fedsparsify}"
shift || true
seeds="${SEEDS:-0,1,2}"
rounds="${ROUNDS:-50}"
export FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1
py="${PYTHON:-.venv/bin/python}"
task=(dataset=digits model=fedsparsify_fc partition.scheme=shards partition.classes_per_client=2
      num_clients=10 clients_per_round=10 "rounds=$rounds" local_epochs=4 batch_size=32
      lr.initial=0.02 lr.schedule=constant weight_decay=0.0 momentum=0.0 "seed=$seeds"
      hydra/launcher=parallel)
pruning=fedsparsify_global,fedsparsify_local,fedsparsify_random,snip,grasp,topk
$py -m sparsyfed -m "method=$pruning" sparsity=0.8,0.9,0.95,0.99 "${task[@]}" \
    "hydra.sweep.dir=$out/pruning" "$@"
$py -m sparsyfed -m method=prunefl "${task[@]}" "hydra.sweep.dir=$out/prunefl" "$@"
$py -m sparsyfed -m method=fedavg,fedavgm "${task[@]}" "hydra.sweep.dir=$out/dense" "$@"
$py -m sparsyfed -m method=fedavg prox_mu=0.001 "${task[@]}" \
    "hydra.sweep.dir=$out/fedprox" "hydra.sweep.subdir=\${hydra.job.num}-fedprox-seed\${seed}" "$@"
$py scripts/summarize.py --fedsparsify "$out"
