"""Results of finished runs: read run directories, tabulate and plot them (no Flower, no torch).

Nothing here re-runs anything: :mod:`sparsyfed.results.store` reads the files a
run writes (``config.yaml``, ``metrics.jsonl``, ``summary.json``) into pandas
DataFrames, and the table and figure modules work on those frames.
"""
