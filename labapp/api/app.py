"""The Flask API: submit tasks, read their status, cancel them, see the workers."""

from __future__ import annotations

import json
import math
import re
import time
import uuid

import redis
from flask import Flask, jsonify, request, url_for
from kombu.exceptions import OperationalError
from werkzeug.exceptions import HTTPException

from labapp.api import guards, openapi
from labapp.api.validation import InvalidInput, NumberField, parse_body, validate_fields
from labapp.engine import heartbeat, other_apps, task_records
from labapp.engine.celery_config import QUEUE, make_celery
from labapp.settings import Settings
from labapp.tasks import int_to_decimal

TASK_NAMES = {
    "long_task": "labapp.tasks.long_task",
    "factorial": "labapp.tasks.factorial",
    "sleep_ms": "labapp.tasks.sleep_ms",
    "cpu_ms": "labapp.tasks.cpu_ms",
}
READY_STATES = {"SUCCESS", "FAILURE", "REVOKED"}
TASK_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 0.5}
OTHER_APPS_TTL = 5.0  # s: asking another app's workers is a broadcast that waits its whole timeout
BROKER_ERRORS = (redis.RedisError, OperationalError, ConnectionError, TimeoutError, OSError)


class BrokerUnavailable(RuntimeError):
    """The broker did not answer in time."""


class UnknownTask(Exception):
    """A task id this cluster never issued (or whose record expired)."""


def create_app(settings: Settings | None = None) -> Flask:
    """Flask app factory: the API of one cluster, talking to the broker in settings."""
    settings = settings or Settings.from_env()
    if not settings.broker_url:
        raise RuntimeError("the API needs a broker: set LABAPP_BROKER_URL")
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    celery = make_celery(settings, settings.broker_url, polling=True)
    store = redis.Redis.from_url(
        settings.broker_url,
        socket_timeout=settings.broker_timeout,
        socket_connect_timeout=settings.broker_timeout,
        retry=None,
        decode_responses=True,
    )
    app.extensions["labapp"] = {"settings": settings, "celery": celery, "redis": store}
    guards.install(app, settings.allowed_hosts)

    longtask_x = NumberField("x", "seconds of simulated work", settings.longtask_max_x)
    factorial_n = NumberField("n", "the number whose factorial to compute", settings.factorial_max_n, integer=True)

    def submit(short_name: str, args: dict):
        """Record, then publish a task; answer 202 with its id and where to poll."""
        task_id = str(uuid.uuid4())
        try:
            task_records.save_submission(store, task_id, short_name, args, settings.result_expires)
            try:
                celery.send_task(
                    TASK_NAMES[short_name], kwargs=args, task_id=task_id, retry=True, retry_policy=PUBLISH_RETRY
                )
            except BaseException:
                task_records.forget_submission(store, task_id)
                raise
        except BROKER_ERRORS as exc:
            raise BrokerUnavailable(str(exc)) from exc
        status_url = url_for("status", task_id=task_id, _external=True)
        response = jsonify(task_id=task_id, status_url=status_url)
        response.status_code = 202
        response.headers["Location"] = status_url
        return response

    @app.post("/longtask")
    def longtask():
        """POST /longtask {"x": seconds}: the original class's task."""
        body = parse_body(request.get_data(), '{"x": 10}')
        return submit("long_task", validate_fields(body, longtask_x))

    @app.post("/factorial")
    def factorial():
        """POST /factorial {"n": n}: the class activity's task."""
        body = parse_body(request.get_data(), '{"n": 20}')
        return submit("factorial", validate_fields(body, factorial_n))

    @app.post("/blocking/factorial")
    def blocking_factorial():
        """ANTI-PATTERN, kept for lesson 01: n! computed inside the request, answered 200 when done.

        The client waits for the whole computation, and so does every other request that
        needs the API's Python process meanwhile; /factorial answers 202 at once instead.
        """
        body = parse_body(request.get_data(), '{"n": 20}')
        n = validate_fields(body, factorial_n)["n"]
        started = time.perf_counter()
        value = int_to_decimal(math.factorial(n))
        return jsonify(n=n, digits=len(value), value=value, seconds=round(time.perf_counter() - started, 4))

    @app.get("/status/<task_id>")
    def status(task_id: str):
        """GET /status/<id>: state, progress, result or error; 404 for ids never issued."""
        submission = _known_task(task_id)
        return jsonify(_describe(task_id, submission))

    @app.delete("/tasks/<task_id>")
    def cancel(task_id: str):
        """DELETE /tasks/<id>: raise the cancel flag; the task ends REVOKED at its next check.

        Only for the API's own tasks (a submit record): terminating any task on the workers is the
        owner's `labapp cancel ID` / cluster.cancel(id), never an HTTP call a classroom's LAN could make.
        """
        try:
            submission = _known_task(task_id)
        except UnknownTask:
            return jsonify(
                error=f"no task with id {task_id!r} was submitted through this API (or its record expired): "
                "DELETE cancels the API's own tasks; to terminate any task on the lab's workers, run "
                "`labapp cancel ID` or cluster.cancel(task_id)"
            ), 404
        current = _describe(task_id, submission)
        if current["state"] in READY_STATES:
            return jsonify(
                error=f"task {task_id} already finished ({current['state']}): nothing to cancel",
                task_id=task_id,
                state=current["state"],
            ), 409
        task_records.request_cancel(store, task_id, settings.result_expires)
        return jsonify(
            task_id=task_id,
            state=current["state"],
            cancel_requested=True,
            status_url=url_for("status", task_id=task_id, _external=True),
        ), 202

    others = {"at": -math.inf, "found": []}

    def other_app_workers() -> list[dict]:
        """Another app's workers (database 1), asked at most every OTHER_APPS_TTL seconds."""
        if time.monotonic() - others["at"] >= OTHER_APPS_TTL:
            others["at"] = time.monotonic()  # first: concurrent requests meanwhile read the last answer
            others["found"] = other_apps.app_workers(settings.broker_url)
        return others["found"]

    @app.get("/workers")
    def workers():
        """GET /workers: the lab's workers whose heartbeat is fresh; another app's (database 1) apart."""
        found = heartbeat.live_workers(store)
        return jsonify(count=len(found), workers=found, other_apps=other_app_workers())

    @app.get("/health")
    def health():
        """GET /health: broker reachable? how many workers? how many tasks queued?"""
        try:
            store.ping()
        except BROKER_ERRORS as exc:
            return jsonify(status="unavailable", broker="down", error=f"the broker (Redis) is unavailable: {exc}"), 503
        queued = store.llen(QUEUE)
        names = [worker["name"] for worker in heartbeat.live_workers(store)]
        state = "ok" if names else "degraded"
        return jsonify(status=state, broker="ok", workers=len(names), worker_names=names, queued=queued)

    @app.get("/openapi.json")
    def openapi_document():
        """GET /openapi.json: this API described in OpenAPI 3.1."""
        return jsonify(openapi.document(settings))

    def _known_task(task_id: str) -> dict:
        submission = task_records.load_submission(store, task_id) if TASK_ID.match(task_id) else None
        if submission is None:
            raise UnknownTask(task_id)
        return submission

    def _describe(task_id: str, submission: dict) -> dict:
        raw = store.get(celery.backend.get_key_for_task(task_id).decode())
        meta = json.loads(raw) if raw else {"status": "PENDING", "result": None}
        state = meta["status"]
        info = meta.get("result")
        answer = {"task_id": task_id, "name": submission["name"], "state": state}
        worker, pid = meta.get("worker"), None
        if state == "PROGRESS" and isinstance(info, dict):
            answer["progress"] = {"current": info.get("current"), "total": info.get("total")}
            worker, pid = info.get("worker", worker), info.get("pid")
        elif state == "STARTED" and isinstance(info, dict):
            worker, pid = info.get("hostname", worker), info.get("pid")
        elif state == "SUCCESS":
            answer["result"] = info
        elif state in ("FAILURE", "REVOKED"):
            answer["error"] = _error_text(info)
        if worker:
            answer["worker"] = worker
            if state in ("STARTED", "PROGRESS") and not heartbeat.runs_process(store, worker, pid):
                # its worker died mid-task: the broker hands the task out again after the
                # visibility timeout, so say so instead of showing a frozen PROGRESS
                answer["worker_alive"] = False
        if state not in READY_STATES and task_records.cancel_requested(store, task_id):
            answer["cancel_requested"] = True
        completions = task_records.completions(store, task_id) if state in READY_STATES else 0
        if completions > 1:  # Celery keeps the first result and drops the later ones without a word
            answer["completions"] = completions
        return answer

    @app.errorhandler(InvalidInput)
    def invalid_input(exc):
        """400 with the validation message."""
        return jsonify(error=str(exc)), 400

    @app.errorhandler(UnknownTask)
    def unknown_task(exc):
        """404 for a task id this cluster never issued."""
        return jsonify(
            error=f"no task with id {exc.args[0]!r} was submitted to this cluster (or its record expired)"
        ), 404

    @app.errorhandler(BrokerUnavailable)
    def broker_unavailable(exc):
        """503 when Redis does not answer in time."""
        return jsonify(error=f"the broker (Redis) is unavailable: {exc}"), 503

    @app.errorhandler(HTTPException)
    def http_error(exc):
        """Werkzeug's errors (404, 405, 413, ...) as JSON."""
        messages = {
            404: f"no such endpoint: {request.method} {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
            413: f"request body too large (limit {settings.max_body_bytes} bytes)",
        }
        response = jsonify(error=messages.get(exc.code, exc.description))
        response.status_code = exc.code
        for name, value in exc.get_headers():  # e.g. Allow on a 405
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc):
        """Broker errors become 503; anything else is a bug: JSON 500, logged."""
        if isinstance(exc, BROKER_ERRORS):
            return broker_unavailable(exc)
        app.logger.exception("unexpected error")
        return jsonify(error=f"internal error: {type(exc).__name__}"), 500

    return app


def _error_text(info) -> str:
    """Turn Celery's JSON-encoded exception into one readable line."""
    if isinstance(info, dict) and "exc_type" in info:
        message = info.get("exc_message")
        if isinstance(message, (list, tuple)):
            message = " ".join(str(part) for part in message)
        return f"{info['exc_type']}: {message}" if message else info["exc_type"]
    return str(info)
