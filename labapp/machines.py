"""Lesson 08's helpers: other "machines" joining the class from this one, and throughput by machine.

A joined machine is the real student command, ``labapp join FILE --workers N --name NAME``,
run in the background with its output in a log file; it dies with the notebook's kernel.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from . import heartbeat, procs
from .lesson import EventCounter, _image_widget, _png
from .settings import Settings

INSTRUCTOR = "instructor"


_RUNNING: dict[str, "BackgroundCommand"] = {}  # by name: running a cell again replaces, never doubles


class BackgroundCommand:
    """A command running in the background, its output in a log file; it dies with this process."""

    def __init__(self, args: list[str], log: Path, env: dict | None = None):
        self.args = args
        self.log = log
        log.unlink(missing_ok=True)
        self.proc = procs.spawn(args, log, env=env)

    @classmethod
    def start(cls, name: str, args: list[str], log: Path, env: dict | None = None) -> "BackgroundCommand":
        """Start a command under a name; one that still runs under that name stops first (Ctrl-C)."""
        stop(name)
        command = _RUNNING[name] = cls(args, log, env)
        return command

    def output(self) -> str:
        """Everything the command printed so far."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """Wait until the output has a line starting with text; return that line (or raise, showing the output)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.output().splitlines():
                if line.startswith(text):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{' '.join(self.args[2:])} did not print {text!r}:\n{self.output()}")

    @property
    def running(self) -> bool:
        """True while the command runs."""
        return self.proc.poll() is None

    def interrupt(self, timeout: float = 30.0) -> int:
        """Press Ctrl-C (SIGINT) and wait for the command to end; return its exit code."""
        if self.running:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except Exception:
            procs.stop_child(self.proc)
            return self.proc.returncode


def stop(name: str) -> int | None:
    """Ctrl-C the background command of that name, if it runs; return its exit code."""
    command = _RUNNING.pop(name, None)
    return command.interrupt() if command is not None else None


def join(join_file, name: str, workers: int = 2, wait: bool = True) -> BackgroundCommand:
    """Run ``labapp join join_file --workers N --name name`` in the background, as a student would.

    Run again with the same name, the machine that joined before leaves first.
    """
    runtime = Settings.from_env().runtime_path
    command = BackgroundCommand.start(
        f"join {name}",
        [sys.executable, "-m", "labapp", "join", str(join_file), "--workers", str(workers), "--name", name],
        runtime / f"join-{name}.out")
    if wait:
        command.wait_for("joined")
    return command


def run_labapp(*args: str, timeout: float = 60.0) -> str:
    """Run the ``labapp`` command to its end; return what it printed, its exit code and how long it took."""
    import subprocess

    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "labapp", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    took = time.monotonic() - started
    return f"{(done.stdout + done.stderr).rstrip()}\n(exit code {done.returncode}, after {took:.1f} s)"


def wait_for_flower(url: str, timeout: float = 60.0) -> list[str]:
    """Wait until Flower at url lists workers; return their node names."""
    import json
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/workers?refresh=1", timeout=10) as answer:
                found = json.loads(answer.read())
            if found:
                return sorted(found)
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"Flower at {url} listed no worker within {timeout:.0f} s")


def machine_of(node: str) -> str:
    """The machine a worker belongs to: the --name it joined with (``guest-w1@vm`` → guest)."""
    worker = node.split("@", 1)[0]
    return worker.rsplit("-", 1)[0] if "-" in worker else INSTRUCTOR


class LiveThroughputByMachine:
    """Keep the queue fed with short tasks, let machines join on a schedule, plot tasks/s of each machine."""

    TASK = "labapp.tasks.sleep_ms"

    def __init__(self, cluster, seconds: float = 15, join_at: dict | None = None,
                 workers_per_machine: int = 2, task_ms: int = 100):
        self.cluster = cluster
        self.seconds = seconds
        self.join_at = dict(sorted((join_at or {}).items()))  # {seconds: machine name}
        self.workers_per_machine = workers_per_machine
        self.task_ms = task_ms
        self.joined: list[BackgroundCommand] = []
        self.samples: list[tuple[float, dict[str, int]]] = []  # (seconds, {machine: tasks in the last second})
        self.workers: list[int] = []  # live workers at each sample (their heartbeats)
        self.joined_at: dict[str, float] = {}  # machine -> when its `labapp join` started (s)
        self.first_task_at: dict[str, float] = {}  # machine -> when it finished its first task (s)
        self._start = 0.0
        self._done: list[tuple[float, str]] = []

    def run(self) -> None:
        """Run the experiment, redrawing the plot every second (a widget in a notebook)."""
        for name in self.join_at.values():  # a run before this one: its machines leave first
            stop(f"join {name}")
        view = _image_widget()
        pending = dict(self.join_at)
        with EventCounter(self.cluster.celery, on_event=self._on_event):
            start = self._start = time.monotonic()
            next_sample = start + 1.0
            while (now := time.monotonic()) - start < self.seconds:
                for at in [at for at in pending if now - start >= at]:
                    self.joined.append(join(self.cluster.join_file, pending.pop(at),
                                            self.workers_per_machine, wait=False))
                    self.joined_at[self.join_at[at]] = now - start
                self._feed()
                if now >= next_sample:
                    counts: dict[str, int] = {}
                    for finished, machine in list(self._done):
                        if now - 1.0 <= finished < now:
                            counts[machine] = counts.get(machine, 0) + 1
                    self.samples.append((now - start - 1.0, counts))  # the second that just ended
                    self.workers.append(len(heartbeat.live_workers(self.cluster.redis)))
                    next_sample += 1.0
                    if view is not None:
                        view.value = _png(self.figure())
                time.sleep(0.05)
        self.cluster.redis.delete("celery")  # leave an empty queue: drop what was fed and not taken
        if view is not None:
            view.value = _png(self.figure())

    def _on_event(self, event: dict) -> None:
        if event["type"] == "task-succeeded":
            now, machine = time.monotonic(), machine_of(event.get("hostname", ""))
            self._done.append((now, machine))
            self.first_task_at.setdefault(machine, now - self._start)

    def join_delay(self, machine: str) -> float | None:
        """Seconds from a machine's `labapp join` to its first finished task (None if it finished none)."""
        if machine not in self.joined_at or machine not in self.first_task_at:
            return None
        return self.first_task_at[machine] - self.joined_at[machine]

    def _feed(self) -> None:
        """Keep a few seconds of work queued for every worker there may be."""
        workers = self.workers_per_machine * (1 + len(self.joined)) + len(self.cluster.workers)
        enough = int(workers * 3000 / max(self.task_ms, 1)) + 4
        waiting = self.cluster.queue_length()
        for _ in range(max(0, enough - waiting)):
            self.cluster.celery.send_task(self.TASK, kwargs={"ms": self.task_ms}, ignore_result=True)

    def machines(self) -> list[str]:
        """The machines that finished tasks, the instructor's first, then in the order they joined."""
        seen: dict[str, float] = {}
        for at, counts in self.samples:
            for machine in counts:
                seen.setdefault(machine, at)
        return sorted(seen, key=lambda m: (m != INSTRUCTOR, seen[m], m))

    def rates(self, since: float, until: float) -> dict[str, float]:
        """Mean tasks/s of each machine between two moments of the run (seconds)."""
        window = [counts for at, counts in self.samples if since <= at < until]
        return {machine: sum(c.get(machine, 0) for c in window) / max(1, len(window))
                for machine in self.machines()}

    def figure(self):
        """Tasks finished per second by each machine, stacked, against time."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 3.4), layout="constrained")
        ax = fig.add_subplot()
        # each sample is the second that starts at its time: drawn as a step to the next one
        samples = self.samples + self.samples[-1:]
        times = [at for at, _ in self.samples] + [at + 1.0 for at, _ in self.samples[-1:]]
        machines = self.machines()
        if machines:
            ax.stackplot(times, [[counts.get(m, 0) for _, counts in samples] for m in machines],
                         labels=machines, alpha=0.8, step="post")
        if self.workers:
            ideal = [n * 1000 / self.task_ms for n in self.workers + self.workers[-1:]]
            ax.step(times, ideal, where="post", color="#9e9e9e", linestyle="--",
                    label=f"ideal: workers × {1000 / self.task_ms:g}/s")
        for at, name in self.join_at.items():
            ax.axvline(at, color="#616161", linestyle=":", linewidth=1)
            ax.annotate(f"{name} joins", (at, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                        textcoords="offset points", fontsize=9)
        ax.set_xlim(0, self.seconds)
        ax.set_xlabel("seconds")
        ax.set_ylabel("tasks finished per second")
        ax.set_title(f"Throughput by machine: {self.task_ms} ms tasks, "
                     f"{self.workers_per_machine} workers per machine", fontsize=10)
        ax.grid(True, alpha=0.3)
        if machines:
            ax.set_ylim(0, max([n * 1000 / self.task_ms for n in self.workers] + [1]) * 1.25)
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        return fig

    def leave(self) -> list[int]:
        """Every machine this run joined leaves (Ctrl-C); return their exit codes."""
        return [stop(f"join {name}") or 0 for name in self.joined_at]
