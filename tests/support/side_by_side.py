"""`make test`: the whole suite as two pytest sessions side by side, then both reports.

The suite mostly waits (on workers, kernels, timeouts), so two sessions on two cores finish in little more
than the longer one. The notebooks' session prints as it goes; the other's report follows it. Each session
keeps its own sandbox and its own leftover check. Tests that measure speed take the machine alone for a
while (tests/support/machine_turns.py). On one core, the sessions run one after the other.

Usage: python -m tests.support.side_by_side [pytest options for both sessions]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support import machine_turns, paths

# (name, what it runs): the lessons (both languages) and the rest, of about the same length
SESSIONS = (
    ("notebooks", ["notebooks", "tests/notebooks", "tests/browser"]),
    ("tests", ["tests/unit", "tests/integration", "tests/classroom", "solutions", "exercises"]),
)


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    from labapp.engine.this_process import usable_cores as cores

    return cores()


def start(name: str, targets: list[str], extra: list[str], log: Path | None) -> subprocess.Popen:
    """One pytest session in a process group of its own; its output to the terminal or to log."""
    print(f"[{name}] python -m pytest {' '.join(targets + extra)}" + (f"  (report below, log {log})" if log else ""))
    sys.stdout.flush()
    output = open(log, "w") if log else None
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", *targets, *extra],
        cwd=paths.ROOT,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
        start_new_session=True,
    )


def stop(runs: list[subprocess.Popen]) -> None:
    """Ctrl-C: pass it on to each session (each stops its clusters), then wait for them."""
    for run in runs:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
    for run in runs:
        try:
            run.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)


def main(extra: list[str]) -> int:
    """Run both sessions (side by side where two cores are free); 0 if both passed."""
    # started with SIGINT ignored (`make test &`), Python leaves it ignored, and so would every test's child: a
    # test that sends Ctrl-C to one would wait in vain. A handler is reset to the default by exec, in each child
    signal.signal(signal.SIGINT, signal.default_int_handler)
    folder = Path(tempfile.mkdtemp(prefix="labapp-suite-"))
    os.environ[machine_turns.VARIABLE] = str(folder / "turns")
    side_by_side = usable_cores() >= 2
    began = time.monotonic()
    runs, logs, took = [], [], {}
    try:
        for index, (name, targets) in enumerate(SESSIONS):
            log = folder / f"{name}.log" if side_by_side and index > 0 else None
            run = start(name, targets, extra, log)
            if not side_by_side:
                run.wait()
                took[name] = time.monotonic() - began
            runs.append(run)
            logs.append(log)
        for (name, _), run in zip(SESSIONS, runs):
            run.wait()
            took.setdefault(name, time.monotonic() - began)
    except KeyboardInterrupt:
        stop(runs)
        return 130
    for (name, _), log in zip(SESSIONS, logs):
        if log:
            print(f"\n[{name}] the report of the session that ran beside the notebooks:\n")
            print(log.read_text(errors="replace"))
    print()
    for (name, _), run in zip(SESSIONS, runs):
        verdict = "passed" if run.returncode == 0 else f"FAILED (exit code {run.returncode})"
        print(f"[{name}] {verdict} after {took[name]:.0f} s")
    print(f"whole suite: {time.monotonic() - began:.0f} s, {'side by side' if side_by_side else 'one after the other'}")
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return max(run.returncode for run in runs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
