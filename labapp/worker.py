"""Entry point of worker processes: ``celery -A labapp.worker worker``.

Configuration comes from ``LABAPP_*`` variables set by the process that
starts the worker (the Cluster), so every worker of a cluster shares it.
"""

from __future__ import annotations

import os
import time

from celery.signals import (task_received, worker_init, worker_process_init, worker_ready,
                            worker_shutdown)
from celery.worker import state as worker_state

from . import heartbeat, procs
from .celery_app import make_celery
from .settings import Settings

settings = Settings.from_env()
if not settings.broker_url:
    raise RuntimeError("LABAPP_BROKER_URL is not set: workers are started by labapp.Cluster or `labapp up`")
app = make_celery(settings, settings.broker_url)
app.set_current()
app.set_default()

from . import tasks  # noqa: E402,F401  (registers the tasks on this app)

STARTED_AT = time.time()
_beating: dict = {}


@worker_init.connect
def _die_with_parent(**_):
    procs.watch_parent()


@worker_process_init.connect
def _pool_child_dies_with_worker(**_):
    procs.watch_parent()


@worker_ready.connect
def _start_heartbeat(sender, **_):
    node = sender.hostname
    pool = sender.controller.pool

    def collect(received=None) -> dict:
        # reserved: received and running or about to (prefetch 1, so at most one waits)
        requests = {req.id: req for req in list(worker_state.reserved_requests)
                    + list(worker_state.active_requests)}
        if received is not None:
            requests[received.id] = received
        active = [{"id": req.id, "name": req.name.rsplit(".", 1)[-1]} for req in requests.values()]
        pool_pids = list(getattr(pool, "info", {}).get("processes", []))
        # total_count counts a task when it is accepted; finished = accepted - still running
        finished = sum(worker_state.total_count.values()) - len(worker_state.active_requests)
        return heartbeat.own_pid_info(active, max(0, finished), STARTED_AT, pool_pids)

    client = app.backend.client
    _beating[node] = (client, heartbeat.start_beating(client, node, collect), collect)


@task_received.connect
def _beat_on_new_task(request, **_):
    """Say at once that this worker took a task (a monitor should not wait a second)."""
    for node, (client, _stop, collect) in list(_beating.items()):
        try:
            heartbeat.beat(client, node, collect(received=request))
        except Exception:
            pass


@worker_shutdown.connect
def _stop_heartbeat(sender, **_):
    for node, (client, stop, _collect) in list(_beating.items()):
        stop.set()
        try:
            heartbeat.forget(client, node)
        except Exception:
            pass
