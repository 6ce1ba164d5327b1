"""Flask + Celery Cluster Lab: an embedded cluster for learning distributed task processing."""

# first: the modules below read it (a classroom refuses workers of another version)
__version__ = "0.1.0"

from labapp.api.client import ApiError, LabClient
from labapp.cluster import Cluster, ClusterError
from labapp.settings import Settings

__all__ = ["ApiError", "Cluster", "ClusterError", "LabClient", "Settings", "__version__"]
