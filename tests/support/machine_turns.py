"""Turns on the machine between test sessions that run side by side (`make test` runs two).

Most tests only wait on workers and share the cores happily: each holds a *shared* turn while it runs.
A test that measures speed (lesson 05, ex03's check) holds the machine *alone*: it waits until the
running tests end, and no new one starts until it is done. The turns are file locks (``flock``), so they
hold across processes; a second lock, taken first by everyone, makes a waiting "alone" go before any
newcomer, so a busy session cannot starve it.

``LABAPP_TEST_TURNS`` names the lock file; without it (one session), a private file stands in, and the
turns still order the threads of this process.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

VARIABLE = "LABAPP_TEST_TURNS"
_private: Path | None = None


def lock_path() -> Path:
    """The shared lock file of this run (the environment's), or this process's own."""
    global _private
    given = os.environ.get(VARIABLE)
    if given:
        return Path(given)
    if _private is None:
        handle, name = tempfile.mkstemp(prefix="labapp-turns-")
        os.close(handle)
        _private = Path(name)
    return _private


@contextmanager
def _locked(path: Path, mode: int):
    with open(path, "a+b") as handle:  # a file description of its own: turns conflict even within a process
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def beside_others():
    """Hold a turn that other side-by-side runs share (it waits while an alone run is waiting or running)."""
    path = lock_path()
    with _locked(path.with_suffix(".door"), fcntl.LOCK_EX):  # an alone run at the door goes first
        handle = open(path, "a+b")
        fcntl.flock(handle, fcntl.LOCK_SH)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@contextmanager
def alone():
    """Hold the machine: wait for the running turns to end; no new one starts until this one ends."""
    path = lock_path()
    with _locked(path.with_suffix(".door"), fcntl.LOCK_EX), _locked(path, fcntl.LOCK_EX):
        yield
