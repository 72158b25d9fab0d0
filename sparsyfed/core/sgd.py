"""Plain SGD with weight decay and momentum, the update of ``torch.optim.SGD`` without its cost.

The first ``torch.optim`` optimizer a process builds imports ``torch._dynamo``
(about a second of CPU), which every client worker would pay once and the
fork server of the local workers in advance. Local training needs only the
plain update, so :class:`PlainSGD` computes it with the same tensor operations
in the same order as ``torch.optim.SGD``'s per-tensor path (the one it takes
for CPU tensors): the parameters it gives are the same, bit for bit
(``tests/core/test_sgd.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


class PlainSGD:
    """SGD: ``g = grad + weight_decay * p``; ``b = momentum * b + g``; ``p -= lr * b``.

    Parameters
    ----------
    params : iterable of Tensor
        The parameters to update; those without a gradient at a step are left
        alone (and keep their momentum buffer), as in ``torch.optim.SGD``.
    lr : float
        Learning rate.
    momentum : float, optional
        Momentum factor (no dampening, no Nesterov); the first step's buffer
        is the gradient itself. By default 0.
    weight_decay : float, optional
        L2 penalty added to the gradient. By default 0.

    """

    def __init__(
        self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        self._buffers: list[Tensor | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (``set_to_none=True``)."""
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for i, param in enumerate(self.params):
            grad = param.grad
            if grad is None:
                continue
            if self.weight_decay != 0:
                grad = grad.add(param, alpha=self.weight_decay)
            if self.momentum != 0:
                buf = self._buffers[i]
                if buf is None:
                    buf = self._buffers[i] = grad.detach().clone()
                else:
                    buf.mul_(self.momentum).add_(grad)
                grad = buf
            param.add_(grad, alpha=-self.lr)
