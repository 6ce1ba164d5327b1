"""The lab's worker app with Celery's defaults where the design hardens delivery, for one benchmark row.

Not for use anywhere else: it gives up the lab's no-lost-task guarantee and
the STARTED state. It exists so that the benchmark can tell the cost of the
design's settings (acks_late + reject_on_worker_lost, prefetch 1,
track_started) from the cost of the lab's own machinery (heartbeats,
result_extended, logging, the task code). Workers load it with
``celery -A lab_celery_defaults worker``.
"""

from labapp.worker import app  # noqa: F401  (the lab's app, signals and tasks)

app.conf.update(task_acks_late=False, task_reject_on_worker_lost=False, worker_prefetch_multiplier=4,
                task_track_started=False)
