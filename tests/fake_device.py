"""A stand-in accelerator on the CPU: device ``meta`` computed on the CPU, device mixing refused.

Without a GPU, a tensor created on the CPU and combined with a model tensor
goes unnoticed, since both are CPU tensors. Inside :class:`FakeDevice`,
``torch.device("meta")`` stands for an accelerator: tensors moved or created
there are real CPU tensors whose storages are marked, ``tensor.device`` reports
``meta`` for them, and every aten operation that mixes a marked tensor with an
unmarked one of one or more dimensions raises :class:`DeviceMismatch`, as CUDA
would ("Expected all tensors to be on the same device"). The exceptions are
CUDA's: a zero-dimensional CPU tensor counts as a scalar, indices on the CPU
may index a device tensor, and ``copy_`` copies across devices. ``.numpy()`` of
a device tensor and a CPU generator drawing a tensor on the device are refused
too. Marked storages are kept alive until the context ends, so a freed address
is never reused by an unmarked tensor.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

FAKE = torch.device("meta")
CPU = torch.device("cpu")
_aten = torch.ops.aten
_INDEX = {_aten.index.Tensor, _aten.index_put.default, _aten.index_put_.default}
_INDEX |= {_aten._index_put_impl_.default}
_COPY = {_aten.copy_.default}
_NOT_REWRITTEN = {torch._C._nn._parse_to}
_DEVICE = torch._C.TensorBase.__dict__["device"]


class DeviceMismatch(RuntimeError):
    """An operation that CUDA would refuse: tensors of two devices mixed."""


def _is_fake(value: Any) -> bool:
    if isinstance(value, torch.device):
        return value.type == "meta"
    return isinstance(value, str) and value == "meta"


def _tensors(tree: Any) -> list[torch.Tensor]:
    return [t for t in tree_flatten(tree)[0] if isinstance(t, torch.Tensor)]


class _Marks:
    def __init__(self) -> None:
        self.storages: dict[int, torch.UntypedStorage] = {}

    def has(self, t: torch.Tensor) -> bool:
        storage = t.untyped_storage()
        return storage.nbytes() > 0 and storage.data_ptr() in self.storages

    def add(self, tree: Any) -> None:
        for t in _tensors(tree):
            storage = t.untyped_storage()
            if storage.nbytes() > 0:
                self.storages[storage.data_ptr()] = storage


class _Dispatch(TorchDispatchMode):
    def __init__(self, marks: _Marks) -> None:
        super().__init__()
        self.marks = marks

    def __torch_dispatch__(
        self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = kwargs or {}
        if func in _INDEX:
            checked, indices = [args[0], *args[2:]], _tensors(args[1])
            if not self.marks.has(args[0]) and any(self.marks.has(i) for i in indices):
                raise DeviceMismatch(f"{func}: a CPU tensor indexed by device indices")
        elif func in _COPY:
            checked = []
        else:
            checked = _tensors((args, kwargs))
        on = [self.marks.has(t) for t in checked]
        if any(on):
            cpu = [tuple(t.shape) for t, o in zip(checked, on, strict=True) if not o and t.dim()]
            if cpu:
                raise DeviceMismatch(f"{func}: device tensors mixed with CPU tensors {cpu}")
        out = func(*args, **kwargs)
        inputs = _tensors((args, kwargs))
        to_cpu = func is _aten._to_copy.default and kwargs.get("device") == CPU
        if func not in _COPY and not to_cpu and any(self.marks.has(t) for t in inputs):
            self.marks.add(out)
        return out


class _Function(TorchFunctionMode):
    def __init__(self, marks: _Marks) -> None:
        super().__init__()
        self.marks = marks

    def __torch_function__(
        self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = dict(kwargs or {})
        if getattr(func, "__self__", None) is _DEVICE:
            return FAKE if self.marks.has(args[0]) else func(*args)
        if func is torch.Tensor.numpy and self.marks.has(args[0]):
            raise DeviceMismatch(".numpy() of a device tensor (needs .cpu() first)")
        if func is torch.Tensor.cpu and self.marks.has(args[0]):
            return args[0].to(CPU, copy=True)
        if func in _NOT_REWRITTEN:
            return func(*args, **kwargs)
        moved = False
        args = list(args)
        for i, value in enumerate(args):
            if _is_fake(value):
                args[i], moved = CPU, True
        if _is_fake(kwargs.get("device")):
            kwargs["device"], moved = CPU, True
        generator = kwargs.get("generator")
        if moved and generator is not None and generator.device.type == "cpu":
            raise DeviceMismatch(f"{func}: a CPU generator draws a tensor on the device")
        if func is torch.Tensor.to:
            if moved or (self.marks.has(args[0]) and CPU in (*args[1:], kwargs.get("device"))):
                kwargs["copy"] = True  # a real copy: marking it does not mark the source
        out = func(*args, **kwargs)
        if moved:
            self.marks.add(out)
        return out


class FakeDevice:
    """Context manager enabling the stand-in device (see the module docstring)."""

    device = FAKE

    def __enter__(self) -> FakeDevice:
        self.marks = _Marks()
        self._modes = [_Function(self.marks), _Dispatch(self.marks)]
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for mode in reversed(self._modes):
            mode.__exit__(*exc)
        self.marks.storages.clear()

    def on_device(self, t: torch.Tensor) -> bool:
        """Whether ``t`` lives on the stand-in device."""
        return self.marks.has(t)
