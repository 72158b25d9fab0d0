"""Flower glue: the only package that imports ``flwr``."""
