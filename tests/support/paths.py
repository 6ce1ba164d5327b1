"""Where the project's files are, for tests and benchmarks."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the project's folder (tests/support/paths.py -> ../..)
