"""Flask + Celery Cluster Lab: an embedded cluster for learning distributed task processing."""

from __future__ import annotations

import importlib

# first: the modules below read it (a classroom refuses workers of another version)
__version__ = "0.1.0"

# imported on first use: a worker or the API process imports labapp.* but never needs the cluster's own
# code (labapp.cluster, the broker's, the registry's), which took 40 ms of CPU from every worker's start
_LAZY = {
    "ApiError": "labapp.api.client",
    "LabClient": "labapp.api.client",
    "Cluster": "labapp.cluster",
    "ClusterError": "labapp.cluster",
    "Settings": "labapp.settings",
}

__all__ = ["ApiError", "Cluster", "ClusterError", "LabClient", "Settings", "__version__"]


def __getattr__(name: str):
    """`from labapp import Cluster` and the like: import the module that defines it, once."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'labapp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """What tab completion offers: the lazy names too."""
    return sorted(set(globals()) | set(__all__))
