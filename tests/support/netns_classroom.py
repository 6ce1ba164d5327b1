"""A classroom on a Netlab: the teacher's `labapp serve --public` on the hub, students'
`labapp join` on the other hosts, and a batch driven from inside the teacher's namespace.

Shared by tests/classroom/test_classroom_netns.py and benchmarks/classroom_hosts.py. Every process runs
in a namespace (``ip netns exec``); none talks to the subnet from the root namespace.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from labapp.engine.classroom_protocol import SHARED_SETTINGS
from labapp.settings import ENV_PREFIX
from tests.support.netlab import Lines, Netlab

DRIVER = Path(__file__).with_name("classroom_driver.py")


@dataclass
class Started:
    """A labapp command running in a host's namespace, with its output lines."""

    host: str
    proc: subprocess.Popen
    out: Lines

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        """Signal the command (not its children: it stops them itself); its exit code, None if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def _labapp(net: Netlab, host: str, folder: Path, args: list[str], drop=()) -> Started:
    """Start `labapp ARGS` in host's namespace, with runtime and registry folders of its own."""
    home = folder / host
    home.mkdir(parents=True, exist_ok=True)
    env = {name: value for name, value in os.environ.items() if name not in drop}
    env.update(
        LABAPP_RUNTIME_DIR=str(home / "runtime"), LABAPP_REGISTRY_DIR=str(home / "registry"), PYTHONUNBUFFERED="1"
    )
    proc = net.popen(
        host,
        [sys.executable, "-m", "labapp", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    return Started(host, proc, Lines(proc.stdout, home / "output.log"))


def start_teacher(net: Netlab, folder: Path, workers: int = 0, timeout: float = 60.0):
    """`labapp serve --public` on the hub, bound to its subnet address; (started, API URL, join file)."""
    join_file = folder / "class.join"
    teacher = _labapp(
        net,
        net.hub,
        folder,
        ["serve", "--public", "--bind", net.address(net.hub), "--workers", str(workers), "--join-file", str(join_file)],
    )
    teacher.out.wait_for("ready", timeout)
    api_line = teacher.out.wait_for(lambda line: line.strip().startswith("API:"), 5)
    api = re.search(r"http://[^\s/]+", api_line).group(0)
    return teacher, api, join_file


def join_student(net: Netlab, host: str, join_file: Path, workers: int = 2, timeout: float = 60.0) -> Started:
    """`labapp join` on host with workers named host-w1, host-w2, ...; returns once it says joined.

    The student's machine has its defaults only: the class's settings (visibility timeout, ...)
    must come from the class, as the teacher's environment set them.
    """
    class_wide = {ENV_PREFIX + key.upper() for key in SHARED_SETTINGS}
    student = _labapp(
        net,
        host,
        join_file.parent,
        ["join", str(join_file), "--workers", str(workers), "--name", host],
        drop=class_wide,
    )
    student.out.wait_for("joined", timeout)
    return student


def drive(net: Netlab, api: str, folder: Path, tasks: int, x: float, *more: str) -> Lines:
    """Start the batch driver in the teacher's namespace; its JSON lines come through the result."""
    proc = net.popen(
        net.hub,
        [sys.executable, str(DRIVER), api, "--tasks", str(tasks), "--x", str(x), *more],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    return Lines(proc.stdout, folder / "driver.log")


def events(lines: Lines, timeout: float = 120.0):
    """The driver's events (dicts), one by one, until its last one ("done")."""
    while True:
        line = lines.next_line(timeout)
        if line is None:
            raise AssertionError(f"the driver ended without its last line; output:\n{lines.tail()}")
        try:
            event = json.loads(line)
        except ValueError:
            raise AssertionError(f"the driver said: {line}\n{lines.tail()}") from None
        yield event
        if event["event"] == "done":
            return


def host_of(worker: str | None) -> str | None:
    """The student host a Celery node name belongs to: 's1' for 's1-w2@machine'."""
    return worker.split("-", 1)[0] if worker and "-" in worker else None
