"""Flower-free round logic: the task, one client round, the server state, training, sampling."""
