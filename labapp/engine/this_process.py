"""What this process runs on: the CPU cores it may use, and whether it is a Jupyter kernel."""

from __future__ import annotations

import math
import os
from pathlib import Path


def usable_cores() -> int:
    """CPU cores this process may use (affinity mask and cgroup quota), at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def in_notebook() -> bool:
    """True when running inside a Jupyter kernel (where widgets can be shown)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})
