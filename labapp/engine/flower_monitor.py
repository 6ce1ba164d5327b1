"""Flower, the standard Celery monitor, as an optional component of a lab cluster."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

# Flower 2.x answers its HTTP API with 401 unless authentication is configured or this is set;
# it listens on loopback only, so the machine's own user is the only one who can reach it.
FLOWER_ENV = {"FLOWER_UNAUTHENTICATED_API": "true"}


def command(worker_app: str, port: int) -> list[str]:
    """The command line of a Flower process on 127.0.0.1:port (the broker URL comes from the environment)."""
    return [sys.executable, "-m", "celery", "-A", worker_app, "flower", "--address=127.0.0.1", f"--port={port}"]


def answers(url: str) -> bool:
    """True once Flower's health check answers at url."""
    try:
        with urllib.request.urlopen(f"{url}/healthcheck", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
