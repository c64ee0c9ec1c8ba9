"""Benchmarks for seglib: ``make bench`` (``python -m benchmarks``) prints every figure."""
