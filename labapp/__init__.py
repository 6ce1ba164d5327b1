"""Flask + Celery Cluster Lab: an embedded cluster for learning distributed task processing."""

from .client import ApiError, LabClient
from .cluster import Cluster, ClusterError
from .settings import Settings

__version__ = "0.1.0"
__all__ = ["ApiError", "Cluster", "ClusterError", "LabClient", "Settings", "__version__"]
