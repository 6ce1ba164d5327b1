"""Component log files that keep the history of the processes before (a crash stays readable)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from labapp.i18n import _

ROTATE_BYTES = 1024 * 1024  # past this, the old log moves to <name>.1.log (one generation kept)


def describe_exit(returncode: int | None) -> str:
    """How a process ended, in words: 'killed by SIGKILL', 'exited with code 1'."""
    if returncode is None:
        return _("still running or unknown")
    if returncode < 0:
        try:
            return _("killed by {signal}").format(signal=signal.Signals(-returncode).name)
        except ValueError:
            return _("killed by signal {number}").format(number=-returncode)
    return _("exited normally") if returncode == 0 else _("exited with code {code}").format(code=returncode)


def open_for_new_process(path: Path, component: str, previous: str = "") -> None:
    """Prepare path for a new process: keep what is there, add a separator line naming the
    predecessor's end; rotate to <name>.1.log once it grows past ROTATE_BYTES. Private (0600)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    if size > ROTATE_BYTES:
        os.replace(path, path.with_name(f"{path.stem}.1{path.suffix}"))
        size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as log:
        if size:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
            before = f"; the {component} before it {previous}" if previous else ""
            log.write(f"\n===== {when}: a new {component} process starts{before} (its log is above) =====\n")


def read_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a text file ('' if it does not exist)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
