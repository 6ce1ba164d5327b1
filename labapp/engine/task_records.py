"""What the lab keeps in Redis beside Celery: submit records, cancel flags, run counts."""

from __future__ import annotations

import json
import time

SUBMIT_PREFIX = "labapp:submitted:"
CANCEL_PREFIX = "labapp:cancel:"
RUNS_PREFIX = "labapp:runs:"
DONE_SUFFIX = ":done"  # labapp:runs:<id>:done counts how many times the task ran to its end
RUNS_EXPIRE_S = 3600


def save_submission(client, task_id: str, name: str, args: dict, expires: int) -> None:
    """Record that this cluster issued task_id, so /status can tell it from an unknown id."""
    record = {"name": name, "args": args, "submitted_at": time.time()}
    client.set(SUBMIT_PREFIX + task_id, json.dumps(record), ex=expires)


def load_submission(client, task_id: str) -> dict | None:
    """The submit record of task_id, or None if this cluster never issued it (or it expired)."""
    raw = client.get(SUBMIT_PREFIX + task_id)
    return json.loads(raw) if raw else None


def forget_submission(client, task_id: str) -> None:
    """Drop a submit record (the publish that followed it failed)."""
    client.delete(SUBMIT_PREFIX + task_id)


def request_cancel(client, task_id: str, expires: int) -> None:
    """Raise the cancel flag that the task checks between steps."""
    client.set(CANCEL_PREFIX + task_id, "1", ex=expires)


def cancel_requested(client, task_id: str) -> bool:
    """True once someone asked to cancel task_id."""
    return bool(client.exists(CANCEL_PREFIX + task_id))


def count_run(client, task_id: str) -> int:
    """Count one more start of task_id and return the count (2 means it was delivered again)."""
    with client.pipeline() as pipe:
        pipe.incr(RUNS_PREFIX + task_id)
        pipe.expire(RUNS_PREFIX + task_id, RUNS_EXPIRE_S)
        return pipe.execute()[0]


def count_completion(client, task_id: str) -> int:
    """Count one more end of task_id (success or failure) and return the count (2: it finished twice)."""
    with client.pipeline() as pipe:
        pipe.incr(RUNS_PREFIX + task_id + DONE_SUFFIX)
        pipe.expire(RUNS_PREFIX + task_id + DONE_SUFFIX, RUNS_EXPIRE_S)
        return pipe.execute()[0]


def completions(client, task_id: str) -> int:
    """How many times task_id ran to its end (0 if unknown or expired)."""
    raw = client.get(RUNS_PREFIX + task_id + DONE_SUFFIX)
    return int(raw) if raw else 0
