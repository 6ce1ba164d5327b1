"""The Celery application with the lab's hardened configuration (each line is taught in a lesson)."""

from __future__ import annotations

import logging
import os
import sys

import redis
from celery import Celery, states
from celery.backends.redis import RedisBackend
from celery.exceptions import BackendStoreError
from kombu.utils.encoding import bytes_to_str

from labapp.settings import Settings

TASK_MODULE = "labapp.tasks"
QUEUE = "celery"  # Celery's default queue; its Redis list is what the lessons inspect
# "inspect": the worker answers only the remote-control commands below (`labapp serve` and
# `labapp join` set it: a class's workers take no orders from a classmate's machine)
CONTROL_ENV = "LABAPP_REMOTE_CONTROL"
# side-effect-free commands: enough for ping, `celery inspect`, Flower's pages and `labapp status`
SAFE_CONTROL = (
    "ping", "stats", "active", "reserved", "scheduled", "revoked", "registered", "conf", "query_task",
    "active_queues", "clock", "report",
)  # fmt: skip


class PollingRedisBackend(RedisBackend):
    """Redis result backend for publishers that poll state and never wait on results.

    Celery's Redis backend subscribes the publisher to every task's result
    channel (celery#3808); a web API that never reads them would pile up
    subscriptions and unread messages without bound.
    """

    def on_task_call(self, producer, task_id):
        """Do not subscribe to the task's result channel."""


# Celery's store reads the stored result first (a redelivered task must not overwrite its SUCCESS), then
# writes and publishes it: two round trips, twice per task with STARTED. This script does the same in one.
STORE_UNLESS_SUCCEEDED = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, meta = pcall(cjson.decode, current)
  if ok and type(meta) == 'table' and meta['status'] == 'SUCCESS' then
    return 0
  end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SETEX', KEYS[1], ARGV[2], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""


class StoringRedisBackend(RedisBackend):
    """The workers' Redis result backend: Celery's, storing a state in one round trip instead of two.

    Same rule as Celery's (a stored SUCCESS is never overwritten: a redelivered task keeps its first
    result), same keys, expiry and channel message. A server that refuses scripts (a class's worker
    user may not load them) gets Celery's own two round trips.
    """

    one_trip = True  # False in this process once a server refused the script, or for a class's worker

    def _store_result(self, task_id, result, state, traceback=None, request=None, **kwargs):
        if not self.one_trip:
            return super()._store_result(task_id, result, state, traceback, request=request, **kwargs)
        meta = self._get_result_meta(result=result, state=state, traceback=traceback, request=request)
        meta["task_id"] = bytes_to_str(task_id)
        value = self.encode(meta)
        if isinstance(value, str) and len(value) > self._MAX_STR_VALUE_SIZE:
            raise BackendStoreError("value too large for Redis backend", state=state, task_id=task_id)
        expires = self.failure_expires if state == states.FAILURE else self.expires
        try:
            # not in self.ensure(): a lost connection goes to Celery's retry loop around _store_result at
            # once, as its own first read does (the lab's retry count and backoff, its log lines)
            self._store_unless_succeeded(self.get_key_for_task(task_id), value, expires)
        except redis.ResponseError:  # no scripts here (NOPERM, NOSCRIPT and no EVAL): Celery's way from now on
            StoringRedisBackend.one_trip = False
            return super()._store_result(task_id, result, state, traceback, request=request, **kwargs)
        return result

    def _store_unless_succeeded(self, key, value, expires) -> None:
        script = getattr(self, "_store_script", None)
        if script is None:
            script = self._store_script = self.client.register_script(STORE_UNLESS_SUCCEEDED)
        script(keys=[key], args=[value, int(expires or 0)])


def delivery_config(delivery: str) -> dict:
    """The settings behind a delivery guarantee: "at_least_once" (the lab's) or "early_ack" (Celery's)."""
    if delivery == "early_ack":
        # Celery's defaults: the message is acked when a worker receives it, and each worker
        # reserves 4: faster, but a worker killed mid-task loses its task and the reserved ones.
        return dict(
            task_acks_late=False,
            task_reject_on_worker_lost=False,
            worker_prefetch_multiplier=4,
            task_track_started=False,
        )
    return dict(
        # Ack after the task ran, and requeue it if its process died: no lost tasks.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One task at a time per worker process, so N workers means N tasks in parallel.
        worker_prefetch_multiplier=1,
        task_track_started=True,
    )


def celery_config(settings: Settings, broker_url: str) -> dict:
    """The configuration shared by the API, the workers and notebook clients."""
    transport = {
        "visibility_timeout": settings.visibility_timeout,
        # how often workers look for unacked tasks of dead workers (kombu default 10 s)
        "unacked_restore_interval": 2,
        "unacked_restore_throttle": 1,
        "socket_timeout": 5,
        "socket_connect_timeout": settings.broker_timeout,
    }
    return dict(
        broker_url=broker_url,
        result_backend=broker_url,
        # JSON only: a pickle payload in the queue would be code execution on every worker.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        **delivery_config(settings.delivery),
        result_extended=True,
        # An endless loop ends FAILURE instead of taking every worker in turn (Settings explains the numbers).
        task_soft_time_limit=settings.soft_time_limit,
        task_time_limit=settings.hard_time_limit,
        result_expires=settings.result_expires,
        broker_transport_options=transport,
        result_backend_transport_options=dict(transport),
        redis_socket_timeout=5,
        redis_socket_connect_timeout=settings.broker_timeout,
        result_backend_always_retry=True,
        # Retries back off to ~5 s each: past the 10th, one retry per second of visibility
        # timeout outlasts any broker outage shorter than it (10 retries gave up after ~16 s:
        # a task that ended during a longer outage stored FAILURE once the broker was back).
        result_backend_max_retries=10 + settings.visibility_timeout,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=settings.broker_timeout,
        worker_send_task_events=settings.task_events,
        task_send_sent_event=settings.task_events,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        enable_utc=True,
        timezone="UTC",
    )


def _refusing(command: str):
    """A control handler that does nothing but say, in the worker's log and its reply, that it refused."""

    def refuse(state, **_):
        text = "refused remote control command {!r}: this class's workers answer only {}".format(
            command, ", ".join(SAFE_CONTROL)
        )
        logging.getLogger("labapp.control").warning(text)
        return {"error": text}

    return refuse


def limit_remote_control() -> list[str]:
    """Make this process's workers refuse every control command but SAFE_CONTROL; return the refused ones."""
    from celery.worker.control import Panel

    refused = sorted(name for name in Panel.data if name not in SAFE_CONTROL)
    for name in refused:
        Panel.data[name] = _refusing(name)
    return refused


def make_celery(
    settings: Settings, broker_url: str, *, polling: bool = False, storing: bool = False, name: str = "labapp"
) -> Celery:
    """Create a Celery app bound to broker_url; ``polling`` for publishers that never wait, ``storing`` for
    workers (results stored in one round trip)."""
    app = Celery(name, set_as_current=False)
    app.conf.update(celery_config(settings, broker_url))
    if polling:
        app.conf.result_backend = f"{__name__}:PollingRedisBackend+{broker_url}"
    elif storing:
        app.conf.result_backend = f"{__name__}:StoringRedisBackend+{broker_url}"
    app.conf.imports = (TASK_MODULE,)
    app.lab_settings = settings  # the tasks' bounds, the same the API checks (labapp.tasks reads them)
    if os.environ.get(CONTROL_ENV) == "inspect":
        limit_remote_control()
    return app


def worker_command(app_module: str, node_name: str, autoscale: tuple[int, int] | None = None) -> list[str]:
    """The command line of one lab worker: one task at a time (``N workers`` = N tasks in parallel), no
    mingle or gossip (first task ~0.4 s after spawn instead of ~1.5 s).

    ``autoscale=(max, min)``: Celery's own ``--autoscale=max,min`` instead, a pool that grows and shrinks
    inside this one worker (lesson 10 compares it with adding whole workers).
    """
    pool = ["--autoscale", f"{autoscale[0]},{autoscale[1]}"] if autoscale else ["--concurrency", "1"]
    return [sys.executable, "-m", "celery", "-A", app_module, "worker", "--pool", "prefork", *pool,
            "--hostname", node_name, "--without-mingle", "--without-gossip", "--loglevel", "INFO"]  # fmt: skip
