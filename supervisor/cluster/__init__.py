"""Cluster mode: the node runtime that discovery and consensus plugins plug into.

Nothing under this package is imported in standalone mode.
"""
