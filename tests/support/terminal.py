"""Start a command with a terminal on its stdin, as a student's shell gives it (for `labapp lab`)."""

from __future__ import annotations

import os
import pty
import subprocess


def start_in_terminal(args: list[str], env: dict, cwd=None) -> tuple[subprocess.Popen, int]:
    """Start args in a session of its own, stdin a new pseudo-terminal, stdout piped (text, stderr merged).

    Return the process and our side of the terminal (write b"\\x03"... to it, close it when done). With a
    terminal, Jupyter handles Ctrl-C itself and asks its y/n question; without one, SIGINT is a
    KeyboardInterrupt wherever the server happens to be.
    """
    ours, theirs = pty.openpty()
    proc = subprocess.Popen(args, stdin=theirs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=cwd, start_new_session=True)  # fmt: skip
    os.close(theirs)
    return proc, ours
