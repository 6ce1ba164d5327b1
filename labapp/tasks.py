"""The tasks workers run: the class's long_task and factorial, and two benchmark tasks."""

from __future__ import annotations

import math
import os
import sys
import time

import celery.exceptions
from celery import shared_task
from celery.exceptions import BackendError, Ignore
from celery.utils.log import get_task_logger
from redis import RedisError

from labapp.engine import task_records
from labapp.settings import Settings

logger = get_task_logger(__name__)
STEP_SECONDS = 0.25  # long_task reports progress and checks for cancel this often


class NotRegistered(celery.exceptions.NotRegistered):
    """Celery's NotRegistered (the checks look for the name) whose message says which worker and why."""

    __str__ = Exception.__str__  # Celery's wraps the text in "Task of kind ... never registered"

    def __repr__(self) -> str:
        return f"NotRegistered({str(self)!r})"


class RefusedMessage(Exception):
    """A message in a serializer the lab refuses (pickle); stored as that task's FAILURE, for /status."""


class Cancelled(Ignore):
    """Raised inside a task that saw its cancel flag; the task ends as REVOKED."""


def _stop_if_cancelled(task) -> None:
    """Cooperative cancel: end the task as REVOKED if its cancel flag is up."""
    try:
        requested = task_records.cancel_requested(task.backend.client, task.request.id)
    except RedisError:
        return  # broker away for a moment (restart): keep working, check at the next step
    if requested:
        task.backend.mark_as_revoked(task.request.id, "cancelled on request", request=task.request)
        raise Cancelled()


def _check_argument(task, field: str, value, maximum: float, integer: bool = False) -> None:
    """Refuse what the API refuses (400): a client may publish to the queue past the API, e.g. send_task."""
    kind = "an integer" if integer else "a number"
    right_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, int) and abs(value) >= 10**16:  # str() of a huge int would itself fail
        found = f"an integer of {value.bit_length()} bits"
    else:
        found = repr(value)
    expected = f"{task.name}: expected {field} to be {kind} from 0 to {maximum:g}, found {found}"
    if isinstance(value, bool) or not right_type:
        raise TypeError(expected)
    if not 0 <= value <= maximum:  # NaN too
        raise ValueError(expected)


def _bounds(task) -> Settings:
    """The settings the worker's app was made with (the lab's and the class's), else the defaults."""
    return getattr(task.app, "lab_settings", None) or Settings()


def _worker_stamp(task) -> dict:
    return {"worker": task.request.hostname, "pid": os.getpid()}


@shared_task(bind=True)
def long_task(self, x: float) -> dict:
    """Simulate x seconds of work in steps, reporting PROGRESS; cancellable between steps."""
    _check_argument(self, "x", x, _bounds(self).longtask_max_x)
    started = time.time()
    run = _count_run(self)
    total = max(1, math.ceil(x / STEP_SECONDS))
    for current in range(total):
        _stop_if_cancelled(self)
        _report_progress(self, current, total)
        time.sleep(x / total)
    return {
        "x": x,
        "steps": total,
        "message": f"worked {x} s in {total} steps",
        "run": run,
        "started": started,
        "finished": time.time(),
        **_worker_stamp(self),
    }


def _count_run(task) -> int | None:
    """Which start of this task this is (2 after a redelivery); None if the broker is away."""
    try:
        return task_records.count_run(task.backend.client, task.request.id)
    except RedisError:
        return None


def _report_progress(task, current: int, total: int) -> None:
    """Store PROGRESS; best effort, as a lost progress note must not fail the work."""
    try:
        task.update_state(state="PROGRESS", meta={"current": current, "total": total, **_worker_stamp(task)})
    except (RedisError, BackendError) as exc:
        # Celery gives up after its retries (~16 s without a broker) with BackendStoreError:
        # the work goes on, the next step reports again
        logger.warning("progress %s/%s of task %s not stored (broker away): %s", current, total, task.request.id, exc)


def int_to_decimal(value: int) -> str:
    """Format a big int in decimal, lifting Python's 4300-digit guard just enough."""
    needed = int(value.bit_length() * math.log10(2)) + 2
    if needed > sys.get_int_max_str_digits() > 0:
        sys.set_int_max_str_digits(needed)
    return str(value)


@shared_task(bind=True)
def factorial(self, n: int) -> dict:
    """n! as a decimal string (JSON numbers cannot carry it), with its digit count."""
    _check_argument(self, "n", n, _bounds(self).factorial_max_n, integer=True)
    _stop_if_cancelled(self)
    value = int_to_decimal(math.factorial(n))
    return {"n": n, "digits": len(value), "value": value}


@shared_task(bind=True)
def sleep_ms(self, ms: int) -> dict:
    """Wait ms milliseconds (I/O-bound work): for scaling benchmarks."""
    _check_argument(self, "ms", ms, _bounds(self).bench_max_ms)
    started = time.time()
    time.sleep(ms / 1000)
    return {"ms": ms, "started": started, "finished": time.time(), **_worker_stamp(self)}


@shared_task(bind=True)
def cpu_ms(self, ms: int) -> dict:
    """Keep one core busy for ms milliseconds of CPU time (CPU-bound work): for benchmarks."""
    _check_argument(self, "ms", ms, _bounds(self).bench_max_ms)
    started = time.time()
    deadline = time.process_time() + ms / 1000
    spins = 0
    while time.process_time() < deadline:
        for i in range(1000):
            spins += i * i % 7
    return {"ms": ms, "started": started, "finished": time.time(), **_worker_stamp(self)}
