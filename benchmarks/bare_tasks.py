"""The bare Celery + Redis setup, written the way the original class writes it.

One module with the app and its tasks; workers start with
``celery -A bare_tasks worker -c 1`` (run from this folder). Every setting is
Celery's default except the JSON serializer, which the benchmark's clients and
the lab use too. The broker URL comes from ``BARE_BROKER_URL``.
"""

import os
import time

from celery import Celery

BROKER_URL = os.environ.get("BARE_BROKER_URL", "redis://localhost:6379/0")

if int(os.environ.get("BARE_NICE", "0")):
    os.nice(int(os.environ["BARE_NICE"]))  # the lab's worker priority, set the same way (before the pool forks)

celery = Celery("bare_tasks", broker=BROKER_URL, backend=BROKER_URL)
celery.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])
if os.environ.get("BARE_RELIABLE") == "1":
    # the lab's reliability settings alone, to tell their cost from the lab's own
    celery.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1)


@celery.task
def sleep_ms(ms):
    """Wait ms milliseconds; return the same timing record as the lab's task."""
    started = time.time()
    time.sleep(ms / 1000)
    return {
        "ms": ms,
        "started": started,
        "finished": time.time(),
        "worker": sleep_ms.request.hostname,
        "pid": os.getpid(),
    }
