"""Benchmarks against peers; run from the repo root as ``.venv/bin/python -m bench.<name>``."""
