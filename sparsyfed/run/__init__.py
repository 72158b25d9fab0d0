"""Run services: the run directory (what a run writes, resume, overwrite), checkpoints, the model file."""
