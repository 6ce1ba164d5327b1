"""Every task's time limits, with a FAILURE that says so in words (Celery's says only a number).

Past the soft limit the task's process gets SIGUSR1 and the task an exception (it may clean up);
past the hard limit the worker kills the process. Either way the task ends FAILURE and its message
is acked: an endless loop is stopped once, never delivered again to spin on the next worker.
"""

from __future__ import annotations

import signal

from billiard import exceptions as billiard_exceptions

from labapp.i18n import _


def _seconds(value) -> str:
    return f"{float(value):g}"


class SoftTimeLimit(billiard_exceptions.SoftTimeLimitExceeded):
    """Celery's SoftTimeLimitExceeded (a task may catch either) whose text says what happened."""

    def __init__(self, seconds_or_text=None):
        if isinstance(seconds_or_text, str):  # rebuilt from a stored result
            text = seconds_or_text
        else:
            text = _(
                "the task ran past its time limit of {seconds} s and was stopped (an endless loop? a task "
                "that needs longer: Cluster(task_soft_time_limit=..., task_time_limit=..., visibility_timeout=...))"
            ).format(seconds=_seconds(seconds_or_text or 0))
        super().__init__(text)

    __str__ = Exception.__str__  # billiard's repeats the class name around the arguments

    def __repr__(self) -> str:
        return f"SoftTimeLimit({str(self)!r})"


class HardTimeLimit(billiard_exceptions.TimeLimitExceeded):
    """Celery's TimeLimitExceeded whose text says the task's process was killed at its hard limit."""

    def __init__(self, seconds_or_text=None):
        if isinstance(seconds_or_text, str):
            text = seconds_or_text
        else:
            text = _(
                "the task ran past its hard time limit of {seconds} s and its process was killed (it went on "
                "after its soft limit's exception: does it catch every exception?)"
            ).format(seconds=_seconds(seconds_or_text or 0))
        super().__init__(text)

    __str__ = Exception.__str__

    def __repr__(self) -> str:
        return f"HardTimeLimit({str(self)!r})"


def soft_limit_of(task) -> float:
    """The soft limit of the task that runs now: its message's, its own, else the app's."""
    limits = getattr(task.request, "timelimit", None) or (None, None)
    return limits[1] or task.soft_time_limit or task.app.conf.task_soft_time_limit or 0


def explain_soft_limit(task) -> None:
    """In the process that runs task: past its soft limit, raise SoftTimeLimit (called before it runs)."""

    def raise_soft_limit(signum, frame):
        raise SoftTimeLimit(soft_limit_of(task))

    try:
        signal.signal(signal.SIGUSR1, raise_soft_limit)  # billiard's handler raises a bare exception
    except ValueError:  # not the main thread (a threads or solo pool): Celery's own handling stays
        pass


def explain_hard_limit() -> None:
    """In a worker's main process: the hard limit's FAILURE is a HardTimeLimit (a TimeLimitExceeded)."""
    import billiard.pool
    import celery.worker.request

    # both build the exception as TimeLimitExceeded(seconds); every isinstance check still holds
    billiard.pool.TimeLimitExceeded = HardTimeLimit
    celery.worker.request.TimeLimitExceeded = HardTimeLimit
