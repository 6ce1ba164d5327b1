"""A bursty arrival trace from a seed, and its replay: the same tasks at the same offsets in every run.

The tasks are the lab's ``long_task`` (it sleeps: the machine's CPU does not decide the outcome), which also
counts its own runs in Redis, so a replay can tell a task that ran twice.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from labapp.i18n import _, ngettext

TASK = "labapp.tasks.long_task"
STEP_S = 0.25  # long_task sleeps in steps of this length: task lengths are whole steps


@dataclass(frozen=True)
class Arrival:
    """One task of a trace: when it is sent (seconds from the start) and how long it works."""

    at: float
    seconds: float


@dataclass(frozen=True)
class Burst:
    """Many tasks at once: ``tasks`` sent within ``over`` seconds from ``at``."""

    at: float
    tasks: int
    over: float = 1.0


@dataclass(frozen=True)
class Trace:
    """The arrivals of one load, sorted by time, and what made them."""

    arrivals: tuple[Arrival, ...]
    seed: int
    length: float  # seconds from the first possible arrival to the end of the quiet tail
    trickle_per_s: float
    bursts: tuple[Burst, ...]
    task_s: float

    def __len__(self) -> int:
        return len(self.arrivals)

    @property
    def work_s(self) -> float:
        """Seconds of work in the whole trace (a worker's time to run it all alone)."""
        return sum(a.seconds for a in self.arrivals)

    def describe(self) -> str:
        """The trace in one sentence."""
        bursts = ", ".join(
            _("{tasks} tasks at {at:g} s").format(tasks=burst.tasks, at=burst.at) for burst in self.bursts
        )
        return ngettext(
            "{count} tasks of {task_s:g} s over {length:g} s (seed {seed}): a trickle of {rate:g} a second, "
            "and a burst of {bursts}",
            "{count} tasks of {task_s:g} s over {length:g} s (seed {seed}): a trickle of {rate:g} a second, "
            "and bursts of {bursts}",
            len(self.bursts),
        ).format(
            count=len(self), task_s=self.task_s, length=self.length, seed=self.seed, rate=self.trickle_per_s,
            bursts=bursts,
        )  # fmt: skip

    def counts_per_second(self) -> list[int]:
        """How many tasks arrive in each second of the trace (for a plot of the load)."""
        counts = [0] * (int(self.length) + 1)
        for arrival in self.arrivals:
            counts[min(int(arrival.at), len(counts) - 1)] += 1
        return counts


def bursty_trace(
    seed: int = 20,
    *,
    length: float = 90.0,
    trickle_per_s: float = 0.5,
    bursts=((8.0, 200, 1.0), (50.0, 100, 1.0)),
    task_s: float = 0.5,
) -> Trace:
    """Quiet, a burst, quiet, a second burst, quiet: a trickle of random arrivals (Poisson, from the seed)
    under bursts given as (at, tasks, over seconds); every task works ``task_s`` seconds.

    By default the quiet stretches last longer than the bursts take to drain on 8 workers (as in most bursty
    loads): what a scaler saves is the quiet time, and what it spends is starting, stopping and the cooldown.
    """
    if task_s < STEP_S or abs(task_s / STEP_S - round(task_s / STEP_S)) > 1e-9:
        raise ValueError(
            _("task_s must be a whole number of {step:g} s steps, got {value}").format(step=STEP_S, value=task_s)
        )
    burst_list = tuple(b if isinstance(b, Burst) else Burst(*b) for b in bursts)
    for burst in burst_list:
        if not (0 <= burst.at and burst.at + burst.over <= length and burst.tasks >= 0 and burst.over >= 0):
            raise ValueError(
                _("a burst must lie inside the trace's {length:g} s, got {burst}").format(length=length, burst=burst)
            )
    rng = random.Random(seed)
    times = _poisson(rng, trickle_per_s, length)
    for burst in burst_list:
        times += [burst.at + rng.uniform(0, burst.over) for _index in range(burst.tasks)]
    arrivals = tuple(Arrival(round(at, 4), task_s) for at in sorted(times))
    return Trace(arrivals, seed, length, trickle_per_s, burst_list, task_s)


def short_trace(seed: int = 20) -> Trace:
    """A trace of a dozen seconds, for tests and quick tries: a trickle, one burst of 24, a quiet tail."""
    return bursty_trace(seed, length=10.0, trickle_per_s=0.5, bursts=((1.0, 24, 0.5),), task_s=0.5)


def lesson_trace(seed: int = 20) -> Trace:
    """Lesson 10's trace, short enough to replay four times in a lesson: a trickle, a burst of 24, a quiet
    stretch longer than the cooldown, a second burst of 16, and a quiet tail."""
    return bursty_trace(seed, length=16.0, trickle_per_s=0.5, bursts=((1.0, 24, 0.5), (10.0, 16, 0.5)), task_s=0.5)


def _poisson(rng: random.Random, rate: float, length: float) -> list[float]:
    """Arrival times of a Poisson process of ``rate`` per second over [0, length)."""
    times: list[float] = []
    at = 0.0
    while rate > 0:
        at += rng.expovariate(rate)
        if at >= length:
            break
        times.append(at)
    return times


@dataclass
class Sent:
    """One task the replay sent: its id, when it was due and when it went (seconds from the start)."""

    task_id: str
    due: float
    sent: float
    submitted: float  # epoch seconds (time.time()), to compare with the worker's "finished"
    result: object = None  # the AsyncResult, to read its result later


def replay(app, trace: Trace, t0: float, stop=None) -> list[Sent]:
    """Send every task of the trace at ``t0`` (time.monotonic()) + its offset; return what was sent.

    Runs in the calling thread: it sleeps until each task is due. A late machine sends late tasks at once
    (``sent`` - ``due`` says how late); ``stop`` (a threading.Event) ends the replay early.
    """
    sent: list[Sent] = []
    for arrival in trace.arrivals:
        wait = t0 + arrival.at - time.monotonic()
        if wait > 0 and (stop.wait(wait) if stop is not None else time.sleep(wait)):
            break
        submitted = time.time()
        result = app.send_task(TASK, kwargs={"x": arrival.seconds})
        sent.append(Sent(result.id, arrival.at, time.monotonic() - t0, submitted, result))
    return sent
