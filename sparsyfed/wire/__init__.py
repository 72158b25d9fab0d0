"""The byte format: self-describing tensor payloads, the joint position block, whole messages.

NumPy only (no torch, no Flower).
"""
