"""Federated methods: the Method interface, its registry and SparsyFed."""

from sparsyfed.methods.base import (
    ClientUpdate,
    InitialClient,
    Method,
    MethodSettings,
    ModelSpec,
    Option,
)
from sparsyfed.methods.registry import build_method, load_method_class, method_settings

__all__ = [
    "ClientUpdate",
    "InitialClient",
    "Method",
    "MethodSettings",
    "ModelSpec",
    "Option",
    "build_method",
    "load_method_class",
    "method_settings",
]
