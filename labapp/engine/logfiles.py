"""Component log files that keep the history of the processes before (a crash stays readable)."""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from pathlib import Path

from labapp.i18n import _

ROTATE_BYTES = 1024 * 1024  # past this, the old log moves to <name>.1.log (one generation kept)
CAP_CHECK_S = 0.05  # how often a running process looks at its own log's size (an fstat: ~1 µs)
MB = 1024 * 1024


def shown_path(path: Path) -> str:
    """A path as a user reads it best: relative to the current folder when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


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


def open_for_new_process(path: Path, component: str, previous: str = "") -> int:
    """Prepare path for a new process: keep what is there, add a separator line naming the
    predecessor's end; rotate to <name>.1.log once it grows past ROTATE_BYTES. Private (0600).

    Return the offset where the new process's lines will start (read_tail's start).
    """
    size = rotate_if_large(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as log:
        if size:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
            before = f"; the {component} before it {previous}" if previous else ""
            log.write(f"\n===== {when}: a new {component} process starts{before} (its log is above) =====\n")
        log.flush()
        return os.lseek(log.fileno(), 0, os.SEEK_END)


def rotate_if_large(path: Path) -> int:
    """Move path to <name>.1.log (its tail) once it grows past ROTATE_BYTES; return the size it has now."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size > ROTATE_BYTES:
        _keep_tail(path, path.with_name(f"{path.stem}.1{path.suffix}"), size)
        return 0
    return size


def _keep_tail(path: Path, older: Path, size: int) -> None:
    """Move path to older, keeping only its last ROTATE_BYTES (a log that grew without bound is not kept whole)."""
    with open(path, "rb") as source:
        source.seek(size - ROTATE_BYTES)
        source.readline()  # start at a whole line
        tail = source.read(ROTATE_BYTES)
    fd = os.open(older, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(dropped_marker(size - len(tail)).encode())
        out.write(tail)
    path.unlink()


def dropped_marker(dropped: int, cap: int | None = None) -> str:
    """The line that replaces what a log lost: how much, and why."""
    mb = max(dropped / MB, 0.1)
    if cap is None:
        return _("[labapp: {mb:.1f} MB of earlier lines were dropped]").format(mb=mb) + "\n"
    return (
        _("[labapp: this log passed {cap:g} MB; {mb:.1f} MB of earlier lines were dropped]").format(cap=cap / MB, mb=mb)
        + "\n"
    )


def cap_log(fd: int, max_bytes: int) -> int:
    """Cut the log open at fd back to a marker line once it is larger than max_bytes; return the bytes dropped.

    Only a regular file opened for appending: every process writing to it (a worker's pool too) then
    goes on at the new end, without holes.
    """
    size = os.fstat(fd).st_size
    if size <= max_bytes:
        return 0
    os.ftruncate(fd, 0)
    os.write(fd, dropped_marker(size, max_bytes).encode())
    return size


def can_cap(fd: int) -> bool:
    """True when fd is a regular file opened with O_APPEND (a terminal or a pipe is left alone)."""
    import fcntl

    try:
        return stat.S_ISREG(os.fstat(fd).st_mode) and bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND)
    except OSError:
        return False


def start_capping(max_bytes: int, fds=(1,)) -> threading.Event | None:
    """Keep this process's log (its stdout file) under max_bytes from a daemon thread; set the event to stop.

    None when stdout is not a log file this can cut (a terminal, a pipe).
    """
    fds = [fd for fd in fds if can_cap(fd)]
    if not fds:
        return None
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(CAP_CHECK_S):
            for fd in fds:
                try:
                    cap_log(fd, max_bytes)
                except OSError:  # a full disk for a moment: look again next time
                    pass

    threading.Thread(target=run, name="labapp-log-cap", daemon=True).start()
    return stop


def read_tail(path: Path, lines: int = 20, start: int = 0) -> str:
    """The last lines of a text file from offset start on ('' if it does not exist).

    A start past the end (the file was cut back since) reads what there is.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0 if start > size else start, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
