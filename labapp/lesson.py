"""Small helpers the lessons call: compare a guess with a measurement, follow a task's states."""

from __future__ import annotations

import os
import threading
import time


def compare(guess, measured: float, unit: str = "s") -> None:
    """Print "you guessed X, it took Y"; a guess left as ``...`` is fine."""
    if guess is ... or guess is None:
        text = f"no guess this time; it took {measured:.2f} {unit}"
    else:
        ratio = measured / guess if guess else float("inf")
        verdict = ("close" if 0.8 <= ratio <= 1.25 else
                   "it was slower than you thought" if ratio > 1 else
                   "it was faster than you thought")
        text = f"you guessed {guess:g} {unit}, it took {measured:.2f} {unit}: {verdict}"
    print(text)


def follow(client, task_id: str, timeout: float = 60.0, interval: float = 0.05,
           quiet: bool = False) -> dict:
    """Poll GET /status until the task ends; print each new state with the seconds since the call."""
    start = time.monotonic()
    last_state = None
    while True:
        answer = client.status(task_id)
        elapsed = time.monotonic() - start
        if answer["state"] != last_state and not quiet:
            detail = ""
            if "progress" in answer:
                detail = f"  (step {answer['progress']['current'] + 1} of {answer['progress']['total']})"
            print(f"{elapsed:6.2f} s  {answer['state']}{detail}")
        last_state = answer["state"]
        if answer["state"] in ("SUCCESS", "FAILURE", "REVOKED"):
            return answer
        if elapsed > timeout:
            print(f"still {last_state} after {timeout:g} s: is a worker running? (cluster.status())")
            return answer
        time.sleep(interval)


def plateau(records, share: float = 0.9) -> int | None:
    """The fewest workers that reached ``share`` of the best throughput; None if only the last point did."""
    points = sorted(records, key=lambda p: p["workers"])
    best = max(p["throughput"] for p in points)
    first = next(p["workers"] for p in points if p["throughput"] >= share * best)
    return None if first == points[-1]["workers"] else first


def busy_machine_warning(cores: int) -> str | None:
    """A warning when other programs keep the CPU busy (measurements would be noisy), else None."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every system
        return None
    if load <= max(1.0, 0.75 * cores):
        return None
    return (f"this machine is busy: {load:.1f} processes were waiting for the CPU on average over the last "
            f"minute, for {cores} core{'s' if cores != 1 else ''}. Other programs will take their share, and "
            "the numbers below will be noisy: close what you can, and run again for a cleaner picture.")


def scaling_conclusions(sleep_records, cpu_records, cores: int) -> list[str]:
    """Sentences about a sleep and a cpu scaling run, computed from their numbers and the cores."""
    sleep = sorted(sleep_records, key=lambda p: p["workers"])
    most = sleep[-1]
    lines = [f"sleep tasks: {most['workers']} workers gave {most['speedup']:.1f}× the throughput of "
             f"{sleep[0]['workers']} ({most['efficiency']:.0%} efficiency); waiting tasks do not need "
             f"a core each, so they scale past the {cores} core{'s' if cores != 1 else ''} you have."]
    cpu = sorted(cpu_records, key=lambda p: p["workers"])
    stop = plateau(cpu)
    best = max(cpu, key=lambda p: p["throughput"])
    if stop is None:
        lines.append(f"cpu tasks kept scaling up to {cpu[-1]['workers']} workers "
                     f"({cpu[-1]['speedup']:.1f}×): your {cores} cores left room for every worker.")
        return lines
    lines.append(f"cpu tasks stopped scaling at {stop} worker{'s' if stop != 1 else ''}: "
                 f"{stop} already reached 90% of the best throughput ({best['throughput']:.1f} tasks/s at "
                 f"{best['workers']} workers); more workers only took turns on the same cores.")
    if stop == cores:
        lines.append(f"That is the {cores} core{'s' if cores != 1 else ''} this notebook may use: "
                     "one computing task per core is all a machine can run at once.")
    elif stop < cores:
        lines.append(f"That is fewer than the {cores} cores this notebook may use: other programs "
                     "(the API, the broker, your browser) took their share of the CPU.")
    else:
        lines.append(f"That is more than the {cores} cores this notebook may use: at fewer workers, other "
                     "programs were taking CPU time that more workers then claimed for themselves. Close "
                     "other programs and run again for a cleaner picture.")
    return lines


class EventCounter:
    """Listen to a cluster's Celery events in a thread: counts by type, and when each task succeeded."""

    def __init__(self, app, on_event=None):
        self.app = app
        self.on_event = on_event  # also called with every event (in the receiver's thread)
        self.counts: dict[str, int] = {}
        self.succeeded_at: list[float] = []
        self._receiver = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="labapp-events", daemon=True)

    def _on_event(self, event: dict) -> None:
        self.counts[event["type"]] = self.counts.get(event["type"], 0) + 1
        if event["type"] == "task-succeeded":
            self.succeeded_at.append(time.monotonic())
        if self.on_event is not None:
            self.on_event(event)

    def _listen(self) -> None:
        with self.app.connection() as connection:
            self._receiver = self.app.events.Receiver(connection, handlers={"*": self._on_event})
            self._ready.set()
            self._receiver.capture(limit=None, timeout=None, wakeup=False)

    def __enter__(self) -> "EventCounter":
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("could not listen to the cluster's events within 10 s")
        time.sleep(0.3)  # the receiver's queue is bound once it consumes: events before that are not seen
        return self

    def __exit__(self, *exc) -> None:
        self._receiver.should_stop = True  # the receiver checks it at least every second
        self._thread.join(5)


class LiveThroughput:
    """Keep the queue fed with short tasks, scale on a schedule, and redraw tasks/s every second."""

    TASK = "labapp.tasks.sleep_ms"

    def __init__(self, cluster, seconds: float = 12, scale_at: dict | None = None, task_ms: int = 100):
        self.cluster = cluster
        self.seconds = seconds
        self.scale_at = dict(sorted((scale_at or {}).items()))
        self.task_ms = task_ms
        self.samples: list[tuple[float, float, int]] = []  # (seconds, tasks/s over the last second, workers)

    def run(self) -> None:
        """Run the experiment, showing the plot live (a widget in a notebook, nothing in a terminal)."""
        view = _image_widget()
        pending = dict(self.scale_at)
        with EventCounter(self.cluster.celery) as events:
            start = next_sample = time.monotonic()
            while (now := time.monotonic()) - start < self.seconds:
                for at in [at for at in pending if now - start >= at]:
                    workers = pending.pop(at)
                    self._feed(workers)  # enough queued for the new workers while scale() waits for them
                    self.cluster.scale(workers)
                self._feed(len(self.cluster.workers))
                if now >= next_sample:
                    done = sum(1 for t in events.succeeded_at if now - 1.0 <= t < now)
                    self.samples.append((now - start, float(done), len(self.cluster.workers)))
                    next_sample += 1.0
                    if view is not None:
                        view.value = _png(self.figure())
                time.sleep(0.05)
        self._drain()
        if view is None:
            return
        view.value = _png(self.figure())

    def _feed(self, workers: int) -> None:
        """Top the queue up to a few seconds of work for ``workers``, so no worker ever waits for a task."""
        waiting = self.cluster.queue_length()
        enough = int(workers * 3000 / max(self.task_ms, 1)) + 4
        for _ in range(max(0, enough - waiting)):
            self.cluster.celery.send_task(self.TASK, kwargs={"ms": self.task_ms}, ignore_result=True)

    def _drain(self) -> None:
        """Leave an empty queue behind: drop what was fed but not taken."""
        self.cluster.redis.delete("celery")

    def rates_by_workers(self) -> dict[int, float]:
        """Mean tasks/s for each worker count, leaving out the first second after each change (workers starting)."""
        rates: dict[int, list[float]] = {}
        changed_at, last = 0.0, None
        for at, rate, workers in self.samples:
            if workers != last:
                changed_at, last = at, workers
            if at - changed_at >= 1.0:
                rates.setdefault(workers, []).append(rate)
        return {workers: sum(r) / len(r) for workers, r in rates.items()}

    def figure(self):
        """Tasks finished per second against time, with the worker count as a step line."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, 3.4), layout="constrained")
        ax = fig.add_subplot()
        times = [s[0] for s in self.samples]
        ax.plot(times, [s[1] for s in self.samples], "o-", color="#1565c0", label="tasks finished per second")
        ideal = [s[2] * 1000 / self.task_ms for s in self.samples]
        ax.step(times, ideal, where="post", color="#9e9e9e", linestyle="--",
                label=f"ideal: workers × {1000 / self.task_ms:g}/s")
        ax.set_xlim(0, self.seconds)
        ax.set_ylim(0, max(ideal + [1]) * 1.15)
        ax.set_xlabel("seconds")
        ax.set_ylabel("tasks per second")
        ax.set_title(f"Live throughput: {self.task_ms} ms tasks, scaling at "
                     + ", ".join(f"{at} s → {n} workers" for at, n in self.scale_at.items()), fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        return fig


def _image_widget():
    """An image widget shown in the current cell, or None outside a notebook."""
    from .bench import in_notebook

    if not in_notebook():
        return None
    import ipywidgets
    from IPython.display import display

    view = ipywidgets.Image(format="png")
    display(view)
    return view


def _png(fig) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()
