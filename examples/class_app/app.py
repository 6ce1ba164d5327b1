"""The class's Flask + Celery app: submit a task, then poll its status.

    POST /longtask  {"x": 10}   -> 202 {"task_id": ..., "status_url": ...}
    POST /factorial {"n": 20}   -> 202 {"task_id": ..., "status_url": ...}
    GET  /status/<task_id>      -> {"state": ..., "current"/"total" while in PROGRESS, "result" at the end}

Run it with a Redis on this machine (see README.md):

    celery -A app.celery worker --loglevel=info
    python app.py
"""

import os

import tasks
from celery import Celery
from flask import Flask, jsonify, request, url_for

# Where Celery finds Redis. By default the Redis on this machine; set CELERY_BROKER_URL to use
# another one (the lab prints both variables: eval "$(labapp env)"). The results go to the same
# Redis unless CELERY_RESULT_BACKEND says otherwise.
BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0")
RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", BROKER_URL)

app = Flask(__name__)

celery = Celery(app.name, broker=BROKER_URL, backend=RESULT_BACKEND)
celery.conf.update(
    # JSON only: a worker never runs code hidden in a pickled message
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    # keep the worker's name with each result, so /status can say who ran the task
    result_extended=True,
)
# the app that tasks.py's shared_task uses in every thread: Flask answers each request in a thread
# of its own, where Celery would otherwise fall back to its default app (amqp://localhost)
celery.set_default()

MAX_X = 600  # seconds: a long task, not an endless one


def bad_request(message):
    """A 400 answer that says what was expected."""
    return jsonify({"error": message}), 400


def number_from_body(key, whole):
    """Read body[key]: (value, None) if it is a number (a whole one if asked), else (None, a 400 answer)."""
    payload = request.get_json(silent=True)
    example = '{"%s": %s}' % (key, 20 if whole else 10)
    if not isinstance(payload, dict) or key not in payload:
        return None, bad_request(f"expected a JSON body like {example}, found {request.get_data(as_text=True)!r}")
    value = payload[key]
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "a whole number" if whole else "a number"
        return None, bad_request(f"expected {key} to be {kind}, found {value!r}")
    return value, None


def accepted(result):
    """202 Accepted with the task id and where to ask for its status."""
    status_url = url_for("status", task_id=result.id)
    return jsonify({"task_id": result.id, "status_url": status_url}), 202, {"Location": status_url}


@app.post("/longtask")
def longtask():
    """Start long_task(x): x seconds of work."""
    x, error = number_from_body("x", whole=False)
    if error:
        return error
    if not 0 <= x <= MAX_X:
        return bad_request(f"expected x between 0 and {MAX_X} seconds, found {x}")
    return accepted(tasks.long_task.delay(x))


@app.post("/factorial")
def factorial():
    """Start factorial(n)."""
    n, error = number_from_body("n", whole=True)
    if error:
        return error
    if not 0 <= n <= tasks.MAX_N:
        return bad_request(f"expected n between 0 and {tasks.MAX_N}, found {n}")
    return accepted(tasks.factorial.delay(n))


@app.get("/status/<task_id>")
def status(task_id):
    """The task's state; its progress while it runs; its result or error at the end."""
    task = celery.AsyncResult(task_id)
    # Celery cannot tell a task still waiting in the queue from an id it never saw: both are PENDING
    reply = {"task_id": task_id, "state": task.state}
    if task.state == "PROGRESS":
        reply["current"] = task.info.get("current")
        reply["total"] = task.info.get("total")
    elif task.state == "SUCCESS":
        reply["result"] = task.result
    elif task.state == "FAILURE":
        reply["error"] = f"{type(task.info).__name__}: {task.info}"
    if task.state != "PENDING" and task.worker:
        reply["worker"] = task.worker
    return jsonify(reply)


if __name__ == "__main__":
    # Flask's own server, for the class: on this machine only, never in debug mode
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
