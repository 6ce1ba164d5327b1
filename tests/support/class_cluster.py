"""A classroom cluster for a test: started on a loopback alias, stopped after, nothing of it left behind."""

from __future__ import annotations

import contextlib

from labapp import Cluster
from tests.support.sandbox import stop_leftovers


@contextlib.contextmanager
def running_class(name: str, bind: str, **settings):
    """A started classroom named name on bind, with no worker of its own (settings as Cluster's)."""
    cluster = Cluster(workers=0, name=name, classroom=True, bind=bind, **settings)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        left = stop_leftovers(cluster.dir)
        assert not left, f"left behind by the class: {left}"
