"""Mistakes students really make in ex06, each planted into a copy of solutions/ex06_idempotency.ipynb.

Each find is a fragment of a solution line, never a whole one (the guard's line is split across two
string literals): `labapp pack` refuses any file holding a whole solution line.
"""
from . import Mistake

TASKS = "Celery docs, Tasks: idempotent tasks and acks_late (https://docs.celeryq.dev/en/stable/userguide/tasks.html)"
KEY = 'f"ex06:done:{self.request.id}"'

MISTAKES = [
    Mistake(
        name="no guard: every run appends",
        cell="ex-03",
        find='if store.set(f"ex06:done:{self.request.id}", 1, nx=True, ' 'ex=3600):\n        store.rpush',
        replace="store.rpush",
        expect=r"No key was set",
        source=f"{TASKS}; LESSONS.md confusion 5 (tasks can run twice)",
    ),
    Mistake(
        name="inverted test: appends only when the key was already set",
        cell="ex-03",
        find="if store.set(",
        replace="if not store.set(",
        expect=r"answers True when it set the key",
        source="redis-py docs: set(..., nx=True) returns True if it set the key; issue 24 (this passed)",
    ),
    Mistake(
        name="one fixed key for every task",
        cell="ex-03",
        find=KEY,
        replace='"ex06:done"',
        expect=r"found only the first\s+did: the guard's key is the same for every task",
        source="the concept: once per task needs a key per task; a common Q&A question: a Redis lock never released",
    ),
    Mistake(
        name="the guard keyed on the item, not the task",
        cell="ex-03",
        find=KEY,
        replace='f"ex06:done:{item}"',
        expect=r"guard is keyed on the item",
        source="a common Q&A question: deduplicate Celery tasks by their arguments (it also drops real repeats)",
    ),
    Mistake(
        name="a key from a fresh uuid, different on every run",
        cell="ex-03",
        find=("import time", KEY),
        replace=("import time\nimport uuid", 'f"ex06:done:{uuid.uuid4()}"'),
        expect=r"does not name the task's id.*changes on every run",
        source=f"{TASKS}: the task id is the same on every delivery, a new uuid is not",
    ),
    Mistake(
        name="SET without nx=True, which always succeeds",
        cell="ex-03",
        find=", 1, nx=True, ex=3600)",
        replace=", 1, ex=3600)",
        expect=r"Without nx=True, SET always succeeds",
        source="Redis docs, SET: without NX it overwrites and answers OK every time",
    ),
    Mistake(
        name="the guard's key expires before the task runs again",
        cell="ex-03",
        find="nx=True, ex=3600)",
        replace="nx=True, ex=2)",
        expect=r"expired first.*visibility timeout",
        source="Celery docs, Redis broker caveats: visibility timeout (a task comes back only after it)",
    ),
]
