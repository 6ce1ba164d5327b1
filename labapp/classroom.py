"""Lesson 08's helpers: other "machines" joining the classroom from this one, and throughput by machine.

A joined machine is the real student command, ``labapp join FILE --workers N --name NAME``,
run in the background with its output in a log file; it dies with the notebook's kernel.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from labapp.engine import heartbeat, processes
from labapp.engine.broker import free_port
from labapp.engine.classroom_protocol import mask, tasks_version, version_problem
from labapp.engine.runtime_folder import write_private_file
from labapp.i18n import _
from labapp.live import LiveExperiment
from labapp.settings import Settings

# what lesson 08 shows of the classroom's protocol, beside this module's own helpers
__all__ = [
    "BackgroundCommand",
    "LiveThroughputByMachine",
    "free_port",
    "join",
    "machine_of",
    "mask",
    "run_labapp",
    "stop",
    "tasks_version",
    "version_problem",
    "wait_for_flower",
    "write_private_file",
]

INSTRUCTOR = "instructor"


_RUNNING: dict[str, "BackgroundCommand"] = {}  # by name: running a cell again replaces, never doubles


class BackgroundCommand:
    """A command running in the background, its output in a log file; it dies with this process."""

    def __init__(self, args: list[str], log: Path, env: dict | None = None):
        self.args = args
        self.log = log
        log.unlink(missing_ok=True)
        self.proc = processes.spawn(args, log, env=env)

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
        """Wait until the output has a line starting with text (or its translation, as the command speaks the
        reader's language); return that line (or raise, showing the output)."""
        starts = (text, _(text))
        command = " ".join(self.args[2:])

        def printed() -> str | None:
            found = [line for line in self.output().splitlines() if line.startswith(starts)]
            if not found and self.proc.poll() is not None:
                raise RuntimeError(
                    _("{command} ended without printing {text}:").format(command=command, text=repr(text))
                    + "\n"
                    + self.output()
                )
            return found[0] if found else None

        try:
            return processes.wait_until(printed, timeout)
        except processes.WaitTimeout:
            raise RuntimeError(
                _("{command} did not print {text}:").format(command=command, text=repr(text)) + "\n" + self.output()
            ) from None

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
            processes.stop_child(self.proc)
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
        runtime / f"join-{name}.out",
        # another machine played from this one: this machine's own checks must not report as it
        env={**os.environ, "LABAPP_PROGRESS": "off"},
    )
    if wait:
        # Translators: the first word of `labapp join`'s line "joined class ...", as translated there
        command.wait_for(_("joined"))
    return command


def run_labapp(*args: str, timeout: float = 60.0) -> str:
    """Run the ``labapp`` command to its end; return what it printed, its exit code and how long it took."""
    import subprocess

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "labapp", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    took = time.monotonic() - started
    ending = _("(exit code {code}, after {seconds:.1f} s)").format(code=done.returncode, seconds=took)
    return f"{(done.stdout + done.stderr).rstrip()}\n{ending}"


def wait_for_flower(url: str, timeout: float = 60.0) -> list[str]:
    """Wait until Flower at url lists workers; return their node names."""
    import json
    import urllib.error
    import urllib.request

    def workers() -> list[str]:
        try:
            with urllib.request.urlopen(f"{url}/api/workers?refresh=1", timeout=10) as answer:
                return sorted(json.loads(answer.read()))
        except (urllib.error.URLError, OSError, ValueError):
            return []

    try:
        return processes.wait_until(workers, timeout, interval=0.5)
    except processes.WaitTimeout:
        raise TimeoutError(
            _("Flower at {url} listed no worker within {seconds:.0f} s").format(url=url, seconds=timeout)
        ) from None


def machine_of(node: str) -> str:
    """The machine a worker belongs to: the --name it joined with (``guest-w1@vm`` → guest)."""
    worker = node.split("@", 1)[0]
    return worker.rsplit("-", 1)[0] if "-" in worker else INSTRUCTOR


class LiveThroughputByMachine(LiveExperiment):
    """Keep the queue fed with short tasks, let machines join on a schedule, plot tasks/s of each machine."""

    FIRST_SAMPLE_AFTER = 1.0  # each sample is the second that just ended

    def __init__(
        self,
        cluster,
        seconds: float = 15,
        join_at: dict | None = None,
        workers_per_machine: int = 2,
        task_ms: int = 100,
    ):
        super().__init__(cluster, seconds, task_ms)
        self.join_at = dict(sorted((join_at or {}).items()))  # {seconds: machine name}
        self.workers_per_machine = workers_per_machine
        self.joined: list[BackgroundCommand] = []
        self.samples: list[tuple[float, dict[str, int]]] = []  # (seconds, {machine: tasks in the last second})
        self.workers: list[int] = []  # live workers at each sample (their heartbeats)
        self.joined_at: dict[str, float] = {}  # machine -> when its `labapp join` started (s)
        self.first_task_at: dict[str, float] = {}  # machine -> when it finished its first task (s)
        self._pending: dict[float, str] = {}
        self._done: list[tuple[float, str]] = []

    def before_run(self) -> None:
        """A run before this one: its machines leave first; the schedule starts again."""
        for name in self.join_at.values():
            stop(f"join {name}")
        self._pending = dict(self.join_at)

    def step(self, elapsed: float) -> None:
        """Let a machine join when the schedule says so, and keep work queued for every worker there may be."""
        for at in [at for at in self._pending if elapsed >= at]:
            self.joined.append(
                join(self.cluster.join_file, self._pending.pop(at), self.workers_per_machine, wait=False)
            )
            self.joined_at[self.join_at[at]] = elapsed
        self.feed(self.workers_per_machine * (1 + len(self.joined)) + len(self.cluster.workers))

    def sample(self, now: float) -> None:
        """Tasks each machine finished in the second that just ended, and the live workers."""
        counts: dict[str, int] = {}
        for finished, machine in list(self._done):
            if now - 1.0 <= finished < now:
                counts[machine] = counts.get(machine, 0) + 1
        self.samples.append((now - self.started - 1.0, counts))
        self.workers.append(len(heartbeat.live_workers(self.cluster.redis)))

    def on_event(self, event: dict) -> None:
        """Note when each machine finished each task."""
        if event["type"] == "task-succeeded":
            now, machine = time.monotonic(), machine_of(event.get("hostname", ""))
            self._done.append((now, machine))
            self.first_task_at.setdefault(machine, now - self.started)

    def settled_at(self) -> float | None:
        """When the last machine to join finished its first task, None while one has not (or has yet to join)."""
        if self._pending:
            return None
        firsts = [self.first_task_at.get(machine) for machine in self.joined_at]
        return None if None in firsts else max(firsts, default=0.0)

    def join_delay(self, machine: str) -> float | None:
        """Seconds from a machine's `labapp join` to its first finished task (None if it finished none)."""
        if machine not in self.joined_at or machine not in self.first_task_at:
            return None
        return self.first_task_at[machine] - self.joined_at[machine]

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
        return {machine: sum(c.get(machine, 0) for c in window) / max(1, len(window)) for machine in self.machines()}

    def figure(self):
        """Tasks finished per second by each machine, stacked, against time."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 3.4), layout="constrained")
        ax = fig.add_subplot()
        # each sample is the second that starts at its time: drawn as a step to the next one
        samples = self.samples + self.samples[-1:]
        times = [at for at, _counts in self.samples] + [at + 1.0 for at, _counts in self.samples[-1:]]
        machines = self.machines()
        if machines:
            ax.stackplot(
                times,
                [[counts.get(m, 0) for _at, counts in samples] for m in machines],
                labels=machines,
                alpha=0.8,
                step="post",
            )
        if self.workers:
            self.draw_ideal(ax, times, self.workers + self.workers[-1:])
        for at, name in self.join_at.items():
            ax.axvline(at, color="#616161", linestyle=":", linewidth=1)
            ax.annotate(
                _("{name} joins").format(name=name),
                (at, 1),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12),
                textcoords="offset points",
                fontsize=9,
            )
        ax.set_xlim(0, self.length)
        ax.set_xlabel(_("seconds"))
        ax.set_ylabel(_("tasks finished per second"))
        ax.set_title(
            _("Throughput by machine: {ms} ms tasks, {workers} workers per machine").format(
                ms=self.task_ms, workers=self.workers_per_machine
            ),
            fontsize=10,
        )
        ax.grid(True, alpha=0.3)
        if machines:
            ax.set_ylim(0, max([n * 1000 / self.task_ms for n in self.workers] + [1]) * 1.25)
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        return fig

    def leave(self) -> list[int]:
        """Every machine this run joined leaves (Ctrl-C); return their exit codes."""
        return [stop(f"join {name}") or 0 for name in self.joined_at]
