"""Flask + Celery Cluster Lab: an embedded cluster for learning distributed task processing."""

# first: the modules below read it (a classroom refuses workers of another version)
__version__ = "0.1.0"

from labapp.api.client import ApiError, LabClient  # noqa: E402
from labapp.cluster import Cluster, ClusterError  # noqa: E402
from labapp.settings import Settings  # noqa: E402

__all__ = ["ApiError", "Cluster", "ClusterError", "LabClient", "Settings", "__version__"]
