"""Wait for a condition in a test: poll, and fail the test with what was awaited when it never comes."""

from __future__ import annotations

import re

import pytest

from labapp.engine import processes


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, what="condition"):
    """Poll until predicate() is truthy and return its value; fail the test after timeout."""
    try:
        return processes.wait_until(predicate, timeout, interval, what)
    except processes.WaitTimeout as exc:
        message = str(exc)
    pytest.fail(message)


def wait_state(client, task_id: str, states=("SUCCESS", "FAILURE", "REVOKED"), timeout: float = 30.0) -> dict:
    """Poll GET /status until the task reaches one of states; return the last answer."""
    last = [None]

    def reached():
        last[0] = client.status(task_id)
        return last[0] if last[0]["state"] in states else None

    return wait_for(reached, timeout, what=lambda: f"task {task_id} to reach {states}; last: {last[0]}")


def read_until(proc, pattern: str, what: str, timeout: float = 60, lines: list | None = None) -> str:
    """Read proc's output line by line (appended to lines, if given) until one matches pattern;
    return the match's group 1."""
    lines = [] if lines is None else lines

    def match():
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"{what}: the process exited early:\n" + "".join(lines))
        lines.append(line)
        found = re.search(pattern, line)
        return found.group(1) if found else None

    return wait_for(match, timeout, what=what)
