"""Per-layer cost model: dense conv vs a sparse-weight matmul, on the CIFAR ResNet-18 shapes.

Usage::

    python scripts/bench_sparse_conv.py [--sparsity 0.99] [--batch 16] [--threads 2] [--reps 20]

For every distinct conv of ``resnet18_cifar`` (and the ``fc``) at the given
unstructured weight sparsity, times (minimum over ``--reps``) the three
products of a training step:

- forward ``F.conv2d(x, w)`` (dense, oneDNN) against ``W_csr @ unfold(x)``
  (CSR weight times the im2col matrix, then the fold back to NCHW);
- input gradient ``conv_transpose`` (dense) against ``W_csr^T @ grad`` + ``fold``;
- weight gradient at the non-zero weights only (what Powerprop needs for
  ``beta > 1``: the gradient elsewhere is multiplied by 0): a sampled dense-dense
  product (row gathers) against the dense weight gradient.

Every sparse result is checked against the dense one (``allclose``). A layer
is worth a sparse kernel only where ``sparse / dense < 1`` for the sum.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch.nn import functional as F

#: (name, in channels, out channels, input side, stride, kernel) of the ResNet-18 CIFAR convs.
LAYERS = (
    ("conv1", 3, 64, 32, 1, 3),
    ("layer1.x", 64, 64, 32, 1, 3),
    ("layer2.0.conv1", 64, 128, 32, 2, 3),
    ("layer2.x", 128, 128, 16, 1, 3),
    ("layer3.0.conv1", 128, 256, 16, 2, 3),
    ("layer3.x", 256, 256, 8, 1, 3),
    ("layer4.0.conv1", 256, 512, 8, 2, 3),
    ("layer4.x", 512, 512, 4, 1, 3),
)


def best(fn: Callable[[], object], reps: int) -> float:
    """Minimum wall time (s) of ``fn`` over ``reps`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def layer_costs(
    cin: int, cout: int, side: int, stride: int, k: int, batch: int, sparsity: float, reps: int
) -> dict[str, float]:
    """Dense and sparse times (ms) of one conv's forward, input and weight gradient."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cin, side, side, generator=g)
    w = torch.randn(cout, cin, k, k, generator=g)
    w[torch.rand(w.shape, generator=g) < sparsity] = 0.0
    pad = k // 2
    out = F.conv2d(x, w, None, stride, pad)
    grad = torch.randn(out.shape, generator=g)
    side_out = out.shape[-1]
    w2 = w.reshape(cout, -1)
    csr = w2.to_sparse_csr()
    csr_t = w2.t().contiguous().to_sparse_csr()
    rows, cols = w2.nonzero(as_tuple=True)

    def sparse_forward() -> torch.Tensor:
        cols_x = F.unfold(x, k, padding=pad, stride=stride)  # (B, C*k*k, L)
        flat = cols_x.transpose(0, 1).reshape(w2.shape[1], -1)
        y = csr @ flat
        return y.reshape(cout, batch, side_out, side_out).transpose(0, 1)

    def dense_backward(which: int) -> torch.Tensor:
        """The dense conv's input (0) or weight (1) gradient."""
        mask = [which == 0, which == 1, False]
        return torch.ops.aten.convolution_backward(
            grad, x, w, None, [stride] * 2, [pad] * 2, [1, 1], False, [0, 0], 1, mask
        )[which]

    def dense_input_grad() -> torch.Tensor:
        return dense_backward(0)

    def sparse_input_grad() -> torch.Tensor:
        g2 = grad.transpose(0, 1).reshape(cout, -1)
        cols_g = (csr_t @ g2).reshape(w2.shape[1], batch, -1).transpose(0, 1)
        return F.fold(cols_g, (side, side), k, padding=pad, stride=stride)

    def dense_weight_grad() -> torch.Tensor:
        return dense_backward(1)

    def sparse_weight_grad() -> torch.Tensor:
        cols_x = F.unfold(x, k, padding=pad, stride=stride).transpose(0, 1).reshape(w2.shape[1], -1)
        g2 = grad.transpose(0, 1).reshape(cout, -1)
        return (g2[rows] * cols_x[cols]).sum(1)

    checks = (
        torch.allclose(sparse_forward(), out, rtol=1e-4, atol=1e-4),
        torch.allclose(sparse_input_grad(), dense_input_grad(), rtol=1e-4, atol=1e-4),
        torch.allclose(
            sparse_weight_grad(),
            dense_weight_grad().reshape(cout, -1)[rows, cols],
            rtol=1e-3,
            atol=1e-3,
        ),
    )
    if not all(checks):
        raise AssertionError(f"sparse result differs from dense: {checks}")
    ms = {
        "fwd dense": best(lambda: F.conv2d(x, w, None, stride, pad), reps),
        "fwd sparse": best(sparse_forward, reps),
        "dx dense": best(dense_input_grad, reps),
        "dx sparse": best(sparse_input_grad, reps),
        "dw dense": best(dense_weight_grad, reps),
        "dw sparse": best(sparse_weight_grad, reps),
    }
    return {key: 1e3 * value for key, value in ms.items()}


def main() -> None:
    """Print the per-layer table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sparsity", type=float, default=0.99)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keys = ("fwd", "dx", "dw")
    print(f"sparsity {args.sparsity}, batch {args.batch}, {args.threads} thread(s); ms (min)")
    print(
        f"{'layer':<16}"
        + "".join(f"{k + ' dense':>10}{k + ' sparse':>11}" for k in keys)
        + f"{'sum x':>7}"
    )
    for name, cin, cout, side, stride, k in LAYERS:
        ms = layer_costs(cin, cout, side, stride, k, args.batch, args.sparsity, args.reps)
        dense = sum(ms[f"{key} dense"] for key in keys)
        sparse = sum(ms[f"{key} sparse"] for key in keys)
        cells = "".join(f"{ms[key + ' dense']:>10.2f}{ms[key + ' sparse']:>11.2f}" for key in keys)
        print(f"{name:<16}{cells}{sparse / dense:>7.2f}")


if __name__ == "__main__":
    main()
