"""Run `labapp up` in the foreground, and a foreign command beside it, as a user's terminals do."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

from tests.support.waiting import read_until

LABAPP = [sys.executable, "-m", "labapp"]


def labapp(*args, **kwargs) -> subprocess.CompletedProcess:
    """Run one `labapp` command to its end; its output as text."""
    return subprocess.run([*LABAPP, *args], capture_output=True, text=True, timeout=60, **kwargs)


def stop(proc: subprocess.Popen, sig=signal.SIGINT, timeout: float = 30) -> str:
    """Stop a process started in its own session (sig, then SIGKILL to its group); its remaining output."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    try:  # wait, then read: communicate() would skip what an earlier readline() left in the buffer
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # never leave it (and what it started) behind
        proc.wait()
    return proc.stdout.read() if proc.stdout else ""


def started(args: list[str], **kwargs) -> subprocess.Popen:
    """A process in a session of its own, stdout piped (text, stderr merged)."""
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kwargs)  # fmt: skip


@contextlib.contextmanager
def labapp_up(name: str, workers: int):
    """`labapp up --name NAME --workers N` running in the foreground; yields its API URL."""
    up = started([*LABAPP, "up", "--workers", str(workers), "--name", name])
    try:
        yield read_until(up, r"API:\s+(http://\S+)", "`labapp up` to print the API URL")
    finally:
        output = stop(up)
        assert up.returncode == 0, output
