"""sparsyfed."""
