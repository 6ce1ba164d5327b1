"""`labapp env`: a plain Celery app, with Celery's defaults, on the lab's broker and never meeting the lab."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import urllib.request

import pytest
import redis

from tests.support.lab_commands import LABAPP, labapp, labapp_up, started, stop
from tests.support.raw_http import raw_request
from tests.support.waiting import read_until, wait_for

FOREIGN_APP = """\
from celery import Celery

app = Celery("fapp")  # Celery's defaults: the broker and results come from the environment


@app.task
def add(x, y):
    return x + y
"""

SEND = "import fapp; sent = [fapp.add.delay(i, i) for i in range(6)]; print(*[r.get(timeout=90) for r in sent])"


def in_labapp_env(name: str, command: list[str]) -> list[str]:
    """A sh command line that evals `labapp env --name NAME`, then runs command."""
    return ["bash", "-c", f'eval "$({shlex.join(LABAPP)} env --name {name} --shell bash)" && {shlex.join(command)}']


def test_env_prints_the_exports_of_database_1_for_every_shell():
    with labapp_up("envshells", workers=0):
        url = labapp("url", "--secret", "--name", "envshells").stdout.strip()
        password = re.fullmatch(r"redis://default:([^@]+)@127\.0\.0\.1:\d+/0", url).group(1)
        app_url = url[: -len("/0")] + "/1"
        printed = {
            shell: labapp("env", "--name", "envshells", "--shell", shell) for shell in ("sh", "fish", "powershell")
        }
    assert all(done.returncode == 0 for done in printed.values()), printed
    assert f"export CELERY_BROKER_URL={app_url}\n" in printed["sh"].stdout
    assert f"export CELERY_RESULT_BACKEND={app_url}\n" in printed["sh"].stdout
    assert f"export REDISCLI_AUTH={password}\n" in printed["sh"].stdout
    assert re.search(r"^# .*redis-cli -p \d+ -n 1 LLEN celery", printed["sh"].stdout, re.M)
    assert f"set -gx CELERY_BROKER_URL '{app_url}'\n" in printed["fish"].stdout
    assert f"$env:CELERY_RESULT_BACKEND = '{app_url}'\n" in printed["powershell"].stdout


def test_a_plain_celery_app_runs_after_eval_labapp_env_and_never_meets_the_lab(tmp_path):
    (tmp_path / "fapp.py").write_text(FOREIGN_APP)
    with labapp_up("envlab", workers=0) as api_url:
        # a lab task, queued in database 0: the lab has no worker, so it waits there
        status, answer, _ = raw_request(api_url, "POST", "/longtask", b'{"x": 1}')
        assert status == 202, answer
        worker = started(
            in_labapp_env(
                "envlab", [sys.executable, "-m", "celery", "-A", "fapp", "worker", "-n", "w1@%h", "-l", "info"]
            ),
            cwd=tmp_path,
        )
        try:
            sent = subprocess.run(
                in_labapp_env("envlab", [sys.executable, "-c", SEND]),
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
            )
            lab_task = raw_request(api_url, "GET", f"/status/{answer['task_id']}")[1]
            # the lab's views see the app's worker, marked, with its tasks
            listed = labapp("status").stdout
            other_apps = raw_request(api_url, "GET", "/workers")[1]["other_apps"]
        finally:
            log = stop(worker, signal.SIGTERM)
        url = labapp("url", "--secret", "--name", "envlab").stdout.strip()
        lab_queue = redis.Redis.from_url(url, decode_responses=True)
        try:
            queued = [json.loads(message)["headers"]["task"] for message in lab_queue.lrange("celery", 0, -1)]
        finally:
            lab_queue.close()
    assert sent.returncode == 0, sent.stderr + log
    assert sent.stdout.split() == ["0", "2", "4", "6", "8", "10"], sent.stderr
    assert "fapp.add" in log and "labapp.tasks" not in log  # the app's worker ran its tasks, and only those
    assert queued == ["labapp.tasks.long_task"], queued  # the lab's queue holds its own task, none of the app's
    assert lab_task["state"] == "PENDING", lab_task
    assert re.search(r"w1@\S+ \(another app's: fapp\.add\)", listed), listed
    assert [(w["name"].split("@")[0], w["app"], w["tasks"]) for w in other_apps] == [
        ("w1", "another app's", ["fapp.add"])
    ]


def redis_cli() -> str:
    """Debian's redis-cli (redis-tools); the test skips without it, saying why, except in CI."""
    found = shutil.which("redis-cli")
    if found:
        return found
    message = "no redis-cli on PATH: `make redis-tools` installs Debian's redis-tools (as root or with sudo)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} (CI never skips the redis-cli tests)")
    pytest.skip(message)


def test_redis_cli_works_with_the_url_and_the_env_the_lab_hands_out():
    cli = redis_cli()
    with labapp_up("envcli", workers=0) as api_url:
        url = labapp("url", "--secret", "--name", "envcli").stdout.strip()
        ping = subprocess.run([cli, "-u", url, "PING"], capture_output=True, text=True, timeout=30)
        assert raw_request(api_url, "POST", "/longtask", b'{"x": 1}')[0] == 202  # waits in the lab's queue
        lengths = {  # as a student types it after eval "$(labapp env)": the app's database unless -n says
            db: subprocess.run(
                in_labapp_env("envcli", ["redis-cli", *(["-n", db] if db == "0" else []), "LLEN", "celery"]),
                capture_output=True,
                text=True,
                timeout=30,
                env={**os.environ, "PATH": f"{os.path.dirname(cli)}{os.pathsep}{os.environ.get('PATH', '')}"},
            )
            for db in ("0", "1")
        }
    assert ping.stdout.strip() == "PONG", ping.stdout + ping.stderr
    assert lengths["0"].stdout.strip() == "1", lengths["0"]  # the lab's queue, with its task
    assert lengths["1"].stdout.strip() == "0", lengths["1"]  # the app's queue, empty


def test_labapp_flower_serves_its_http_api_with_the_workers_and_ctrl_c_stops_it():
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLOWER_")}  # nothing by hand
    with labapp_up("flowerlab", workers=1):
        flower = started([*LABAPP, "flower", "--name", "flowerlab"], env=env)
        lines: list[str] = []
        try:
            url = read_until(
                flower, r"Flower:\s+(http://127\.0\.0\.1:\d+)", "`labapp flower` to print its URL", lines=lines
            )

            def workers():
                with urllib.request.urlopen(f"{url}/api/workers?refresh=1", timeout=10) as response:
                    listed = json.load(response)
                return listed if any(name.startswith("w1@") for name in listed) else None

            listed = wait_for(workers, 60, interval=0.5, what="Flower's /api/workers to list w1")
        finally:
            output = "".join(lines) + stop(flower)
        assert flower.returncode == 0, output
    assert "127.0.0.1 only" in output and "FLOWER_UNAUTHENTICATED_API=true" in output
    assert any(name.startswith("w1@") for name in listed), listed
