"""Student code on the cluster: add_tasks / add_routes load it, and mistakes come back as clear messages."""

from __future__ import annotations

import textwrap
import time

import pytest

from labapp.engine import student_code
from labapp.engine.student_code import StudentCodeError

TASKS = """
    import math
    from celery import shared_task

    @shared_task
    def factorial(n):
        return {"n": n, "value": str(math.factorial(n))}

    @shared_task
    def broken(n):
        return 1 / (n - n)
"""
ROUTES = """
    from flask import Blueprint, current_app, jsonify, request

    bp = Blueprint("mine", __name__)

    @bp.post("/mine/factorial")
    def start():
        celery = current_app.extensions["labapp"]["celery"]
        result = celery.send_task("st_tasks.factorial", kwargs={"n": request.get_json()["n"]})
        return jsonify(task_id=result.id), 202
"""


def write(folder, name: str, code: str):
    """Write a student file and return its path."""
    path = folder / name
    path.write_text(textwrap.dedent(code))
    return path


def wait_result(cluster, task_id: str, timeout: float = 20.0):
    """The AsyncResult of task_id once it is ready."""
    result = cluster.celery.AsyncResult(task_id)
    deadline = time.monotonic() + timeout
    while not result.ready():
        assert time.monotonic() < deadline, f"task {task_id} not ready after {timeout} s: {result.state}"
        time.sleep(0.05)
    return result


@pytest.mark.parametrize(
    "code, expected",
    [
        ("from celery import shared_task\n@shared_task\ndef f(n)\n    return n\n", "line 3: SyntaxError"),
        ("import numpyy_not_there\n", "line 1: ModuleNotFoundError: No module named 'numpyy_not_there'"),
        ("from celery import shared_task\nx = 1\ny = x / 0\n", "line 3: ZeroDivisionError"),
        ("def factorial(n):\n    return n\n", "found no Celery task"),
    ],
)
def test_mistakes_in_a_task_module_name_the_file_and_the_line(tmp_path, code, expected):
    path = write(tmp_path, "st_bad.py", code)
    with pytest.raises(StudentCodeError) as error:
        student_code.check_tasks(path)
    assert str(path) in str(error.value) and expected in str(error.value)


def test_a_module_named_like_a_standard_one_is_refused(tmp_path):
    with pytest.raises(StudentCodeError, match="'math' is the name of a module"):
        student_code.check_tasks(write(tmp_path, "math.py", TASKS))


def test_an_endless_import_is_stopped_and_explained(tmp_path, monkeypatch):
    monkeypatch.setattr(student_code, "CHECK_TIMEOUT", 3.0)
    with pytest.raises(StudentCodeError, match="did not finish in 3 s"):
        student_code.check_tasks(write(tmp_path, "st_loop.py", "while True:\n    pass\n"))


def test_a_route_that_clashes_with_the_labs_is_refused(tmp_path):
    clash = ROUTES.replace("/mine/factorial", "/factorial")
    with pytest.raises(StudentCodeError, match="route POST /factorial already exists"):
        student_code.check_routes(write(tmp_path, "st_clash.py", clash))


def test_student_tasks_and_routes_run_on_the_cluster(make_cluster, tmp_path):
    cluster = make_cluster(workers=2).start()
    before = {name: child.proc.pid for name, child in cluster.workers.items()}
    api_pid = cluster.api.proc.pid
    found = cluster.add_tasks(write(tmp_path, "st_tasks.py", TASKS))
    assert found == {"st_tasks.broken": "(n)", "st_tasks.factorial": "(n)"}
    assert cluster.api.proc.pid == api_pid  # only the workers restarted
    assert all(cluster.workers[name].proc.pid != pid for name, pid in before.items())

    results = [cluster.celery.send_task("st_tasks.factorial", kwargs={"n": 10}) for _ in range(4)]
    assert {wait_result(cluster, r.id).result["value"] for r in results} == {"3628800"}

    failed = wait_result(cluster, cluster.celery.send_task("st_tasks.broken", kwargs={"n": 3}).id)
    assert failed.state == "FAILURE" and "ZeroDivisionError" in failed.traceback
    assert "st_tasks.py" in failed.traceback  # the student can read where it broke

    cluster.scale(3)  # a worker started later loads the module too
    assert (
        wait_result(cluster, cluster.celery.send_task("st_tasks.factorial", kwargs={"n": 5}).id).result["value"]
        == "120"
    )

    worker_pids = {child.proc.pid for child in cluster.workers.values()}
    assert cluster.add_routes(write(tmp_path, "st_routes.py", ROUTES)) == ["POST /mine/factorial"]
    assert {child.proc.pid for child in cluster.workers.values()} == worker_pids  # only the API restarted
    answer = cluster.client.request("POST", "/mine/factorial", {"n": 6})
    assert wait_result(cluster, answer["task_id"]).result["value"] == "720"


def test_a_workers_successor_imports_while_it_finishes_its_task_and_connects_after_it_ended(make_cluster, tmp_path):
    """add_tasks: the running task ends on its worker, once; the successor (same name) started meanwhile."""
    import psutil

    cluster = make_cluster(workers=1).start()
    old_pid = cluster.workers["w1"].proc.pid
    running = cluster.celery.send_task("labapp.tasks.long_task", kwargs={"x": 4})
    deadline = time.monotonic() + 20
    while cluster.celery.AsyncResult(running.id).state not in ("STARTED", "PROGRESS"):
        assert time.monotonic() < deadline, "the long task did not start"
        time.sleep(0.02)
    cluster.add_tasks(write(tmp_path, "st_tasks.py", TASKS))
    successor = cluster.workers["w1"]
    done = wait_result(cluster, running.id).result
    assert (done["run"], done["pid"] != successor.proc.pid) == (1, True)  # finished where it ran, not run again
    started = psutil.Process(successor.proc.pid).create_time()
    assert started < done["finished"], (
        f"expected the successor to start while its namesake finished the task, found it started "
        f"{started - done['finished']:.2f} s after the task ended"
    )
    log = successor.log.read_text()
    separator = log.rindex(f"the w1 before it (pid {old_pid}) exited normally")
    assert log.rfind("Warm shutdown", 0, separator) != -1 and log.find(" ready.", separator) != -1, log[-3000:]
    assert wait_result(cluster, cluster.celery.send_task("st_tasks.factorial", kwargs={"n": 5}).id).result["value"]


def test_a_mistake_leaves_the_running_cluster_untouched(make_cluster, tmp_path):
    cluster = make_cluster(workers=1).start()
    pids = {name: child.proc.pid for name, child in cluster.workers.items()}
    with pytest.raises(StudentCodeError):
        cluster.add_tasks(write(tmp_path, "st_broken.py", "import not_a_module_at_all\n"))
    assert {name: child.proc.pid for name, child in cluster.workers.items()} == pids
    assert cluster.client.health()["workers"] == 1
