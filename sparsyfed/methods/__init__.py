"""Federated methods: the Method interface and SparsyFed."""

from sparsyfed.methods.base import ClientUpdate, Method, load_method

__all__ = ["ClientUpdate", "Method", "load_method"]
