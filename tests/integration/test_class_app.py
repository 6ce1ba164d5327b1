"""The class's own app (examples/class_app), unchanged, on the lab's broker beside the lab's workers:
neither app loses a task to the other's workers."""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
import sys

import requests

from labapp.engine import processes
from labapp.engine.broker import free_port
from tests.support import paths
from tests.support.lab_commands import LABAPP, labapp, labapp_up
from tests.support.sandbox import stop_leftovers
from tests.support.waiting import wait_for

CLASS_APP = paths.ROOT / "examples" / "class_app"
LAB_WORKERS = ("w1", "w2")
CLASS_WORKERS = ("class1", "class2")
PER_APP = 50


def env_from_labapp_env(name: str, env: dict) -> dict:
    """What `eval "$(labapp env)"` sets in a student's bash, read back from that shell."""
    command = shlex.join([*LABAPP, "env", "--name", name])
    script = f'eval "$({command})" && printf "%s\\0%s\\0" "$CELERY_BROKER_URL" "$CELERY_RESULT_BACKEND"'
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, f"`labapp env` failed: {done.stderr}"
    broker, backend = done.stdout.split("\0")[:2]
    assert broker and backend, f"`labapp env` set no URL: {done.stdout!r} {done.stderr}"
    return {**env, "CELERY_BROKER_URL": broker, "CELERY_RESULT_BACKEND": backend}


def start_class_app(env: dict, folder) -> tuple[str, list]:
    """`python app.py` on a free port and two workers, run in the app's folder as its README says; return
    the app's URL and the processes."""
    port = free_port()
    started = [processes.spawn([sys.executable, "app.py"], folder / "app.log", {**env, "PORT": str(port)}, CLASS_APP)]
    for name in CLASS_WORKERS:
        worker = [sys.executable, "-m", "celery", "-A", "app.celery", "worker", "-n", f"{name}@%h", "-c", "1"]
        started.append(processes.spawn(worker, folder / f"{name}.log", env, CLASS_APP))
    url = f"http://127.0.0.1:{port}"
    log = folder / "app.log"
    wait_for(lambda: _answers(url), 60, what=lambda: f"the class app on {url}:\n{log.read_text()}")
    return url, started


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/status/none", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def submit_both(class_url: str, lab_url: str) -> list[tuple[str, str, str, object]]:
    """Send PER_APP tasks to each app, interleaved: long tasks and factorials; return (app, url, id, expected)."""
    sent = []
    for i in range(PER_APP):
        for app, url in (("class", class_url), ("lab", lab_url)):
            if i % 2:
                path, body, expected = "/factorial", {"n": 10 * i}, str(math.factorial(10 * i))
            else:
                path, body, expected = "/longtask", {"x": 0.2}, 0.2
            answer = requests.post(url + path, json=body, timeout=30)
            assert answer.status_code == 202, f"{app} {path} {body}: {answer.status_code} {answer.text}"
            sent.append((app, url, answer.json()["task_id"], expected))
    return sent


def wait_all_finished(sent: list, timeout: float = 240) -> dict:
    """Poll every task's /status until none is waiting or running; return the last answers by task id."""
    answers = {}

    def finished():
        for _app, url, task_id, _expected in sent:
            if answers.get(task_id, {}).get("state") not in ("SUCCESS", "FAILURE", "REVOKED"):
                answers[task_id] = requests.get(f"{url}/status/{task_id}", timeout=30).json()
        return all(answer["state"] in ("SUCCESS", "FAILURE", "REVOKED") for answer in answers.values())

    def unfinished():
        return [answer for answer in answers.values() if answer["state"] not in ("SUCCESS", "FAILURE", "REVOKED")]

    wait_for(finished, timeout, interval=0.5, what=lambda: f"all tasks to finish; still waiting: {unfinished()[:5]}")
    return answers


def value_of(app: str, answer: dict):
    """What a task returned, in each app's shape: the class's factorial is the string, the lab's a dict."""
    result = answer["result"]
    if isinstance(result, dict):
        return result["value"] if "value" in result else result["x"]
    return result


def assert_status_marks_each_app(listed: str, name: str) -> None:
    """`labapp status` lists the cluster's 2 workers as the lab's (unmarked) and the class's 2 as another app's,
    with its tasks."""
    assert f"{name} in " in listed, listed
    block = listed[listed.index(f"{name} in ") :]
    seen = next((line for line in block.splitlines() if "workers the broker sees:" in line), "")
    for worker in LAB_WORKERS:
        assert re.search(rf"\b{worker}@[\w.-]+(,|$)", seen), f"the lab's {worker} not listed as the lab's:\n{listed}"
    for worker in CLASS_WORKERS:
        marked = rf"\b{worker}@[\w.-]+ \(another app's: tasks\.factorial, tasks\.long_task\)"
        assert re.search(marked, seen), f"the class's {worker} not marked as another app's:\n{listed}"


def test_the_class_app_and_the_lab_share_a_broker_and_never_take_each_others_tasks(tmp_path):
    class_env = {**os.environ, "LABAPP_CLUSTER_DIR": str(tmp_path)}  # marks the class app's processes as this test's
    started = []
    with labapp_up("withclass", workers=2) as lab_url:
        try:
            class_url, started = start_class_app(env_from_labapp_env("withclass", class_env), tmp_path)
            sent = submit_both(class_url, lab_url)
            answers = wait_all_finished(sent)
            listed = labapp("status").stdout  # while both apps' workers run
        finally:
            processes.stop_children(started, timeout=20, whole_group=False)

    for app, _url, task_id, expected in sent:
        answer = answers[task_id]
        assert answer["state"] == "SUCCESS", f"{app} task {task_id}: {answer}"
        assert value_of(app, answer) == expected, f"{app} task {task_id}: {answer}"
        ours = CLASS_WORKERS if app == "class" else LAB_WORKERS
        assert answer["worker"].split("@")[0] in ours, (
            f"the {app}'s task {task_id} ran on {answer['worker']}, a worker of the other app"
        )
    assert_status_marks_each_app(listed, "withclass")
    left = stop_leftovers(tmp_path)
    assert not left, "processes left behind (killed now):\n" + "\n".join(left)


def test_the_class_apps_tasks_use_its_celery_in_every_thread_without_the_labs_variables():
    """Run as at home (no CELERY_* variables): a request's thread must send to app.py's Redis, not amqp."""
    script = (
        "import threading, app, tasks\n"
        "seen = []\n"
        "thread = threading.Thread(target=lambda: seen.append(tasks.long_task.app.conf.broker_url))\n"
        "thread.start(); thread.join()\n"
        "print(seen[0])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=CLASS_APP, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "redis://localhost:6379/0", (
        f"expected a task sent from a request's thread to go to app.py's broker redis://localhost:6379/0, "
        f"found {done.stdout.strip()!r}"
    )
