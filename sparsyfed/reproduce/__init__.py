"""The papers' tables and figures from one command (``scripts/reproduce.py PRESET OUT_DIR``).

:mod:`~sparsyfed.reproduce.presets` names the runs of each preset,
:mod:`~sparsyfed.reproduce.runner` runs the ones not yet complete (side by
side, each as its own ``python -m sparsyfed`` process) and
:mod:`~sparsyfed.reproduce.report` turns the result directory into tables and
figures (:mod:`sparsyfed.results`).
"""
