"""A queue-length autoscaler: a controller thread that reads the queue and the busy workers, asks a policy
for a number of workers, keeps it within bounds, and scales the cluster.

The policy is a plain function ``policy(queue_length, busy, workers, now) -> target`` that a student can
replace. Scaling up happens at once; scaling down waits until the policy has wanted fewer workers for the
whole cooldown (no flapping), and goes through ``Cluster.scale``, which stops idle workers first and lets a
busy one finish its task (warm shutdown): no task is killed mid-run, none is delivered again.
"""

from __future__ import annotations

import math
import operator
import threading
import time
import weakref
from dataclasses import dataclass

from labapp.engine import heartbeat
from labapp.engine.celery_config import QUEUE
from labapp.i18n import _, ngettext

# an autoscaler per cluster: a cell run twice replaces its controller, never adds a second one
_RUNNING: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Load:
    """What the controller reads at each tick."""

    queue: int  # messages waiting in the broker's list (not yet taken by a worker)
    busy: int  # workers running (or holding) a task, from their heartbeats
    workers: int  # worker processes of the cluster


def read_load(cluster) -> Load:
    """The queue's length, the busy workers (heartbeats' ``active``) and the worker count of a cluster."""
    ours = {cluster.node_name(name) for name in list(cluster.workers)}
    beats = heartbeat.live_workers(cluster.redis)
    busy = sum(1 for beat in beats if beat["name"] in ours and beat.get("active"))
    return Load(cluster.redis.llen(QUEUE), busy, len(ours))


class QueueLengthPolicy:
    """The lab's policy, like KEDA's Redis-list scaler: one worker per ``per_worker`` queued tasks,
    never fewer than the workers busy now (so a scale-down only stops idle ones)."""

    def __init__(self, per_worker: int = 4):
        if isinstance(per_worker, bool) or not isinstance(per_worker, int) or per_worker < 1:
            raise ValueError(_("per_worker must be a whole number >= 1, got {value}").format(value=repr(per_worker)))
        self.per_worker = per_worker

    def __call__(self, queue_length: int, busy: int, workers: int, now: float) -> int:
        """ceil(queue_length / per_worker), at least ``busy``."""
        return max(math.ceil(queue_length / self.per_worker), busy)

    def explain(self, load: Load, target: int) -> str:
        """Why this policy wants ``target``, in words: "queue 40 > 4 × 8 workers → 10"."""
        values = dict(queue=load.queue, per=self.per_worker, workers=load.workers, busy=load.busy, target=target)
        if load.queue > self.per_worker * load.workers:
            return ngettext(
                "queue {queue} > {per} × {workers} worker → {target}",
                "queue {queue} > {per} × {workers} workers → {target}",
                load.workers,
            ).format(**values)
        if load.busy >= math.ceil(load.queue / self.per_worker) and load.busy:
            return ngettext(
                "queue {queue} ≤ {per} × {workers} worker, {busy} busy → {target}",
                "queue {queue} ≤ {per} × {workers} workers, {busy} busy → {target}",
                load.workers,
            ).format(**values)
        return ngettext(
            "queue {queue} ≤ {per} × {workers} worker → {target}",
            "queue {queue} ≤ {per} × {workers} workers → {target}",
            load.workers,
        ).format(**values)

    def __repr__(self) -> str:
        return f"QueueLengthPolicy(per_worker={self.per_worker})"


def _generic_reason(load: Load, wanted: int) -> str:
    """Why a policy without ``explain`` (a student's) wants ``wanted``."""
    return ngettext(
        "queue {queue}, {busy} of {workers} worker busy: the policy says {wanted}",
        "queue {queue}, {busy} of {workers} workers busy: the policy says {wanted}",
        load.workers,
    ).format(queue=load.queue, busy=load.busy, workers=load.workers, wanted=wanted)


def as_worker_count(value) -> int | None:
    """A policy's answer as a whole number of workers (a float rounds up); None if it is no number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return math.ceil(value) if math.isfinite(value) else None
    try:
        return operator.index(value)  # int, numpy's integers
    except TypeError:
        return None


@dataclass
class Decision:
    """One thing the controller did or refused, with why, for the dashboard and the plots.

    kind: "scale" (it called cluster.scale), "wait" (a scale-down waits for the cooldown), "error"
    (the policy raised or answered no number, or reading or scaling failed: the last target stays).
    """

    at: float  # seconds since the autoscaler started
    kind: str
    queue: int
    busy: int
    workers: int  # before the change
    wanted: int | None  # what the policy returned (None when it raised)
    target: int  # within the bounds
    reason: str
    clamped: bool = False
    done_at: float | None = None  # when cluster.scale returned: the workers were there (seconds)
    repeats: int = 1  # the same error at consecutive ticks is one decision

    def __str__(self) -> str:
        change = f"{self.workers} → {self.target}" if self.kind == "scale" else f"{self.workers}"
        return f"{self.at:6.1f} s  {self.kind:5}  {change:7}  {self.reason}"


@dataclass(frozen=True)
class Tick:
    """One look of the controller: the load it read and the target it kept (for plots)."""

    at: float
    queue: int
    busy: int
    workers: int
    target: int


class Autoscaler:
    """Scale a running cluster with its queue, from a thread, until stop() (or the end of a ``with``).

    ``policy(queue_length, busy, workers, now) -> target`` (``now``: seconds since start) decides; the
    controller keeps the target within [min_workers, max_workers] (and records a "clamped" decision when it
    had to), scales up at once, and scales down only after the policy wanted fewer workers for ``cooldown``
    seconds in a row. It looks every ``interval`` seconds. A policy that raises is reported (a decision of
    kind "error") and the last target stays.
    """

    def __init__(
        self,
        cluster,
        policy=None,
        *,
        min_workers: int = 1,
        max_workers: int = 8,
        cooldown: float = 5.0,
        interval: float = 0.5,
    ):
        self._check_bounds(cluster, min_workers, max_workers)
        if not callable(policy if policy is not None else len):
            raise TypeError(
                _("policy must be a function policy(queue_length, busy, workers, now), got {value}").format(
                    value=repr(policy)
                )
            )
        for name, value, low in (("cooldown", cooldown, 0.0), ("interval", interval, 0.01)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < math.inf:
                raise ValueError(
                    _("{name} must be a number of seconds >= {low:g}, got {value}").format(
                        name=name, low=low, value=repr(value)
                    )
                )
        self.cluster = cluster
        self.policy = policy if policy is not None else QueueLengthPolicy()
        self.min_workers, self.max_workers = min_workers, max_workers
        self.cooldown, self.interval = float(cooldown), float(interval)
        self.decisions: list[Decision] = []
        self.ticks: list[Tick] = []
        self.target = min(max(len(cluster.workers), min_workers), max_workers)
        self.started = 0.0  # time.monotonic() at start()
        self._below_since: float | None = None  # since when the policy wants fewer workers than run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _check_bounds(cluster, low, high) -> None:
        limit = cluster.settings.max_workers
        whole = all(isinstance(n, int) and not isinstance(n, bool) for n in (low, high))
        if not whole or not 0 <= low <= high or not 1 <= high <= limit:
            raise ValueError(
                _(
                    "expected 0 <= min_workers <= max_workers <= {limit} (whole numbers, max at least 1), "
                    "found min_workers={low} and max_workers={high}"
                ).format(limit=limit, low=repr(low), high=repr(high))
            )

    # ------------------------------------------------------------- life cycle
    def start(self, t0: float | None = None) -> "Autoscaler":
        """Start the controller thread (stopping another autoscaler of this cluster first); return self.

        t0: the time.monotonic() that ``now`` counts from (default: now), to share a clock with a recorder.
        """
        if not self.cluster.running:
            raise RuntimeError(_("the cluster is not running: start it before its autoscaler"))
        previous = _RUNNING.get(self.cluster)
        if previous is not None and previous is not self:
            previous.stop()
        if self.running:
            return self
        self._stop.clear()
        self.started = time.monotonic() if t0 is None else t0
        self._thread = threading.Thread(target=self._run, name="labapp-autoscaler", daemon=True)
        _RUNNING[self.cluster] = self
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the controller and wait for it (a scale-down in progress finishes first); safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            # a scale-down waits for a busy worker's task: as long as the longest task, at most
            self._thread.join(self.cluster.settings.longtask_max_x + 30)
            self._thread = None
        if _RUNNING.get(self.cluster) is self:
            del _RUNNING[self.cluster]

    @property
    def running(self) -> bool:
        """True while the controller thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "Autoscaler":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.cluster.running:  # the stop cell ran: nothing left to scale
                load = Load(0, 0, len(self.cluster.workers))
                self._record(
                    "error", self.now(), load, None, self.target, _("the cluster stopped: so did its autoscaler")
                )
                return
            self.tick()
            self._stop.wait(self.interval)

    # ------------------------------------------------------------- one look
    def now(self) -> float:
        """Seconds since start()."""
        return time.monotonic() - self.started

    def tick(self) -> None:
        """Read the load, ask the policy, keep the target within bounds, scale if it is time."""
        at = self.now()
        try:
            load = read_load(self.cluster)
        except Exception as exc:
            self._error(at, Load(0, 0, len(self.cluster.workers)), None, _("could not read the queue: {error}"), exc)
            return
        wanted, problem = self._ask_policy(load, at)
        if problem is not None:
            self._error(at, load, None, problem, None)
        else:
            target = min(max(wanted, self.min_workers), self.max_workers)
            self.target = target
            self._act(at, load, wanted, target)
        self.ticks.append(Tick(at, load.queue, load.busy, load.workers, self.target))

    def _ask_policy(self, load: Load, at: float) -> tuple[int | None, str | None]:
        """The policy's target, or None and what went wrong (it raised, or answered no number)."""
        try:
            answer = self.policy(load.queue, load.busy, load.workers, at)
        except Exception as exc:
            return None, _("the policy raised {error}: keeping {target} workers").format(
                error=f"{type(exc).__name__}: {exc}", target=self.target
            )
        wanted = as_worker_count(answer)
        if wanted is None:
            return None, _("the policy returned {value}, expected a whole number of workers: keeping {target}").format(
                value=repr(answer)[:80], target=self.target
            )
        return wanted, None

    def _act(self, at: float, load: Load, wanted: int, target: int) -> None:
        if target >= load.workers:
            self._below_since = None
        if target == load.workers:
            # the policy asks past the maximum, which the cluster has reached: said once, not at every tick
            if wanted > target and not self._held_at_bound(target):
                self._record("wait", at, load, wanted, target, self._reason(load, wanted, target), clamped=True)
            return
        reason = self._reason(load, wanted, target)
        if target < load.workers:
            if self._below_since is None:
                self._below_since = at
                if self.cooldown > 0:
                    waiting = _("{reason}; scaling down after the cooldown of {cooldown:g} s").format(
                        reason=reason, cooldown=self.cooldown
                    )
                    self._record("wait", at, load, wanted, target, waiting, clamped=wanted != target)
            if at - self._below_since < self.cooldown:
                return
            self._below_since = None
        self._scale(at, load, wanted, target, reason)

    def _held_at_bound(self, target: int) -> bool:
        """True when the last decision already said the cluster stays at this bound (said once, not each tick)."""
        last = self.decisions[-1] if self.decisions else None
        return last is not None and last.kind == "wait" and last.clamped and last.target == last.workers == target

    def _reason(self, load: Load, wanted: int, target: int) -> str:
        explain = getattr(self.policy, "explain", None)
        reason = explain(load, wanted) if callable(explain) else _generic_reason(load, wanted)
        if wanted > target:
            return _("{reason}; {wanted} is above the maximum: clamped to {target}").format(
                reason=reason, wanted=wanted, target=target
            )
        if wanted < target:
            return _("{reason}; {wanted} is below the minimum: clamped to {target}").format(
                reason=reason, wanted=wanted, target=target
            )
        return reason

    def _scale(self, at: float, load: Load, wanted: int, target: int, reason: str) -> None:
        decision = self._record("scale", at, load, wanted, target, reason, clamped=wanted != target)
        try:
            # a scale-down does not wait for the workers it lets go (they finish their task meanwhile):
            # the controller keeps looking, and a burst that comes meanwhile is met at once
            self.cluster.scale(target, wait=False)
        except Exception as exc:
            decision.kind = "error"
            decision.reason = _("could not scale to {target}: {error}").format(target=target, error=exc)
            return
        decision.done_at = self.now()

    def _record(self, kind, at, load, wanted, target, reason, clamped=False) -> Decision:
        decision = Decision(at, kind, load.queue, load.busy, load.workers, wanted, target, reason, clamped)
        self.decisions.append(decision)
        return decision

    def _error(self, at: float, load: Load, wanted, problem: str, exc) -> None:
        """Record an error once, however many ticks in a row it repeats."""
        reason = problem.format(error=exc) if exc is not None else problem
        last = self.decisions[-1] if self.decisions else None
        if last is not None and last.kind == "error" and last.reason == reason:
            last.repeats += 1
            return
        self._record("error", at, load, wanted, self.target, reason)

    # ------------------------------------------------------------- what happened
    @property
    def changes(self) -> list[Decision]:
        """The decisions that scaled the cluster."""
        return [d for d in self.decisions if d.kind == "scale"]

    @property
    def errors(self) -> list[Decision]:
        """The decisions where the policy, the broker or the cluster failed."""
        return [d for d in self.decisions if d.kind == "error"]

    def table(self, last: int = 20) -> str:
        """The last decisions, one a line: when, what, workers → target, and why."""
        lines = [str(d) for d in self.decisions[-last:]]
        return "\n".join(lines) if lines else _("no decision yet")

    __str__ = table

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<Autoscaler {state}: {self.policy!r}, {self.min_workers}..{self.max_workers} workers, "
            f"cooldown {self.cooldown:g} s, {len(self.changes)} changes>"
        )
