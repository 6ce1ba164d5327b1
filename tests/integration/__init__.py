"""Integration tests: a real cluster (broker, workers, API over HTTP), real kernels and CLI processes."""
