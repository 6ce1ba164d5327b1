"""Claim a cluster's runtime folder: private (0700) and locked by one owner before anything starts."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "cluster.lock"


class FolderTaken(RuntimeError):
    """Another process holds the folder's lock: a cluster already runs there."""


def make_private_dir(path: Path) -> Path:
    """Create path (and missing parents) readable by its owner only; tighten it if it exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


class FolderClaim:
    """An exclusive flock on ``<folder>/cluster.lock``, held until release() or process death.

    The kernel drops the lock when the holder dies, however it dies, so a crashed
    owner never blocks the next one. The descriptor is not inherited by children.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> "FolderClaim":
        """Take the lock at once or raise FolderTaken (never waits)."""
        if self._fd is not None:
            return self
        make_private_dir(self.folder)
        fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderTaken(str(self.folder)) from None
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (the file stays: removing it would let two owners lock two files)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def write_private_file(path: Path, text: str) -> Path:
    """Write text (one final newline) to path, readable by its owner only from the first byte (0600), and
    replace what was there in one step: a reader finds the old file or the new one, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    draft.unlink(missing_ok=True)
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text.rstrip("\n") + "\n")
    os.replace(draft, path)
    return path
