"""Placeholder for s18-core's message catalog tooling (the package's own ``labapp`` domain).

s18-core writes the real module on its branch; the integrator takes theirs. Same two names, doing nothing.
"""

from __future__ import annotations

from pathlib import Path


def update_message_catalog(root) -> list[Path]:
    """Placeholder: the catalogs of the package's messages, brought up to date (none here)."""
    return []


def build_message_catalog(root) -> list[Path]:
    """Placeholder: the compiled catalogs of the package's messages (none here)."""
    return []
