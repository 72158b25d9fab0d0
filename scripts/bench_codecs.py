"""Payload sizes and speed of the wire codecs on a ResNet-18-sized sparse update.

Builds the conv + linear weight shapes of the CIFAR ResNet-18 (torchvision
``resnet18(num_classes=10)`` with a 3x3 stride-1 ``conv1`` and no max-pool;
BatchNorm parameters and biases are excluded), fills them with random normal
weights scaled per layer (He: std = sqrt(2 / fan_in)), keeps the global
magnitude Top-K at each density and reports, per codec forced on every tensor
and for ``auto``: total bytes, ratio to dense float32, ratio to the
information bound and encode + decode time (best of ``--repeats``).

Run: ``python scripts/bench_codecs.py [--densities 0.1 0.01] [--repeats 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from torch import nn
from torchvision.models import resnet18

from sparsyfed.wire.bounds import sparse_bound_bits
from sparsyfed.wire.codec import decode_array, encode_array, payload_info
from sparsyfed.wire.message import decode_state, encode_state
from sparsyfed.wire.report import payload_report

UNCONDITIONAL = ("dense", "bitmap", "coo", "csr", "ef", "golomb")


def resnet18_cifar_shapes() -> list[tuple[int, ...]]:
    """Conv and linear weight shapes of the CIFAR ResNet-18 (no BN, no biases)."""
    model = resnet18(num_classes=10)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return [tuple(m.weight.shape) for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def quick_shapes() -> list[tuple[int, ...]]:
    """A small model for smoke runs: ResNet-18 shapes with channels divided by 8."""
    out = []
    for s in resnet18_cifar_shapes():
        out.append(
            (max(1, s[0] // 8), max(1, s[1] // 8), *s[2:]) if s[0] > 10 else (s[0], s[1] // 8)
        )
    return out


def random_weights(shapes: list[tuple[int, ...]], rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for shape in shapes:
        fan_in = math.prod(shape[1:])
        out.append((rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(np.float32))
    return out


def global_topk(weights: list[np.ndarray], density: float) -> list[np.ndarray]:
    """Keep the ``density`` fraction of largest-magnitude weights over all tensors."""
    mags = np.concatenate([np.abs(w).reshape(-1) for w in weights])
    k = max(1, round(density * mags.size))
    threshold = np.partition(mags, mags.size - k)[mags.size - k]
    return [np.where(np.abs(w) >= threshold, w, np.float32(0)) for w in weights]


def bound_bytes(
    tensors: list[np.ndarray], value_bits: int, domains: list[int] | None = None
) -> float:
    bits = 0.0
    for i, t in enumerate(tensors):
        n = t.size if domains is None else domains[i]
        bits += sparse_bound_bits(n, int(np.count_nonzero(t)), value_bits)
    return bits / 8


def run(
    tensors: list[np.ndarray],
    codec: str,
    repeats: int,
    values: str = "raw",
    references: list[np.ndarray] | None = None,
) -> tuple[int, float, int]:
    """Total bytes, best encode + decode seconds and total position bits."""
    best = math.inf
    total = position_bits = 0
    for _ in range(repeats):
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        blobs = []
        for i, t in enumerate(tensors):
            ref = None if references is None else references[i]
            blob = encode_array(t, codec, values=values, reference=ref, rng=rng)
            decode_array(blob, reference=ref)
            blobs.append(blob)
        best = min(best, time.perf_counter() - start)
        total = sum(len(b) for b in blobs)
        position_bits = sum(payload_info(b).position_bits for b in blobs)
    return total, best, position_bits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--densities", type=float, nargs="+", default=[0.1, 0.05, 0.01, 0.005, 0.001]
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small model (smoke run)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    shapes = quick_shapes() if args.quick else resnet18_cifar_shapes()
    rng = np.random.default_rng(0)
    weights = random_weights(shapes, rng)
    numel = sum(w.size for w in weights)
    dense_bytes = 4 * numel
    print(
        f"# {'Quick model' if args.quick else 'CIFAR ResNet-18'}: {len(shapes)} conv + linear "
        f"weight tensors, {numel:,} weights (BatchNorm parameters and biases excluded); "
        f"dense = 4 bytes per weight = {dense_bytes:,} bytes; encode + decode best of "
        f"{args.repeats}, one thread\n"
    )
    print("| density | codec | values | bytes | x vs dense | / bound | enc+dec s |")
    print("|---|---|---|---:|---:|---:|---:|")
    checks = []
    for density in args.densities:
        sparse = global_topk(weights, density)
        rows = [(c, "raw") for c in UNCONDITIONAL] + [("auto", v) for v in ("raw", "fp16", "int8")]
        best_ratio = math.inf
        for codec, values in rows:
            vbits = {"raw": 32, "fp16": 16, "int8": 8}[values]
            bound = bound_bytes(sparse, vbits)
            nbytes, seconds, _ = run(sparse, codec, args.repeats, values)
            ratio = nbytes / bound
            if values == "raw":
                best_ratio = min(best_ratio, ratio)
            print(
                f"| {density:g} | {codec} | {values} | {nbytes:,} | {dense_bytes / nbytes:.1f} "
                f"| {ratio:.4f} | {seconds:.3f} |"
            )
            if density == 0.01 and codec == "auto" and values == "raw":
                checks.append((">= 75x vs dense at 1% (fp32)", dense_bytes / nbytes >= 75))
                checks.append(("auto encode+decode <= 0.2 s at 1%", seconds <= 0.2))
            if density == 0.01 and codec == "auto" and values == "int8":
                checks.append((">= 185x vs dense at 1% (int8)", dense_bytes / nbytes >= 185))
        if density <= 0.05:
            checks.append((f"best codec within 1.05x of bound at {density:g}", best_ratio <= 1.05))

    print("\n## Conditional coding (support relative to a shared reference)\n")
    print(
        "| ref density | upload density | support bytes | best unconditional | "
        "support pos bits | uncond. pos bits | log2 C(m,k) | log2 C(n,k) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for ref_density, density in ((0.1, 0.05), (0.02, 0.01)):
        references = global_topk(weights, ref_density)
        uploads = []
        for ref in references:
            pos = np.flatnonzero(ref)
            keep = pos[rng.random(pos.size) < density / ref_density]
            up = np.zeros_like(ref)
            up.reshape(-1)[keep] = ref.reshape(-1)[keep]
            uploads.append(up)
        sup_bytes, _, sup_bits = run(uploads, "support", 1, references=references)
        best_bytes, _, best_bits = run(uploads, "auto", 1)
        ms = [int(np.count_nonzero(r)) for r in references]
        cond = bound_bytes(uploads, 0, domains=ms) * 8
        uncond = bound_bytes(uploads, 0) * 8
        print(
            f"| {ref_density:g} | {density:g} | {sup_bytes:,} | {best_bytes:,} | {sup_bits:,} "
            f"| {best_bits:,} | {cond:,.0f} | {uncond:,.0f} |"
        )
        checks.append(
            (
                f"support position bits within 1.05x of log2 C(m,k) at {ref_density:g}/{density:g}",
                sup_bits <= 1.05 * cond,
            )
        )

    print("\n## Late-round uploads: one joint block per message vs Rice per tensor\n")
    print(
        "Reference: global Top-K at 5%; the upload keeps every reference non-zero but "
        "`drop` random ones per tensor (what SparsyFed clients send once their masks agree).\n"
    )
    print(
        "| drop per tensor | log2 C(m,k) bits | joint: position code | ÷ bound | bytes "
        "| enc+dec s | Rice per tensor: position code | ÷ bound | bytes |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    references = global_topk(weights, 0.05)
    refs = {f"t{i}": r for i, r in enumerate(references)}
    for drop in (1, 10, 100):
        upload = {}
        for key, ref in refs.items():
            up = ref.copy()
            kept = np.flatnonzero(ref)
            up.reshape(-1)[rng.choice(kept, size=min(drop, kept.size), replace=False)] = 0.0
            upload[key] = up
        reports = {}
        for joint in (True, False):
            start = time.perf_counter()
            blobs = encode_state(upload, references=refs, joint=joint)
            decoded = decode_state(blobs, references=refs)
            seconds = time.perf_counter() - start
            reports[joint] = (payload_report(decoded, blobs, references=refs), seconds)
        (rj, sj), (rr, _) = reports[True], reports[False]
        bound = rj.conditional.support_position_bound_bits
        code_j = rj.conditional.support_position_code_bits
        code_r = rr.conditional.support_position_code_bits
        print(
            f"| {drop} | {bound:,.0f} | {code_j:,} | {code_j / bound:.4f} | {rj.bytes:,} "
            f"| {sj:.3f} | {code_r:,} | {code_r / bound:.4f} | {rr.bytes:,} |"
        )
        checks.append(
            (
                f"joint position code within 1.05x of log2 C(m,k), {drop} dropped per tensor",
                code_j <= 1.05 * bound,
            )
        )

    print("\n## Acceptance\n")
    for name, ok in checks:
        print(f"- [{'x' if ok else ' '}] {name}")


if __name__ == "__main__":
    main()
