"""Benchmarks: ratios measured in one run (run each as ``.venv/bin/python -m benchmarks.NAME``)."""
