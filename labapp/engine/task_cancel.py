"""Cancel any task on the lab's workers: Celery's revoke with terminate, and what came of it in words.

The API's ``DELETE /tasks/<id>`` stays a cooperative cancel (a flag the lab's own tasks look at between
steps). This one works on any task, a student's endless loop too: the worker kills the process that runs
it and stores REVOKED; a task still queued is dropped by the worker that takes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from labapp.i18n import _

READY_STATES = ("SUCCESS", "FAILURE", "REVOKED")
REPLY_TIMEOUT = 3.0  # s: every asked worker answers a revoke at once, even one whose task spins


@dataclass(frozen=True)
class CancelOutcome:
    """What ``Cluster.cancel`` / ``labapp cancel`` did, shown as one sentence."""

    task_id: str
    before: str  # the task's state before
    after: str  # its state once the workers answered
    asked: tuple[str, ...] = ()  # the workers asked to revoke it
    refused: tuple[str, ...] = ()  # those that refuse revoke (a class's workers: LABAPP_REMOTE_CONTROL=inspect)
    time_limit: float = 0.0  # the soft time limit that ends a task no one could cancel

    @property
    def done(self) -> bool:
        """True when the task ended (REVOKED now, or finished before) or will be dropped when taken."""
        return self.before in READY_STATES or self.after == "REVOKED" or (bool(self.asked) and not self.refused)

    def __str__(self) -> str:
        if self.before in READY_STATES:
            return _("task {id} had already finished ({state}): nothing to cancel").format(
                id=self.task_id, state=self.before
            )
        if self.after == "REVOKED":
            return _("task {id} was cancelled: its state is REVOKED, and its worker takes new tasks").format(
                id=self.task_id
            )
        if self.refused:
            return _(
                "task {id} was not cancelled: the class's workers ({workers}) refuse revoke from anyone "
                "(LABAPP_REMOTE_CONTROL=inspect), so it runs on until it ends or its time limit of "
                "{seconds:g} s stops it"
            ).format(id=self.task_id, workers=", ".join(self.refused), seconds=self.time_limit)
        if not self.asked:
            return _(
                "task {id} was not cancelled: no worker is running to ask (a queued task runs once workers start)"
            ).format(id=self.task_id)
        return _(
            "task {id} is not running ({state}): the workers drop it when they take it from the queue (it "
            "reads REVOKED then); an id that was never submitted stays PENDING"
        ).format(id=self.task_id, state=self.after)

    __repr__ = __str__

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


def state_of(app, task_id: str) -> str:
    """The task's state in the result backend (PENDING for an id it does not know)."""
    return app.AsyncResult(task_id).state


def cancel(app, task_id: str, workers: list[str], time_limit: float = 0.0) -> CancelOutcome:
    """Revoke task_id on these workers (node names), killing the process that runs it; say what came of it."""
    if not isinstance(task_id, str) or not task_id:
        raise ValueError(
            _("expected a task id (a string, or an AsyncResult), found {value}").format(value=repr(task_id))
        )
    before = state_of(app, task_id)
    if before in READY_STATES:
        return CancelOutcome(task_id, before, before, time_limit=time_limit)
    replies = []
    if workers:
        # SIGKILL: a student's task may catch SIGTERM; the worker replaces the killed pool process
        replies = app.control.revoke(
            task_id, terminate=True, signal="SIGKILL", reply=True,
            destination=list(workers), limit=len(workers), timeout=REPLY_TIMEOUT,
        )  # fmt: skip
    refused = sorted(node for reply in replies or [] for node, answer in reply.items() if "error" in answer)
    return CancelOutcome(task_id, before, state_of(app, task_id), tuple(workers), tuple(refused), time_limit)
