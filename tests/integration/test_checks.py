"""The exercises' checks name the mistake: wrong student modules, written here, get the right message."""

from __future__ import annotations

import textwrap

import pytest

from labapp.checks import CheckFailed, check_ex01, check_ex02, check_ex05, check_ex06

TASK_HEAD = """
import math
import sys
from celery import shared_task

@shared_task
def factorial(n):
"""


EX01 = {
    "right": (
        "    sys.set_int_max_str_digits(0)\n    v = str(math.factorial(n))\n"
        "    return {'n': n, 'digits': len(v), 'value': v}"
    ),
    "stub": "    raise NotImplementedError",
    "off by one": "    v = str(math.factorial(n - 1) if n else 1)\n    return {'n': n, 'digits': len(v), 'value': v}",
    "int": "    v = math.factorial(n)\n    return {'n': n, 'digits': len(str(v)), 'value': v}",
    "no digit limit lifted": "    v = str(math.factorial(n))\n    return {'n': n, 'digits': len(v), 'value': v}",
}


EXPECTED = {
    "stub": "still raises NotImplementedError",
    "off by one": "off by one",
    "int": "expected value as a decimal string, found an int",
    "no digit limit lifted": "sys.set_int_max_str_digits(0)",
}


@pytest.fixture(scope="module")
def ex_cluster(tmp_path_factory):
    """One private cluster for the check tests (modules are swapped with add_tasks)."""
    from labapp import Cluster
    from tests.support.sandbox import TEST_SETTINGS

    folder = tmp_path_factory.mktemp("checks")
    with Cluster(workers=1, name="checks", runtime_dir=str(folder / "runtime"), **TEST_SETTINGS) as cluster:
        yield cluster


def load_ex01(cluster, tmp_path, body: str, function: str = "factorial"):
    """Write work/ex01_tasks.py with this factorial body and load it into the workers."""
    path = tmp_path / "ex01_tasks.py"
    path.write_text(textwrap.dedent(TASK_HEAD).replace("def factorial", f"def {function}") + body + "\n")
    cluster.add_tasks(path)


def test_a_task_the_workers_never_loaded_is_explained(make_cluster):
    cluster = make_cluster(workers=0).start()  # nothing added to it, whatever other tests did
    with pytest.raises(CheckFailed, match=r"loaded with cluster.add_tasks\('work/ex01_tasks.py'\)"):
        check_ex01(cluster)  # e.g. the task was defined in the notebook, or the file had a syntax error


@pytest.mark.parametrize("mistake", list(EXPECTED))
def test_each_foreseen_mistake_in_ex01_is_named(ex_cluster, tmp_path, mistake):
    load_ex01(ex_cluster, tmp_path, EX01[mistake])
    with pytest.raises(CheckFailed) as failed:
        check_ex01(ex_cluster)
    assert EXPECTED[mistake] in str(failed.value)
    assert failed.value._render_traceback_() == [f"\u2717 {failed.value}"]  # no traceback into the lab


def test_a_misnamed_task_is_reported_as_unregistered(ex_cluster, tmp_path):
    load_ex01(ex_cluster, tmp_path, EX01["right"], function="fact")
    with pytest.raises(CheckFailed, match="Received unregistered task"):
        check_ex01(ex_cluster)


def test_the_right_task_passes(ex_cluster, tmp_path, capsys):
    load_ex01(ex_cluster, tmp_path, EX01["right"])
    check_ex01(ex_cluster)
    assert "ex01 passed" in capsys.readouterr().out


ROUTES = """
import uuid
from flask import Blueprint, current_app, jsonify, request

bp = Blueprint("ex02", __name__)

@bp.post("/ex02/factorial")
def start():
    payload = request.get_json(silent=True)
{validate}
    celery, store = current_app.extensions["labapp"]["celery"], current_app.extensions["labapp"]["redis"]
    task_id = str(uuid.uuid4())
    store.set(f"ex02:issued:{{task_id}}", 1)
    result = celery.send_task("ex01_tasks.factorial", kwargs={{"n": payload["n"]}}, task_id=task_id)
{wait}
    return jsonify(task_id=task_id), 202

@bp.get("/ex02/status/<task_id>")
def status(task_id):
    celery, store = current_app.extensions["labapp"]["celery"], current_app.extensions["labapp"]["redis"]
{known}
    found = celery.AsyncResult(task_id)
    return jsonify(state=found.state, result=found.result if found.state == "SUCCESS" else None)
"""


VALIDATE = """    n = payload.get("n") if isinstance(payload, dict) else None
    if set(payload or {}) != {"n"} or isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 20000:
        return jsonify(error="n must be a whole number from 0 to 20000"), 400"""


KNOWN = """    if store.exists(f"ex02:issued:{task_id}") == 0:
        return jsonify(error="unknown"), 404"""


EX02 = {
    "blocks on .get()": (
        dict(validate=VALIDATE, wait="    result.get(timeout=30)", known=KNOWN),
        "did not answer within 4 s",
    ),
    "200 PENDING for an unknown id": (
        dict(validate=VALIDATE, wait="", known=""),
        "expected 404 for an id your API never issued",
    ),
    "no validation": (dict(validate="", wait="", known=KNOWN), "expected 400"),
}


@pytest.mark.parametrize("mistake", list(EX02))
def test_each_foreseen_mistake_in_ex02_is_named(ex_cluster, tmp_path, mistake):
    load_ex01(ex_cluster, tmp_path, EX01["right"])
    parts, expected = EX02[mistake]
    path = tmp_path / "ex02_routes.py"
    path.write_text(textwrap.dedent(ROUTES).format(**parts))
    ex_cluster.add_routes(path)
    with pytest.raises(CheckFailed, match=expected):
        check_ex02(ex_cluster)
    assert len(ex_cluster.workers) == 1  # the check gave back the workers it took away


def test_ex05_wants_two_queues_each_with_its_own_workers(ex_cluster):
    with pytest.raises(CheckFailed, match="two different queues"):
        check_ex05(ex_cluster, lambda name: "celery", lambda: None)
    with pytest.raises(CheckFailed, match="expected the exercise's 3 workers w1, w2, w3, found w1"):
        check_ex05(ex_cluster, lambda name: "cpu" if name.endswith("crunch") else "io", lambda: None)


RECORD = """
import time
from celery import shared_task

@shared_task(bind=True)
def record(self, item, seconds=3):
    self.backend.client.rpush("ex06:log", item)  # not idempotent: every run appends
    time.sleep(seconds)
    return item
"""


def test_ex06_catches_an_effect_that_happens_twice(ex_cluster, tmp_path):
    path = tmp_path / "ex06_tasks.py"
    path.write_text(RECORD)
    ex_cluster.add_tasks(path)
    with pytest.raises(CheckFailed, match="found it 2 times: the task ran again"):
        check_ex06(ex_cluster, seconds=2)


def test_a_task_with_the_wrong_signature_is_named(ex_cluster, tmp_path):
    path = tmp_path / "ex01_tasks.py"
    path.write_text(
        textwrap.dedent(TASK_HEAD).replace("def factorial(n):", "def factorial(self, n):") + EX01["right"] + "\n"
    )  # self without bind=True: Celery passes n only
    assert ex_cluster.add_tasks(path) == {"ex01_tasks.factorial": "(self, n)"}
    with pytest.raises(CheckFailed, match="Expected a task that takes exactly one argument, n"):
        check_ex01(ex_cluster)


PORTUGUESE = {  # LABAPP_LANG=pt_BR: what check_ex01 says, built in this process from the real cluster's answers
    "off by one": "erro de uma unidade (off-by-one)? Use math.factorial(n)",
    "stub": "ainda lança NotImplementedError: substitua o esqueleto (stub) pelo seu código",
}


@pytest.mark.parametrize("mistake", list(PORTUGUESE))
def test_ex01_names_the_mistake_in_portuguese_with_labapp_lang(ex_cluster, tmp_path, monkeypatch, mistake):
    load_ex01(ex_cluster, tmp_path, EX01[mistake])
    monkeypatch.setenv("LABAPP_LANG", "pt_BR")
    with pytest.raises(CheckFailed) as failed:
        check_ex01(ex_cluster)
    assert PORTUGUESE[mistake] in str(failed.value)


def test_an_unregistered_task_and_a_pass_are_told_in_portuguese(ex_cluster, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABAPP_LANG", "pt_BR")
    load_ex01(ex_cluster, tmp_path, EX01["right"], function="fact")
    with pytest.raises(CheckFailed, match="os workers receberam ex01_tasks.factorial, mas não a conhecem"):
        check_ex01(ex_cluster)
    load_ex01(ex_cluster, tmp_path, EX01["right"])
    check_ex01(ex_cluster)
    assert "\u2713 ex01 aprovado: factorial(n) rodou nos workers" in capsys.readouterr().out


def test_ex02_explains_pending_for_an_unknown_id_in_portuguese(ex_cluster, tmp_path, monkeypatch):
    load_ex01(ex_cluster, tmp_path, EX01["right"])
    path = tmp_path / "ex02_routes.py"
    path.write_text(textwrap.dedent(ROUTES).format(validate=VALIDATE, wait="", known=""))
    ex_cluster.add_routes(path)
    monkeypatch.setenv("LABAPP_LANG", "pt_BR")
    with pytest.raises(CheckFailed, match="esperado 404 para um id que a sua API nunca emitiu.*O Celery diz PENDING"):
        check_ex02(ex_cluster)
