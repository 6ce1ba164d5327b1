"""Watching a cluster live: a Celery event receiver, and plots redrawn every second while tasks run.

``LiveExperiment`` is the one loop behind lesson 07's ``LiveThroughput`` and lesson 08's
``classroom.LiveThroughputByMachine``: keep the queue fed, change the cluster on a schedule, sample
once a second, redraw.
"""

from __future__ import annotations

import threading
import time

from labapp.engine.this_process import in_notebook
from labapp.i18n import _

SLEEP_TASK = "labapp.tasks.sleep_ms"


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
            raise TimeoutError(_("could not listen to the cluster's events within 10 s"))
        time.sleep(0.3)  # the receiver's queue is bound once it consumes: events before that are not seen
        return self

    def __exit__(self, *exc) -> None:
        self._receiver.should_stop = True  # the receiver checks it at least every second
        self._thread.join(5)


class LiveExperiment:
    """Keep the queue fed with short tasks, change the cluster on a schedule, sample and redraw every second.

    A subclass says what changes when (``step``), what a sample holds (``sample``) and how it is drawn
    (``figure``).
    """

    FIRST_SAMPLE_AFTER = 0.0  # seconds from the start to the first sample
    MIN_STEADY = 3.0  # seconds the last change must have been in effect when the run ends
    MAX_EXTRA = 60.0  # seconds a run may go on past its length, waiting for that on a busy machine

    def __init__(self, cluster, seconds: float, task_ms: int):
        self.cluster = cluster
        self.seconds = seconds
        self.task_ms = task_ms
        self.events: EventCounter | None = None
        self.started = 0.0  # time.monotonic() at the start of the run

    def run(self) -> None:
        """Run the experiment, showing the plot live (a widget in a notebook, nothing in a terminal)."""
        self.before_run()
        view = image_widget()
        with EventCounter(self.cluster.celery, on_event=self.on_event) as self.events:
            start = self.started = time.monotonic()
            next_sample = start + self.FIRST_SAMPLE_AFTER
            told = False
            while not self.finished((now := time.monotonic()) - start):
                if now - start >= self.seconds and not told:
                    print(
                        _(
                            "the last change has not been in effect for {steady:g} s yet (a busy machine): "
                            "the run goes on until it has, {extra:g} s more at most"
                        ).format(steady=self.MIN_STEADY, extra=self.MAX_EXTRA)
                    )
                    told = True
                self.step(now - start)
                now = time.monotonic()  # a step may take a while (feeding the queue on a busy machine)
                if now >= next_sample:
                    self.sample(now)
                    next_sample = max(next_sample + 1.0, now)  # late: sample again in a second, never in a burst
                    if view is not None:
                        view.value = png(self.figure())
                time.sleep(0.05)
        self.after_run()
        self.cluster.redis.delete("celery")  # leave an empty queue: drop what was fed and not taken
        if view is not None:
            view.value = png(self.figure())

    @property
    def length(self) -> float:
        """Seconds the run lasted (its planned length, or more on a busy machine)."""
        return max([self.seconds, *(sample[0] + 1.0 for sample in getattr(self, "samples", []))])

    def finished(self, elapsed: float) -> bool:
        """True once the run's length is over and its last change has been measured (or waited for too long)."""
        if elapsed < self.seconds:
            return False
        settled = self.settled_at()
        return (
            settled is not None and elapsed >= settled + self.MIN_STEADY
        ) or elapsed >= self.seconds + self.MAX_EXTRA

    def settled_at(self) -> float | None:
        """When the last scheduled change took effect (seconds from the start), None while it has not."""
        return 0.0

    def before_run(self) -> None:
        """What to tidy before the run starts (nothing by default)."""

    def after_run(self) -> None:
        """What to wait for once the run is over (nothing by default)."""

    def on_event(self, event: dict) -> None:
        """Called with every Celery event, in the receiver's thread (nothing by default)."""

    def step(self, elapsed: float) -> None:
        """Change the cluster when the schedule says so, and keep the queue fed."""
        raise NotImplementedError

    def sample(self, now: float) -> None:
        """Record the second that just ended."""
        raise NotImplementedError

    def figure(self):
        """The plot of the samples so far."""
        raise NotImplementedError

    def draw_ideal(self, ax, times: list[float], workers: list[int]) -> list[float]:
        """The dashed ideal line, every worker finishing 1000/task_ms tasks a second; its values."""
        ideal = [n * 1000 / self.task_ms for n in workers]
        label = _("ideal: workers × {rate:g}/s").format(rate=1000 / self.task_ms)
        ax.step(times, ideal, where="post", color="#9e9e9e", linestyle="--", label=label)
        return ideal

    def feed(self, workers: int) -> None:
        """Top the queue up to a few seconds of work for ``workers``, so no worker ever waits for a task."""
        waiting = self.cluster.queue_length()
        enough = int(workers * 3000 / max(self.task_ms, 1)) + 4
        for _index in range(max(0, enough - waiting)):
            self.cluster.celery.send_task(SLEEP_TASK, kwargs={"ms": self.task_ms}, ignore_result=True)


class LiveThroughput(LiveExperiment):
    """Lesson 07: scale on a schedule, and redraw the tasks finished per second against the worker count."""

    def __init__(self, cluster, seconds: float = 12, scale_at: dict | None = None, task_ms: int = 100):
        super().__init__(cluster, seconds, task_ms)
        self.scale_at = dict(sorted((scale_at or {}).items()))
        self._pending = dict(self.scale_at)
        self._scaled_at = 0.0  # when the last scale() returned: its workers were live (seconds)
        self._scaling: threading.Thread | None = None
        self._scale_error: BaseException | None = None
        self.samples: list[tuple[float, float, int]] = []  # (seconds, tasks/s over the last second, workers)

    def before_run(self) -> None:
        """A second run starts its schedule again."""
        self._pending = dict(self.scale_at)
        self._scaled_at = 0.0

    def settled_at(self) -> float | None:
        """When the last scale() of the schedule returned, None while one is still to come or under way."""
        busy = self._scaling is not None and self._scaling.is_alive()
        return None if self._pending or busy else self._scaled_at

    def step(self, elapsed: float) -> None:
        """Scale when the schedule says so (in a thread: sampling goes on meanwhile), and keep the queue fed."""
        if self._scale_error is not None:
            raise self._scale_error
        if self._scaling is not None and self._scaling.is_alive():
            self.feed(self._target)  # enough queued for the new workers while scale() waits for them
            return
        due = [at for at in self._pending if elapsed >= at]
        if due:
            self._target = self._pending.pop(due[0])
            self.feed(self._target)
            self._scaling = threading.Thread(target=self._scale, args=(self._target,), daemon=True)
            self._scaling.start()
            return
        self.feed(len(self.cluster.workers))

    def after_run(self) -> None:
        """A scale() still under way (a very busy machine) ends before the next cell runs."""
        if self._scaling is not None:
            self._scaling.join()
        if self._scale_error is not None:
            raise self._scale_error

    def _scale(self, workers: int) -> None:
        try:
            self.cluster.scale(workers)
        except BaseException as exc:  # raised in the loop's thread at its next step
            self._scale_error = exc
        self._scaled_at = time.monotonic() - self.started

    def sample(self, now: float) -> None:
        """Tasks finished in the last second, with the worker count."""
        done = sum(1 for t in self.events.succeeded_at if now - 1.0 <= t < now)
        self.samples.append((now - self.started, float(done), len(self.cluster.workers)))

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
        ax.plot(times, [s[1] for s in self.samples], "o-", color="#1565c0", label=_("tasks finished per second"))
        ideal = self.draw_ideal(ax, times, [s[2] for s in self.samples])
        ax.set_xlim(0, self.length)
        ax.set_ylim(0, max(ideal + [1]) * 1.15)
        ax.set_xlabel(_("seconds"))
        ax.set_ylabel(_("tasks per second"))
        ax.set_title(
            _("Live throughput: {ms} ms tasks, scaling at {schedule}").format(
                ms=self.task_ms,
                schedule=", ".join(_("{at} s → {n} workers").format(at=at, n=n) for at, n in self.scale_at.items()),
            ),
            fontsize=10,
        )
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        return fig


def show_in_cell(make):
    """The widget make() builds, shown in the current cell; None outside a notebook (make is not called)."""
    if not in_notebook():
        return None
    from IPython.display import display

    widget = make()
    display(widget)
    return widget


def image_widget():
    """An image widget shown in the current cell, or None outside a notebook."""
    import ipywidgets

    return show_in_cell(lambda: ipywidgets.Image(format="png"))


def png(fig) -> bytes:
    """The figure as PNG bytes."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()
