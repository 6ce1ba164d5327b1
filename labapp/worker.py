"""Entry point of worker processes: ``celery -A labapp.worker worker``.

Configuration comes from ``LABAPP_*`` variables set by the process that
starts the worker (the Cluster, `labapp join`), so every worker of a cluster
shares it. Celery's own ``celery -A labapp.worker -b URL worker`` works too:
the broker comes from ``-b``, and the settings from the class the broker runs.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from urllib.parse import urlsplit

import redis
from celery.signals import (
    task_postrun,
    task_prerun,
    task_received,
    task_rejected,
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)
from celery.worker import state as worker_state
from celery.worker.consumer import Consumer
from kombu.exceptions import ContentDisallowed

from labapp.engine import classroom_protocol, heartbeat, logfiles, processes, task_records, time_limits
from labapp.engine.celery_config import StoringRedisBackend, make_celery
from labapp.engine.processes import CLUSTER_ENV
from labapp.i18n import _
from labapp.settings import ENV_PREFIX, Settings

logger = logging.getLogger(__name__)
CLASSROOM: list = []  # the classroom this worker joined (None: none), read once at start

# Celery reads these from the environment over its configuration (`-b URL` sets the first)
CELERY_URL_ENV = ("CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL", "CELERY_RESULT_BACKEND")


def started_by_the_lab(environ=None) -> bool:
    """True for a worker that a Cluster or `labapp join` started (they mark their children)."""
    environ = os.environ if environ is None else environ
    return bool(environ.get(CLUSTER_ENV))


def worker_settings(environ=None) -> Settings:
    """This worker's settings: a class's shared settings first, then LABAPP_*, then the defaults.

    The broker: the lab's LABAPP_BROKER_URL for a worker the lab started (a CELERY_BROKER_URL
    left in the user's shell must not take it to another broker); for a plain
    ``celery -A labapp.worker -b URL worker``, the URL of ``-b`` (Celery puts it in
    CELERY_BROKER_URL before this module loads, and uses it over any configuration), else
    LABAPP_BROKER_URL. A worker that joins a class that runs other code, or whose password
    the broker refuses, stops here, saying so.
    """
    environ = os.environ if environ is None else environ
    lab = environ.get(ENV_PREFIX + "BROKER_URL")
    url = lab if started_by_the_lab(environ) else (environ.get("CELERY_BROKER_URL") or lab)
    if not url:
        raise RuntimeError(
            "no broker URL: give one with `celery -A labapp.worker -b redis://... worker`, "
            "or use `labapp join`, `labapp up` or labapp.Cluster, which start workers"
        )
    shared = {}
    info = _read_class(url)
    CLASSROOM.append(info)
    if info is not None:
        problem = classroom_protocol.version_problem(info)
        if problem:
            raise RuntimeError(problem)
        # the class's settings win over this machine's LABAPP_* (left from a lesson, say):
        # every worker of a class acks, and gives back a dead worker's task, alike
        shared = dict(info.get("settings", {}))
    return Settings.from_env(environ, broker_url=url, **shared)


def _read_class(url: str) -> dict | None:
    """The class the broker runs (None if none, or if the broker is away: Celery retries and says so)."""
    client = classroom_protocol.connect(url)
    try:
        return classroom_protocol.read(client)
    except (redis.AuthenticationError, redis.ResponseError) as exc:
        if isinstance(exc, redis.AuthenticationError) or "WRONGPASS" in str(exc) or "NOAUTH" in str(exc):
            # Celery would retry a wrong password for ever, one log line at a time
            raise RuntimeError(
                f"the broker at {classroom_protocol.where(url)} refused the password (user "
                f"{urlsplit(url).username or 'default'}): check the URL, or ask the "
                "instructor for the current join file"
            ) from None
        return None
    except Exception:
        return None
    finally:
        client.close()


if started_by_the_lab():
    for name in CELERY_URL_ENV:
        os.environ.pop(name, None)  # else Celery would take its broker from the user's shell

try:
    settings = worker_settings()
except RuntimeError as exc:
    # in words, not a traceback under Celery's "Unable to load celery application" usage text:
    # `celery -A labapp.worker -b URL worker` is a student's command
    raise SystemExit(f"error: {exc}") from None
if settings.worker_nice:
    os.nice(settings.worker_nice)  # before the pool forks: its processes inherit it
app = make_celery(settings, settings.broker_url, storing=True)
if CLASSROOM[0] is not None:
    # a class's worker user may not load scripts (its ACL): Celery's two round trips, and no refusal in ACL LOG
    StoringRedisBackend.one_trip = False
app.conf.worker_consumer = f"{__name__}:LabConsumer"
app.set_current()
app.set_default()

from labapp import tasks  # noqa: E402  (registers the tasks on this app)
from labapp.engine import student_code  # noqa: E402

# a worker replacing a namesake (add_tasks) has Celery's imports done by now; it goes on once that one has
# ended, so the student's module (which may end this process) writes below the separator in its log
processes.wait_at_gate()
STUDENT_MODULES = student_code.load_student_tasks()  # the modules a student added with cluster.add_tasks()
# their tasks' names: in the heartbeat, so that a worker without them passes them on (LabConsumer)
STUDENT_TASKS = sorted(name for name, task in app.tasks.items() if task.__module__ in STUDENT_MODULES)
REQUEUE_PAUSE = 0.5  # s before a task this worker cannot run goes back to the queue (else a hot loop)

STARTED_AT = time.time()


@worker_init.connect
def _die_with_parent(**_):
    processes.watch_parent(parent=processes.owner_pid())


@worker_init.connect
def _cap_own_log(**_):
    # in the main process only: its pool's prints land in the same file, which it keeps bounded
    logfiles.start_capping(int(settings.log_max_mb * logfiles.MB))


@worker_process_init.connect
def _pool_child_dies_with_worker(**_):
    processes.watch_parent()


time_limits.explain_hard_limit()


@task_prerun.connect
def _explain_soft_time_limit(task, **_):
    time_limits.explain_soft_limit(task)


class WorkerBeat:
    """This worker's heartbeat: who it is, what it runs, how many tasks it finished."""

    def __init__(self, node: str, pool, client):
        self.node, self.pool, self.client = node, pool, client
        self.last_busy = False
        self.leaving = False
        self.stop_event = heartbeat.start_beating(client, node, self._periodic)

    def leave_if_class_ended(self) -> None:
        """A worker that joined a class leaves (warm shutdown) once the instructor has ended it."""
        if not (CLASSROOM and CLASSROOM[0]) or self.leaving:
            return
        if classroom_protocol.read(self.client) is None:
            self.leaving = True
            print("the class has ended (the instructor stopped it): this worker leaves", flush=True)
            os.kill(os.getpid(), signal.SIGTERM)  # Celery's warm shutdown: running tasks finish

    def _periodic(self) -> dict:
        info = self.collect()
        heartbeat.mark_beat_file(os.environ.get(CLUSTER_ENV), self.node)
        try:
            self.leave_if_class_ended()
        except Exception:  # broker away for a moment: look again at the next beat
            pass
        return info

    def collect(self, received=None) -> dict:
        """The info of one beat; ``received`` is a request not yet in Celery's state."""
        # reserved: received and running or about to (prefetch 1, so at most one waits)
        requests = {req.id: req for req in list(worker_state.reserved_requests) + list(worker_state.active_requests)}
        if received is not None:
            requests[received.id] = received
        active = [{"id": req.id, "name": req.name.rsplit(".", 1)[-1]} for req in requests.values()]
        self.last_busy = bool(active)
        pool_pids = list(getattr(self.pool, "info", {}).get("processes", []))
        # total_count counts a task when it is accepted; finished = accepted - still running
        finished = sum(worker_state.total_count.values()) - len(worker_state.active_requests)
        info = heartbeat.own_pid_info(active, max(0, finished), STARTED_AT, pool_pids)
        return {**info, "student_modules": STUDENT_MODULES, "student_tasks": STUDENT_TASKS}

    def on_received(self, request) -> None:
        """Beat at once when an idle worker takes a task; a busy one waits for its next beat."""
        if not self.last_busy:  # beating on every task would cost tiny tasks ~10% throughput
            heartbeat.beat(self.client, self.node, self.collect(received=request))

    def stop(self) -> None:
        """Stop beating and remove the key: a clean shutdown is seen at once."""
        self.stop_event.set()
        heartbeat.forget(self.client, self.node)


_beat: list[WorkerBeat] = []


@worker_ready.connect
def _start_heartbeat(sender, **_):
    _beat.append(WorkerBeat(sender.hostname, sender.controller.pool, app.backend.client))


@task_received.connect
def _beat_on_new_task(request, **_):
    for beat in _beat:
        try:
            beat.on_received(request)
        except Exception:  # broker away for a moment: the periodic beat catches up
            pass


# the benchmarks' tiny tasks: one more broker round trip each would change what they measure
UNRECORDED_ENDS = {"labapp.tasks.sleep_ms", "labapp.tasks.cpu_ms"}


@task_postrun.connect
def _record_completion(task_id, task, state, **_):
    # a task that finished twice (a stopped worker resumed after its task was redelivered) keeps
    # the first result: Celery drops the later one without a word, so count the ends where /status reads
    if state not in ("SUCCESS", "FAILURE") or task.name in UNRECORDED_ENDS or task.request.ignore_result:
        return
    try:
        count = task_records.count_completion(task.backend.client, task_id)
    except Exception:  # broker away: the log line of the task's end is all there is
        return
    if count > 1:
        print(
            f"labapp: task {task.name}[{task_id}] finished again (end number {count}); the result stored first is kept",
            flush=True,
        )


@worker_shutdown.connect
def _stop_heartbeat(sender, **_):
    for beat in _beat:
        try:
            beat.stop()
        except Exception:
            pass


def _mark_failed(task_id: str, exc: Exception) -> None:
    """Store FAILURE for a task this worker could not run, where /status and AsyncResult look."""
    try:
        app.backend.mark_as_failure(task_id, exc, call_errbacks=False)
    except Exception:  # broker away: the worker's log still says why
        pass


def unknown_task_error(name: str, hostname: str) -> str:
    """What the FAILURE of a task this worker does not know says: where it landed, and the two usual cures."""
    return _(
        "unregistered task {name} on worker {hostname}: that worker never imported a module that defines it "
        "(your own task: load its module with cluster.add_tasks; another app's task: give that app its own "
        "database with labapp env)"
    ).format(name=repr(name), hostname=hostname)  # in the language of the kernel that started the worker


def loading_here() -> set[str]:
    """Task names this worker's cluster is loading now: recorded in its folder after this worker started."""
    folder = os.environ.get(CLUSTER_ENV)
    if not folder:
        return set()
    tried = set(student_code.modules_in_env())  # a module this worker failed to import is not "loading"
    recorded = student_code.recorded_tasks(folder)
    return {name for module, entry in recorded.items() if module not in tried for name in entry.get("tasks", [])}


def another_worker_knows(name: str) -> bool:
    """True while a worker that runs this task could still take it: a live one has it, or it is being loaded."""
    if name in loading_here():
        return True
    try:
        beats = heartbeat.live_workers(app.backend.client)
    except Exception:  # broker away: Celery's own handling, as before
        return False
    return any(name in beat.get("student_tasks", ()) for beat in beats)


class LabConsumer(Consumer):
    """Celery's consumer, whose FAILURE for an unknown task says where and why (Celery's says only the name).

    The rule for a task this worker does not know: a student's task that another live worker has (its
    heartbeat lists it), or that this cluster is loading (its record), goes back to the queue for that
    worker, never acked and dropped; any other name (another app's task on the lab's queue) ends FAILURE.

    Celery stores that FAILURE itself, then signals task_unknown: a second write from the signal would race
    with a client already waiting (``.get()`` returns on the first), so the first write carries the message.
    """

    def on_unknown_task(self, body, message, exc):
        """Requeue a task another worker knows; else Celery's handling with the explained NotRegistered."""
        headers = getattr(message, "headers", None) or {}
        name = headers.get("task")
        if isinstance(name, str) and another_worker_knows(name):
            print(
                f"labapp: task {name!r} [{headers.get('id')}] is not registered on {self.hostname}, but another "
                "worker has it (or is loading it): requeued for it",
                flush=True,
            )
            time.sleep(REQUEUE_PAUSE)
            message.reject_log_error(logger, self.connection_errors, requeue=True)
            return
        module = sys.modules[Consumer.__module__]
        plain = module.NotRegistered
        # labapp's NotRegistered: Celery's, whose text reads plainly (Celery's, a KeyError, quotes it)
        module.NotRegistered = lambda name: tasks.NotRegistered(unknown_task_error(name, self.hostname))
        try:  # the consumer handles one message at a time, in one thread
            super().on_unknown_task(body, message, exc)
        finally:
            module.NotRegistered = plain


@task_rejected.connect
def _report_refused_message(sender, message, exc=None, **_):
    # a message in a refused serializer (pickle) is discarded with only a log line: the client would
    # see PENDING for ever
    headers = getattr(message, "headers", None) or {}
    if not isinstance(exc, ContentDisallowed) or not headers.get("id"):
        return
    _mark_failed(
        headers["id"],
        tasks.RefusedMessage(
            f"refused task {headers.get('task', '?')!r} on worker {getattr(sender, 'hostname', '?')}: expected a "
            f"message in JSON, found {message.content_type} (the lab accepts JSON only: pickle would run "
            "whatever code the message holds)"
        ),
    )
