"""Lesson 10's set-ups on one trace: a fixed small pool, a fixed large pool, Celery's own ``--autoscale`` on one
worker, and the lab's autoscaler. Each runs in a fresh cluster of its own, and gives a tidy result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from celery.result import ResultSet

from labapp.cluster import Cluster
from labapp.elastic.autoscaler import Autoscaler, Decision, QueueLengthPolicy, Tick
from labapp.elastic.recorder import Recorder, Sample, percentile, worker_seconds
from labapp.elastic.trace import Sent, Trace, bursty_trace, replay
from labapp.engine import task_records
from labapp.i18n import _, ngettext

RESULT_GRACE_S = 60.0  # seconds past the trace's worst case that results may take on a loaded machine


@dataclass(frozen=True)
class Setup:
    """One way to run the trace: ``workers`` at the start, and what changes them while it runs.

    celery_autoscale: (max, min) pool processes for Celery's ``--autoscale`` (give workers=1);
    autoscaler: the lab's Autoscaler options (policy, min_workers, max_workers, cooldown, interval).
    """

    key: str
    workers: int
    celery_autoscale: tuple[int, int] | None = None
    autoscaler: dict | None = None
    title: str | None = None  # a label of its own (a student's policy), instead of the one made from the options

    @property
    def label(self) -> str:
        """The set-up in a few words, in the reader's language."""
        if self.title:
            return self.title
        if self.celery_autoscale:
            most, least = self.celery_autoscale
            return _("Celery --autoscale={max},{min} on one worker").format(max=most, min=least)
        if self.autoscaler is not None:
            options = {"min_workers": 1, "max_workers": 8, "cooldown": 5.0, **self.autoscaler}
            return _("the lab's autoscaler, {min} to {max} workers, cooldown {cooldown:g} s").format(
                min=options["min_workers"], max=options["max_workers"], cooldown=options["cooldown"]
            )
        return _("a fixed pool of {n} workers").format(n=self.workers)


def default_setups(
    small: int = 2, large: int = 8, *, policy=None, cooldown: float = 5.0, min_workers: int = 1
) -> list[Setup]:
    """The four set-ups of lesson 10: fixed ``small``, fixed ``large``, Celery's --autoscale=large,min_workers,
    and the lab's autoscaler from min_workers to ``large`` (``policy``: the lab's queue-length one by default)."""
    options = dict(policy=policy or QueueLengthPolicy(), min_workers=min_workers, max_workers=large, cooldown=cooldown)
    return [
        Setup("small", small),
        Setup("large", large),
        Setup("celery_autoscale", 1, celery_autoscale=(large, min_workers)),
        Setup("autoscaler", min_workers, autoscaler=options),
    ]


@dataclass
class SetupResult:
    """What one set-up did with the trace. Times are seconds from the start of the replay."""

    setup: Setup
    trace: Trace
    tasks: list[dict]  # per task, in trace order: due, sent, started, finished, latency, worker, runs
    samples: list[Sample]  # task slots and queue over time
    decisions: list[Decision] = field(default_factory=list)  # the lab's autoscaler only
    ticks: list[Tick] = field(default_factory=list)
    t0: float = 0.0  # time.monotonic() at the start of the replay (the zero of every time above)

    @property
    def latencies(self) -> list[float]:
        """Seconds from each task's submission to its end, in trace order."""
        return [task["latency"] for task in self.tasks]

    @property
    def p50(self) -> float:
        """The median latency (s)."""
        return percentile(self.latencies, 50)

    @property
    def p95(self) -> float:
        """95% of the tasks ended within this many seconds of their submission."""
        return percentile(self.latencies, 95)

    @property
    def end(self) -> float:
        """When the last task finished (s from the start)."""
        return max(task["finished"] for task in self.tasks)

    @property
    def worker_seconds(self) -> float:
        """Task slots alive, integrated from the start to the last task's end (slot-seconds)."""
        return worker_seconds(self.samples, self.end)

    @property
    def peak_slots(self) -> int:
        """The most task slots alive at once."""
        return max(sample.slots for sample in self.samples)

    @property
    def changes(self) -> int:
        """How many times the lab's autoscaler scaled the cluster (0 for the other set-ups)."""
        return sum(1 for d in self.decisions if d.kind == "scale")

    @property
    def run_twice(self) -> list[str]:
        """Ids of the tasks that started more than once (a redelivery)."""
        return [task["id"] for task in self.tasks if task["runs"] > 1]

    @property
    def cooldown_cost(self) -> float:
        """Worker-seconds the cooldown kept idle: for each scale-down, the workers it removed times how long it
        waited for them (from the look that first wanted fewer)."""
        cost, waiting_since = 0.0, None
        for decision in self.decisions:
            if decision.kind == "wait" and decision.target < decision.workers:
                waiting_since = decision.at
            elif decision.kind == "scale" and decision.target < decision.workers:
                if waiting_since is not None:
                    cost += (decision.workers - decision.target) * (decision.at - waiting_since)
                waiting_since = None
        return cost

    @property
    def max_lag(self) -> float:
        """How late the replay sent its latest task (s): near 0 on a calm machine."""
        return max((task["sent"] - task["due"] for task in self.tasks), default=0.0)

    def row(self) -> dict:
        """The figures of this set-up, JSON-ready."""
        return {
            "setup": self.setup.key,
            "label": self.setup.label,
            "tasks": len(self.tasks),
            "p50_s": round(self.p50, 3),
            "p95_s": round(self.p95, 3),
            "worker_seconds": round(self.worker_seconds, 1),
            "peak_slots": self.peak_slots,
            "end_s": round(self.end, 2),
            "changes": self.changes,
            "cooldown_cost": round(self.cooldown_cost, 1),
            "run_twice": len(self.run_twice),
            "max_lag_s": round(self.max_lag, 3),
        }


class Comparison(list):
    """The results of several set-ups on one trace; prints as a table."""

    def __init__(self, results=(), trace: Trace | None = None):
        super().__init__(results)
        self.trace = trace

    def by_key(self, key: str) -> SetupResult:
        """The result of the set-up with this key ("small", "large", "celery_autoscale", "autoscaler")."""
        for result in self:
            if result.setup.key == key:
                return result
        raise KeyError(key)

    def cheapest(self, p95_at_most: float) -> SetupResult | None:
        """The set-up with the fewest worker-seconds among those whose p95 was at most ``p95_at_most`` s."""
        fast_enough = [r for r in self if r.p95 <= p95_at_most]
        return min(fast_enough, key=lambda r: r.worker_seconds, default=None)

    def table(self) -> str:
        """p50, p95, worker-seconds and peak slots of each set-up, as plain text."""
        headers = [_("set-up"), _("p50 s"), _("p95 s"), _("worker-seconds"), _("peak workers")]
        rows = [headers] + [
            [r.setup.label, f"{r.p50:.2f}", f"{r.p95:.2f}", f"{r.worker_seconds:.0f}", str(r.peak_slots)] for r in self
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                 for row in rows]  # fmt: skip
        return "\n".join(lines)

    __str__ = __repr__ = table

    def conclusions(self, p95_target: float) -> list[str]:
        """Sentences computed from this run: the cheapest set-up within the p95 target, what the lab's
        autoscaler saved against the large fixed pool, and what its cooldown cost."""
        sentences = [self._cheapest_sentence(p95_target)]
        keys = {r.setup.key for r in self}
        if {"large", "autoscaler"} <= keys:
            large, auto = self.by_key("large"), self.by_key("autoscaler")
            sentences.append(
                _(
                    "The lab's autoscaler spent {share:.0f}% of the worker-seconds of the fixed pool of {n} "
                    "({spent:.0f} against {full:.0f}), for a p95 {ratio:.1f} times as long ({p95:.2f} s against "
                    "{large_p95:.2f} s)."
                ).format(
                    share=100 * auto.worker_seconds / large.worker_seconds,
                    n=large.setup.workers,
                    spent=auto.worker_seconds,
                    full=large.worker_seconds,
                    ratio=auto.p95 / large.p95,
                    p95=auto.p95,
                    large_p95=large.p95,
                )  # fmt: skip
            )
        if "autoscaler" in keys:
            sentences.append(self._cooldown_sentence(self.by_key("autoscaler")))
        return sentences

    def _cheapest_sentence(self, p95_target: float) -> str:
        best = self.cheapest(p95_target)
        if best is None:
            fastest = min(self, key=lambda r: r.p95)
            return _("No set-up kept its p95 within {target:g} s: the fastest, {label}, took {p95:.2f} s.").format(
                target=p95_target, label=fastest.setup.label, p95=fastest.p95
            )
        return _(
            "For a p95 of at most {target:g} s, the cheapest set-up was {label}: p95 {p95:.2f} s, "
            "{spent:.0f} worker-seconds."
        ).format(target=p95_target, label=best.setup.label, p95=best.p95, spent=best.worker_seconds)

    @staticmethod
    def _cooldown_sentence(auto: SetupResult) -> str:
        cooldown = (auto.setup.autoscaler or {}).get("cooldown", 5.0)
        downs = sum(1 for d in auto.decisions if d.kind == "scale" and d.target < d.workers)
        if not downs:
            return _(
                "The autoscaler did not scale down before the trace ended: its cooldown of {cooldown:g} s "
                "never ran out."
            ).format(cooldown=cooldown)
        return ngettext(
            "The autoscaler's cooldown of {cooldown:g} s kept idle workers alive for {cost:.0f} worker-seconds "
            "before its scale-down, {share:.0f}% of all it spent.",
            "The autoscaler's cooldown of {cooldown:g} s kept idle workers alive for {cost:.0f} worker-seconds "
            "before its {downs} scale-downs, {share:.0f}% of all it spent.",
            downs,
        ).format(
            cooldown=cooldown,
            cost=auto.cooldown_cost,
            downs=downs,
            share=100 * auto.cooldown_cost / auto.worker_seconds,
        )

    def to_dict(self) -> dict:
        """The trace and every set-up's figures, JSON-ready."""
        trace = self.trace
        return {
            "trace": None if trace is None else {"seed": trace.seed, "tasks": len(trace), "length_s": trace.length},
            "setups": [r.row() for r in self],
        }


def run_setup(setup: Setup, trace: Trace | None = None, *, runtime_dir: str | None = None, name: str = "elastic"):
    """Run the trace under one set-up in a fresh cluster of its own (stopped afterwards); return its result."""
    trace = trace or bursty_trace()
    with Cluster(
        workers=setup.workers, name=name, runtime_dir=runtime_dir, worker_autoscale=setup.celery_autoscale
    ) as c:
        return run_on(c, setup, trace)


def run_on(cluster, setup: Setup, trace: Trace) -> SetupResult:
    """Replay the trace on a running cluster under the set-up's autoscaler (if any); record everything.

    The cluster gets back the workers it had before (an autoscaler leaves however many its last look wanted).
    """
    before = len(cluster.workers)
    scaler = Autoscaler(cluster, **setup.autoscaler) if setup.autoscaler is not None else None
    t0, t0_epoch = time.monotonic(), time.time()
    recorder = Recorder(cluster).start(t0)
    if scaler is not None:
        scaler.start(t0)
    try:
        sent = replay(cluster.celery, trace, t0)
        values = _collect(cluster.celery, sent, _result_timeout(setup, trace))
    finally:
        if scaler is not None:
            scaler.stop()
        recorder.stop()
    if scaler is not None and cluster.running:
        cluster.scale(before)
    runs = _runs(cluster.redis, [s.task_id for s in sent])
    tasks = [_task_row(s, values[s.task_id], runs[s.task_id], t0_epoch) for s in sent]
    decisions = scaler.decisions if scaler is not None else []
    ticks = scaler.ticks if scaler is not None else []
    return SetupResult(setup, trace, tasks, recorder.samples, decisions, ticks, t0)


def compare(trace: Trace | None = None, setups=None, *, runtime_dir: str | None = None, progress=None) -> Comparison:
    """Run the trace under each set-up (default_setups()), one after the other; return the Comparison.

    progress: called as ``progress(number, total, setup)`` before each set-up starts (number counts from 1);
    ``True`` prints a line such as "set-up 2 of 4: a fixed pool of 8 workers…" (a run takes a while, silently).
    """
    trace = trace or bursty_trace()
    chosen = list(setups or default_setups())
    say = print_progress if progress is True else progress
    results = []
    for number, setup in enumerate(chosen, start=1):
        if say:
            say(number, len(chosen), setup)
        results.append(run_setup(setup, trace, runtime_dir=runtime_dir))
    return Comparison(results, trace)


def print_progress(number: int, total: int, setup: Setup) -> None:
    """Print which set-up starts now: "set-up 2 of 4: a fixed pool of 8 workers…"."""
    print(_("set-up {number} of {total}: {label}…").format(number=number, total=total, label=setup.label), flush=True)


def _result_timeout(setup: Setup, trace: Trace) -> float:
    """Long enough for the whole trace on the set-up's fewest slots, plus a grace for a loaded machine."""
    fewest = max(1, setup.workers if setup.autoscaler is None else setup.autoscaler.get("min_workers", 1))
    return trace.length + trace.work_s / fewest + RESULT_GRACE_S


def _collect(app, sent: list[Sent], timeout: float) -> dict[str, object]:
    """Every task's result ({id: value}), read over the result channel (celery#3808: read all you subscribe)."""
    values: dict[str, object] = {}

    def keep(task_id, value):
        values[task_id] = value

    try:
        ResultSet([s.result for s in sent], app=app).join_native(
            timeout=timeout, callback=keep, propagate=False, interval=0.005
        )
    except TimeoutError:
        raise TimeoutError(
            _("expected the results of {expected} tasks within {seconds:.0f} s, found {found}").format(
                expected=len(sent), seconds=timeout, found=len(values)
            )
        ) from None
    return values


def _runs(client, ids: list[str]) -> dict[str, int]:
    """How many times each task started (long_task counts its runs in Redis)."""
    counts = client.mget([task_records.RUNS_PREFIX + task_id for task_id in ids]) if ids else []
    return {task_id: int(count or 0) for task_id, count in zip(ids, counts)}


def _task_row(sent: Sent, value, runs: int, t0_epoch: float) -> dict:
    """One task's times (s from the start) and where it ran; a task that failed says why instead."""
    if not isinstance(value, dict) or "finished" not in value:
        raise RuntimeError(
            _("expected task {id} to finish with a result, found {value}").format(id=sent.task_id, value=repr(value))
        )
    return {
        "id": sent.task_id,
        "due": sent.due,
        "sent": sent.sent,
        "started": value["started"] - t0_epoch,
        "finished": value["finished"] - t0_epoch,
        "latency": value["finished"] - sent.submitted,
        "worker": value["worker"],
        "runs": runs,
    }
