"""What a run writes and prints: callbacks called at run start, after every round and at the end.

- :mod:`~sparsyfed.callbacks.base`: the :class:`Callback` interface and :class:`RunInfo`;
- :mod:`~sparsyfed.callbacks.jsonl`: ``config.yaml``, ``partitions.json``,
  ``metrics.jsonl``, ``summary.json``;
- :mod:`~sparsyfed.callbacks.checkpoint`: checkpoints and the model file;
- :mod:`~sparsyfed.callbacks.console`: progress lines;
- :mod:`~sparsyfed.callbacks.wandb_logger`: Weights & Biases.
"""
