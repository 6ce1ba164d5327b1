"""What a run of a trace cost and how long tasks waited: workers and queue over time, latencies, p50 and p95,
and worker-seconds (the integral of live task slots over time).

A task slot is one pool process: one per lab worker (``-c 1``), as many as its pool holds now for a worker
started with Celery's ``--autoscale``. A worker counts from its spawn (it already takes memory while it starts)
until its process ends, including a warm shutdown that lets a task finish.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from labapp.engine import heartbeat
from labapp.engine.celery_config import QUEUE
from labapp.i18n import _

SAMPLE_EVERY_S = 0.25


@dataclass(frozen=True)
class Sample:
    """One look at the cluster: seconds from the start, task slots alive, tasks waiting, tasks held by workers,
    and the workers that answer (beating: ready, or finishing a task before they stop)."""

    at: float
    slots: int
    queue: int
    held: int
    live: int


def percentile(values, q: float) -> float:
    """The q-th percentile (0-100) by nearest rank: the smallest value with at least q% of values <= it."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError(_("expected at least one value for a percentile, found none"))
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def worker_seconds(samples: list[Sample], end: float) -> float:
    """The integral of task slots over [first sample, end]: each sample holds until the next one."""
    total = 0.0
    for sample, following in zip(samples, samples[1:] + [None]):
        until = min(end, following.at if following is not None else end)
        if until > sample.at:
            total += sample.slots * (until - sample.at)
    return total


class Recorder:
    """Sample a cluster's task slots and queue from a thread, every ``every`` seconds from ``t0``."""

    def __init__(self, cluster, every: float = SAMPLE_EVERY_S):
        self.cluster = cluster
        self.every = every
        self.samples: list[Sample] = []
        self.t0 = 0.0  # time.monotonic() of the run's start
        self._nodes: set[str] = set()  # every node name this cluster's workers had during the run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, t0: float | None = None) -> "Recorder":
        """Start sampling (t0: the run's start, time.monotonic(); default now); return self."""
        self.t0 = time.monotonic() if t0 is None else t0
        self._stop.clear()
        self.sample()
        self._thread = threading.Thread(target=self._run, name="labapp-recorder", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Take a last sample and stop the thread; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
            self.sample()

    def __enter__(self) -> "Recorder":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.sample()
            except Exception:  # the broker away for a moment: the next sample catches up
                pass

    def sample(self) -> Sample:
        """Look once: slots of workers spawned, running or finishing a task, and the queue's length."""
        ours = {self.cluster.node_name(name) for name in list(self.cluster.workers)}
        self._nodes |= ours
        beats = {b["name"]: b for b in heartbeat.live_workers(self.cluster.redis) if b["name"] in self._nodes}
        slots = sum(max(1, len(beats.get(node, {}).get("pool_pids") or [])) for node in ours | set(beats))
        held = sum(len(beat.get("active") or []) for beat in beats.values())
        sample = Sample(time.monotonic() - self.t0, slots, self.cluster.redis.llen(QUEUE), held, len(beats))
        self.samples.append(sample)
        return sample
