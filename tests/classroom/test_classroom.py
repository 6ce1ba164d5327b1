"""Classroom mode on this machine's loopback: `labapp serve`, `labapp join`, plain `celery -b`.

127.0.0.2 stands in for the instructor's address on the class's network: the lab treats it as
public (only 127.0.0.1 and localhost are loopback to it) while Linux routes all of 127/8 to lo,
so no packet leaves the machine. Every command runs as a real process with the sandbox's
environment, and every test stops what it started.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import redis

from labapp import Cluster, __version__
from labapp.api.client import LabClient
from labapp.cluster import JOIN_FILE
from labapp.engine import broker as broker_module
from labapp.engine import classroom_protocol, heartbeat, processes, runtime_folder
from labapp.engine.broker import BrokerServer, free_port
from labapp.settings import Settings
from tests.support import paths
from tests.support.class_cluster import running_class
from tests.support.sandbox import stop_leftovers
from tests.support.waiting import wait_for, wait_state

PUBLIC = "127.0.0.2"  # a non-loopback address for the lab, on lo for Linux
HOST = classroom_protocol.node_host()
STRONG = "Tr0ub4dor-and-3-horses.x"  # passes classroom_protocol.password_problem
FINISH = ("SUCCESS", "FAILURE", "REVOKED")
NOWHERE = "redis://:Some-other-password-1@127.0.0.1:9/0"  # the discard port: no broker there

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="127.0.0.2 is on the loopback interface on Linux only"
)


def env(**extra) -> dict[str, str]:
    """The sandbox's environment (conftest.py set it), without a broker of the caller's own."""
    mine = ("LABAPP_BROKER_URL", classroom_protocol.PASSWORD_ENV, "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    base = {k: v for k, v in os.environ.items() if k not in mine}
    return {**base, **extra}


def runtime() -> Path:
    return Settings.from_env().runtime_path


def labapp(*args, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    """Run a labapp command to its end; return it with its output (stderr in .stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "labapp", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=kwargs.pop("env", None) or env(),
        **kwargs,
    )


class Background:
    """A command running on its own (its own session, as from another terminal); output in a file."""

    def __init__(self, args: list[str], out: Path, marks: list[Path], environ=None):
        self.out = out
        # it and its children run in a folder of its own; its other folders: its workers', its cluster's
        cwd = out.with_suffix(".cwd")
        cwd.mkdir()
        self.marks = [cwd, *marks]
        with open(out, "w") as handle:
            self.proc = subprocess.Popen(
                args,
                stdout=handle,
                stderr=subprocess.STDOUT,
                text=True,
                env={**(environ or env()), "PYTHONUNBUFFERED": "1"},
                cwd=cwd,
                start_new_session=True,
            )

    @property
    def text(self) -> str:
        return self.out.read_text()

    @property
    def name(self) -> str:
        return " ".join(self.proc.args[2:4])  # e.g. "labapp join", "celery -A"

    def wait_for_line(self, pattern: str, timeout: float = 30.0) -> re.Match:
        """Wait until the output has a line matching pattern; fail at once if the command exits."""

        def seen():
            exited = self.proc.poll() is not None  # then the file already holds its last words
            found = re.search(pattern, self.text, re.MULTILINE)
            if found is None and exited:
                pytest.fail(
                    f"{self.name} exited (code {self.proc.returncode}) before printing {pattern!r}:\n{self.text}"
                )
            return found

        return wait_for(seen, timeout, what=lambda: f"{pattern!r} in the output of {self.name}:\n{self.text}")

    def interrupt(self) -> None:
        """Ctrl-C in its terminal: SIGINT to its whole foreground group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} still runs after {timeout:.0f} s:\n{self.text}")

    def alive_processes(self) -> list[psutil.Process]:
        """Its own process (if running) and every process of its folders."""
        found = {p.pid: p for folder in self.marks for p in processes.processes_marked(folder)}
        if self.proc.poll() is None:
            found.setdefault(self.proc.pid, psutil.Process(self.proc.pid))
        return list(found.values())

    def stop(self) -> list[str]:
        """Stop it (SIGTERM: a clean leave), then kill what is left; describe what had to be killed."""
        # SIGTERM to the leader only (it stops cleanly), then SIGKILL to its group if it hangs
        processes.stop_children([self.proc], timeout=25, whole_group=False)
        left = [line for folder in self.marks for line in stop_leftovers(folder, grace=5)]
        return left


@pytest.fixture
def background(tmp_path):
    """Start labapp commands in the background; all are stopped after the test, and a process
    they leave behind fails it."""
    started: list[Background] = []

    def start(*args, marks=(), environ=None, python_module="labapp") -> Background:
        out = tmp_path / f"{len(started)}-{args[0]}.out"
        run = Background([sys.executable, "-m", python_module, *args], out, list(marks), environ)
        started.append(run)
        return run

    yield start
    left = [line for run in reversed(started) for line in run.stop()]
    if left:
        pytest.fail("processes left behind (killed now):\n" + "\n".join(left))


def join(background, source, name: str, workers: int = 1, environ=None) -> Background:
    """`labapp join SOURCE --workers N --name NAME`, back once all its workers are in the class."""
    run = background(
        "join",
        str(source),
        "--workers",
        str(workers),
        "--name",
        name,
        marks=[runtime() / f"join-{name}"],
        environ=environ,
    )
    run.wait_for_line(r"^joined class ", timeout=45)
    return run


def node(name: str, worker: str = "w1") -> str:
    return f"{name}-{worker}@{HOST}"


# ------------------------------------------------------------------ the shared class
@pytest.fixture(scope="module")
def classroom():
    """A classroom on 127.0.0.2 with no worker of its own: every task must run on a joined machine."""
    with running_class("ctests-class", PUBLIC) as cluster:
        yield cluster


@pytest.fixture
def public_client(classroom):
    """The class's API as students reach it: http://127.0.0.2:PORT (so Host: 127.0.0.2:PORT)."""
    return LabClient(classroom.public_api_url, timeout=10)


def join_url(cluster) -> str:
    return cluster.join_file.read_text().splitlines()[0]


def started_on(client, task_id: str, timeout: float = 30) -> dict:
    """Wait until the task runs; return its status."""
    return wait_state(client, task_id, ("STARTED", "PROGRESS") + FINISH, timeout)


# ------------------------------------------------------------------ 1. a join that cannot work
def timed_join(source, name="nobody", **kwargs):
    started = time.monotonic()
    done = labapp("join", str(source), "--workers", "1", "--name", name, timeout=30, **kwargs)
    return done, time.monotonic() - started


def plain_worker(classroom, node: str) -> tuple[str, ...]:
    """`celery` arguments of a plain Celery worker (no labapp command) on the classroom's broker."""
    return ("-A", "labapp.worker", "-b", join_url(classroom), "worker", "-n", node, "--concurrency", "1")


def test_join_with_a_wrong_password_fails_fast_saying_so(classroom, tmp_path):
    wrong = classroom_protocol.join_url(
        classroom_protocol.WORKER_USER, "Not-the-class-password-42", PUBLIC, classroom.broker.port
    )
    file = runtime_folder.write_private_file(tmp_path / "old.join", wrong)
    done, _ = timed_join(file)
    assert done.returncode == 1, done.stdout + done.stderr  # within timed_join's timeout: no endless retry
    assert "refused the password" in done.stderr and "no broker" not in done.stderr
    assert f"{PUBLIC}:{classroom.broker.port}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not processes.processes_marked(runtime() / "join-nobody")

    # the same, as a URL: the password in LABAPP_BROKER_PASSWORD (the safe way: no warning), or in
    # the URL, where `ps` shows it (a warning)
    bare = f"redis://worker@{PUBLIC}:{classroom.broker.port}/0"
    safe, _ = timed_join(bare, env=env(LABAPP_BROKER_PASSWORD="Not-the-class-password-42"))
    assert safe.returncode == 1 and "refused the password" in safe.stderr, safe.stderr
    assert "warning" not in safe.stderr
    shown, _ = timed_join(wrong)
    assert shown.returncode == 1 and "refused the password" in shown.stderr
    assert "warning: a password on the command line" in shown.stderr

    # a plain Celery worker with that URL says so too, instead of retrying for ever
    plain = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "labapp.worker", "-b", wrong, "worker", "-n", "wrongpw@%h"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env(),
        cwd=tmp_path,
    )
    assert plain.returncode != 0  # within the run's timeout: it gave up instead of retrying for ever
    assert "error: the broker at" in plain.stderr and "refused the password" in plain.stderr, plain.stderr
    assert "Traceback" not in plain.stderr


@pytest.mark.parametrize("how", ["refused", "silent"])
def test_join_against_a_broker_that_is_not_there_fails_fast_saying_so(tmp_path, how):
    silent = socket.socket()  # accepts connections (the kernel does) and never answers
    try:
        if how == "silent":
            silent.bind((PUBLIC, 0))
            silent.listen(8)
            port = silent.getsockname()[1]
        else:
            port = free_port(PUBLIC)  # nothing listens there
        file = runtime_folder.write_private_file(
            tmp_path / "class.join", classroom_protocol.join_url(classroom_protocol.WORKER_USER, STRONG, PUBLIC, port)
        )
        done, _ = timed_join(file)
    finally:
        silent.close()
    assert done.returncode == 1, done.stdout + done.stderr  # within timed_join's timeout: no endless retry
    assert f"no broker answers at {PUBLIC}:{port}" in done.stderr, done.stderr
    assert ("connection refused" if how == "refused" else "timed out") in done.stderr
    assert "refused the password" not in done.stderr


def test_join_a_broker_without_a_class_says_so(tmp_path):
    server = BrokerServer(data_dir=tmp_path / "redis", log_path=tmp_path / "redis.log", password=STRONG, env=env())
    try:
        server.start()
        file = runtime_folder.write_private_file(tmp_path / "plain.join", server.url)
        done, _ = timed_join(file)
        # a user that may PING but not read the class (a broker set up by hand): an answer, not a crash
        admin = redis.Redis.from_url(server.url)
        admin.acl_setuser("pinger", enabled=True, passwords=["+Pinger-password-1"], commands=["+ping"])
        admin.close()
        pinger = classroom_protocol.join_url("pinger", "Pinger-password-1", "127.0.0.1", server.port)
        limited, _ = timed_join(runtime_folder.write_private_file(tmp_path / "limited.join", pinger))
    finally:
        server.stop()
    assert done.returncode == 1
    assert "runs no labapp class" in done.stderr, done.stderr
    assert limited.returncode == 1 and "Traceback" not in limited.stderr, limited.stderr
    assert "answered: " in limited.stderr and "permission" in limited.stderr


# ------------------------------------------------------------------ 2. versions
@pytest.fixture
def other_version(classroom):
    """Rewrite the class's labapp:class key (the instructor runs other code); restore it after."""
    original = classroom_protocol.read(classroom.redis)

    def rewrite(**changes):
        classroom_protocol.publish(classroom.redis, {**original, **changes})

    yield rewrite
    classroom_protocol.publish(classroom.redis, original)


@pytest.mark.parametrize(
    "field, theirs, ours",
    [
        ("labapp", "0.0.9-other", __version__),
        ("tasks", "0123456789ab", classroom_protocol.tasks_version()),
    ],
)
def test_a_machine_with_other_code_is_refused_naming_both_versions(
    classroom, other_version, background, field, theirs, ours
):
    other_version(**{field: theirs})
    done, _ = timed_join(classroom.join_file, name="otherver")
    assert done.returncode == 1, done.stdout + done.stderr
    assert theirs in done.stderr and ours in done.stderr, done.stderr
    assert "runs other code than the class" in done.stderr
    assert not heartbeat.is_alive(classroom.redis, node("otherver"))

    # a plain Celery worker reads the same key and refuses too
    plain = background(
        *plain_worker(classroom, "oldplain@%h"),
        python_module="celery",
    )
    code = plain.wait(30)
    assert code != 0
    assert theirs in plain.text and ours in plain.text, plain.text
    assert "error: this machine runs other code than the class" in plain.text
    assert "Traceback" not in plain.text  # in words, for a student
    assert not heartbeat.is_alive(classroom.redis, f"oldplain@{HOST}")


# ------------------------------------------------------------------ 3. a plain Celery worker
def test_a_plain_celery_worker_joins_runs_tasks_and_shows_as_joined(classroom, public_client, background):
    name = f"plain@{HOST}"
    # a student's shell still holds settings of earlier lessons: -b wins over its LABAPP_BROKER_URL
    # (nothing there), and the class's settings over its others
    leftovers = env(LABAPP_BROKER_URL=NOWHERE, LABAPP_DELIVERY="early_ack", LABAPP_VISIBILITY_TIMEOUT="30")
    worker = background(
        *plain_worker(classroom, "plain@%h"),
        "--without-mingle",
        "--without-gossip",
        python_module="celery",
        environ=leftovers,
    )
    wait_for(
        lambda: heartbeat.is_alive(classroom.redis, name) or worker.proc.poll() is not None,
        45,
        what="the plain worker's first heartbeat",
    )
    assert worker.proc.poll() is None, worker.text
    worker.wait_for_line(rf"transport: +redis://worker:\*\*@{re.escape(PUBLIC)}:")  # the worker user

    task_id = public_client.submit_longtask(1)
    done = wait_state(public_client, task_id)
    assert done["state"] == "SUCCESS", done
    assert done["worker"] == name and done["result"]["worker"] == name

    conf = classroom.celery.control.inspect(destination=[name], timeout=3).conf()[name]  # its own answer
    assert conf["task_acks_late"] is True and conf["worker_prefetch_multiplier"] == 1
    assert conf["broker_transport_options"]["visibility_timeout"] == classroom.settings.visibility_timeout

    status = labapp("status")
    assert status.returncode == 0, status.stderr
    assert f"{name} (joined)" in seen_by(status.stdout, classroom.name), status.stdout

    worker.proc.send_signal(signal.SIGTERM)  # its warm shutdown says goodbye: the beat goes at once
    assert worker.wait(20) == 0, worker.text
    assert not heartbeat.is_alive(classroom.redis, name)


def seen_by(status: str, cluster: str) -> str:
    """The "workers the broker sees" line of one cluster in `labapp status` ('' if none)."""
    lines = status.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{cluster} in "))
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        if line.strip().startswith("workers the broker sees:"):
            return line
    return ""


def test_status_marks_another_machines_w1_as_joined(classroom, background):
    """A plain worker named w1@other-host is not the class's own w1@this-host."""
    classroom.scale(1)
    try:
        foreign = background(
            *plain_worker(classroom, "w1@bobs-laptop"),
            "--without-mingle",
            "--without-gossip",
            python_module="celery",
        )
        wait_for(
            lambda: heartbeat.is_alive(classroom.redis, "w1@bobs-laptop"),
            45,
            what=lambda: f"the worker w1@bobs-laptop to beat:\n{foreign.text}",
        )
        line = seen_by(labapp("status").stdout, classroom.name)
        assert set(line.split(": ", 1)[1].split(", ")) == {f"w1@{HOST}", "w1@bobs-laptop (joined)"}, line
    finally:
        classroom.scale(0)


# ------------------------------------------------------------------ 4. unique names
def test_a_second_join_with_a_live_name_is_refused(classroom, background, tmp_path):
    first = join(background, classroom.join_file, "twin")
    # from another folder too, as from a second laptop with the same host name
    for environ in (None, env(LABAPP_RUNTIME_DIR=str(tmp_path / "other-runtime"))):
        done, _ = timed_join(classroom.join_file, name="twin", env=environ)
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"{node('twin')} already work" in done.stderr and "--name" in done.stderr
    assert first.proc.poll() is None, first.text  # the first is still in, untouched
    assert heartbeat.is_alive(classroom.redis, node("twin"))
    assert "starting it again" not in first.text  # its worker was not disturbed


def test_two_clusters_on_one_external_redis_keep_their_own_workers(tmp_path):
    server = BrokerServer(data_dir=tmp_path / "redis", log_path=tmp_path / "redis.log", password=STRONG, env=env())
    clusters = []
    try:
        server.start()
        for name in ("teama", "teamb"):
            clusters.append(
                Cluster(workers=1, name=name, broker_url=server.url, runtime_dir=str(tmp_path / "clusters")).start()
            )
        a, b = clusters
        names = {a.node_name("w1"), b.node_name("w1")}
        assert names == {f"teama-w1@{HOST}", f"teamb-w1@{HOST}"}
        live = {w["name"] for w in heartbeat.live_workers(a.redis)}
        assert live == names, live  # both beat; neither overwrote the other's key
        for cluster in (a, b):  # either API's task runs (on either worker: they share the queue)
            assert wait_state(cluster.client, cluster.client.submit_longtask(0))["state"] == "SUCCESS"
        b.stop()  # its worker's goodbye removes its own heartbeat, not a's
        assert [w["name"] for w in heartbeat.live_workers(a.redis)] == [f"teama-w1@{HOST}"]
    finally:
        for cluster in clusters:
            cluster.stop()
        server.stop()
    assert not stop_leftovers(tmp_path)


def test_a_students_own_celery_broker_variables_do_not_lead_joined_workers_astray(classroom, public_client, background):
    """CELERY_BROKER_URL wins over configuration in Celery: left in a shell (after Flower, say),
    it took `labapp join`'s workers to another broker while join said 'joined'."""
    join(
        background,
        classroom.join_file,
        "exported",
        environ=env(CELERY_BROKER_URL=NOWHERE, CELERY_RESULT_BACKEND=NOWHERE),
    )
    done = wait_state(public_client, public_client.submit_longtask(0.2), timeout=30)
    assert done["state"] == "SUCCESS" and done["worker"] == node("exported"), done


# ------------------------------------------------------------------ 5. Ctrl-C
def test_ctrl_c_lets_the_running_task_finish_then_leaves(classroom, public_client, background):
    student = join(background, classroom.join_file, "ctrlc")
    task_id = public_client.submit_longtask(2.5)
    running = started_on(public_client, task_id)
    assert running["state"] in ("STARTED", "PROGRESS") and running["worker"] == node("ctrlc"), running

    student.interrupt()
    assert student.wait(30) == 0, student.text
    done = public_client.status(task_id)  # finished before the worker went
    assert done["state"] == "SUCCESS" and done["worker"] == node("ctrlc"), done
    assert done["result"]["run"] == 1
    assert "running tasks finish first" in student.text and "left the class" in student.text
    assert "Traceback" not in student.text
    assert not heartbeat.is_alive(classroom.redis, node("ctrlc"))
    assert not student.alive_processes()


def test_a_second_ctrl_c_stops_at_once_and_the_task_runs_elsewhere(classroom, public_client, background):
    student = join(background, classroom.join_file, "hasty")
    task_id = public_client.submit_longtask(2)
    assert started_on(public_client, task_id)["worker"] == node("hasty")
    # another machine joins meanwhile (it cannot take the task before the visibility timeout)
    rescuer = background(
        "join", str(classroom.join_file), "--workers", "1", "--name", "rescuer", marks=[runtime() / "join-rescuer"]
    )
    stopped_at = time.monotonic()
    student.interrupt()
    student.wait_for_line(r"^leaving: ", timeout=10)
    student.interrupt()
    assert student.wait(15) == 0, student.text
    assert "left the class" in student.text and "Traceback" not in student.text
    assert time.monotonic() - stopped_at < 3, "the second Ctrl-C did not stop at once"
    assert not student.alive_processes()
    assert public_client.status(task_id)["state"] in ("STARTED", "PROGRESS")  # not finished there

    rescuer.wait_for_line(r"^joined class ", timeout=45)
    done = wait_state(public_client, task_id, timeout=40)  # after the 6 s visibility timeout
    assert done["state"] == "SUCCESS" and done["worker"] == node("rescuer"), done
    assert done["result"]["run"] == 2  # the second delivery
    rescuer.interrupt()
    assert rescuer.wait(30) == 0


# ------------------------------------------------------------------ 6. the class ends
def test_when_the_class_ends_a_joined_machine_leaves_by_itself(background, tmp_path):
    serve = background("serve", "--workers", "0", "--name", "ctests-ending", marks=[runtime() / "ctests-ending"])
    join_file = Path(serve.wait_for_line(r"^ready: .* join file (\S+)$").group(1))
    assert join_file.parent == runtime() / "ctests-ending"
    student = join(background, join_file, "stayer")
    serve.interrupt()  # the instructor's Ctrl-C
    assert serve.wait(30) == 0, serve.text
    assert student.wait(30) == 0, student.text
    assert "the class has ended" in student.text and "Traceback" not in student.text
    assert student.text.rstrip().endswith("left the class")
    assert not student.alive_processes() and not serve.alive_processes()


# ------------------------------------------------------------------ 7. lost contact
def test_a_broker_restart_is_lost_contact_then_back_and_tasks_run_again(make_cluster, background):
    teacher = make_cluster(workers=0, name="ctests-flaky", classroom=True, bind=PUBLIC).start()
    client = LabClient(teacher.public_api_url)
    student = join(background, teacher.join_file, "sleeper")
    teacher.broker.stop()  # the laptop's Wi-Fi went, as far as the student can tell
    lost = student.wait_for_line(r"^lost contact with the class at .*$", timeout=15).group(0)
    assert f"no broker answers at {PUBLIC}:{teacher.broker.port}" in lost
    assert "Your workers keep trying" in lost and "?." not in lost
    assert student.proc.poll() is None

    teacher.restart_broker()
    student.wait_for_line(r"^back in the class ", timeout=20)
    assert student.text.count("lost contact") == 1  # said once, not at every look
    wait_for(
        lambda: heartbeat.is_alive(teacher.redis, node("sleeper")),
        20,
        what="the joined worker's heartbeat after the broker came back",
    )
    task_id = client.submit_longtask(0.5)
    done = wait_state(client, task_id, timeout=40)
    assert done["state"] == "SUCCESS" and done["worker"] == node("sleeper"), done


@pytest.fixture
def sleepy_classroom():
    """A classroom whose tasks' time limits outlast the test's sleep.

    SIGSTOP freezes processes while the clock runs on, so a frozen task's time limit would end it
    FAILURE on waking; a real suspend stops the monotonic clock Celery's time limits read.
    """
    limits = dict(task_soft_time_limit=60, task_time_limit=70, visibility_timeout=80)
    with running_class("ctests-sleepy", PUBLIC, **limits) as cluster:
        yield cluster


def test_a_machine_that_sleeps_comes_back_and_its_tasks_complete(sleepy_classroom, background):
    classroom = sleepy_classroom
    public_client = LabClient(classroom.public_api_url, timeout=10)
    student = join(background, classroom.join_file, "napper")
    task_id = public_client.submit_longtask(1.5)
    assert started_on(public_client, task_id)["worker"] == node("napper")
    worker_groups = {os.getpgid(p.pid) for p in student.alive_processes() if p.pid != student.proc.pid}
    everything = [student.proc.pid, *worker_groups]
    for group in everything:  # the lid closes: the joiner, its workers, their pool processes
        os.killpg(group, signal.SIGSTOP)
    try:
        wait_for(
            lambda: not heartbeat.is_alive(classroom.redis, node("napper")),
            10,
            what="the sleeping worker's heartbeat to expire",
        )
        time.sleep(1.5)
    finally:
        for group in everything:
            os.killpg(group, signal.SIGCONT)
    wait_for(lambda: heartbeat.is_alive(classroom.redis, node("napper")), 15, what="the heartbeat after waking up")
    assert wait_state(public_client, task_id, timeout=40)["state"] == "SUCCESS"
    after = wait_state(public_client, public_client.submit_longtask(0.5), timeout=40)
    assert after["state"] == "SUCCESS" and after["worker"] == node("napper"), after
    assert student.proc.poll() is None and "Traceback" not in student.text


# ------------------------------------------------------------------ 8. public mode
def test_serve_refuses_a_public_bind_without_public_and_a_weak_password(tmp_path):
    refused = labapp("serve", "--bind", PUBLIC, "--workers", "0", "--name", "ctests-nope")
    assert refused.returncode == 2 and "add --public" in refused.stderr, refused.stderr
    serve = ("serve", "--public", "--bind", PUBLIC, "--workers", "0", "--name", "ctests-nope")
    weak = tmp_path / "weak.txt"
    for password, why in (
        ("short-pw", "characters"),
        ("abababababababababab", "too few different"),
        ("has spaces in it, sadly!", "letters, digits"),
    ):
        weak.write_text(password + "\n")
        done = labapp(*serve, "--password-file", str(weak))
        assert done.returncode == 2, done.stdout + done.stderr
        assert "too weak" in done.stderr and why in done.stderr, done.stderr
        assert password not in done.stdout + done.stderr
    from_env = labapp(*serve, env=env(LABAPP_BROKER_PASSWORD="short"))
    assert from_env.returncode == 2 and classroom_protocol.PASSWORD_ENV in from_env.stderr
    assert not (runtime() / "ctests-nope" / "broker-data").exists()  # nothing was started


@pytest.mark.parametrize(
    "args, why",
    [
        (["--public"], "--public needs --bind ADDRESS"),  # else a "public" class on loopback, silently
        (["--public", "--bind", "0.0.0.0"], "every network this machine is on"),
    ],
)
def test_serve_refuses_a_public_class_without_one_address(args, why):
    done = labapp("serve", *args, "--workers", "0", "--name", "ctests-nope")
    assert done.returncode == 2 and why in done.stderr, done.stderr
    assert "--bind 192.168.1.20" in done.stderr, "the example must be the command line's, not Python's"
    assert not (runtime() / "ctests-nope" / "broker-data").exists()


def http(url: str, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def raw_reply(port: int, *lines: bytes) -> bytes:
    """Send raw RESP inline commands to the broker on 127.0.0.2; return its first reply line."""
    with socket.create_connection((PUBLIC, port), timeout=5) as sock:
        sock.sendall(b"".join(line + b"\r\n" for line in lines))
        return sock.makefile("rb").readline()


def test_a_public_class_from_the_cli_is_guarded(background, tmp_path):
    password_file = tmp_path / "class.pw"
    password_file.write_text(STRONG + "\n")
    copy = tmp_path / "handout" / "class.join"
    serve = background(
        "serve",
        "--public",
        "--bind",
        PUBLIC,
        "--workers",
        "0",
        "--name",
        "ctests-public",
        "--password-file",
        str(password_file),
        "--join-file",
        str(copy),
        marks=[runtime() / "ctests-public"],
    )
    api = serve.wait_for_line(r"^ready: ctests-public at (http://\S+), join file").group(1)
    assert api.startswith(f"http://{PUBLIC}:")
    port = int(api.rsplit(":", 1)[1])
    folder = runtime() / "ctests-public"
    join_file = folder / JOIN_FILE
    url = join_file.read_text().splitlines()[0]
    secret = urlsplit(url).password
    assert secret == STRONG, "the chosen password is the students' (a restarted class keeps its join file)"
    broker_port = urlsplit(url).port
    assert url.startswith("redis://worker:") and f"@{PUBLIC}:{broker_port}/0" in url

    # the join file, and its copy, are the owner's only
    for file in (join_file, copy):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        assert file.read_text().splitlines()[0] == url
    assert STRONG not in serve.text and secret not in serve.text

    # the API at the class's address, with the issue-9 checks still on
    for host in (None, PUBLIC):  # 127.0.0.2:PORT (what a browser sends), and without the port
        status, answer = http(f"{api}/health", {"Host": host} if host else None)
        assert status == 200 and answer["broker"] == "ok", answer
    assert http(f"{api}/health", {"Host": "evil.example"})[0] == 400
    assert http(f"{api}/health", {"Host": f"{PUBLIC}.nip.io:{port}"})[0] == 400
    assert http(f"{api}/health", {"Origin": "http://evil.example"})[0] == 403
    assert http(f"{api}/health", {"Origin": f"http://{PUBLIC}:{port}"})[0] == 200
    assert http(f"http://127.0.0.1:{port}/health")[0] == 200  # the instructor's own loopback

    # the broker listens on loopback and the class's address only, and wants a password there
    listening = {
        c.laddr.ip
        for c in psutil.net_connections("inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == broker_port
    }
    assert listening == {"127.0.0.1", PUBLIC}, listening
    assert raw_reply(broker_port, b"PING").startswith(b"-NOAUTH"), "an unauthenticated PING was served"
    assert raw_reply(broker_port, b"AUTH worker wrong-password-x", b"PING").startswith(b"-WRONGPASS")

    # a student joins with the handed-out copy and runs a task through the public API
    student = join(background, copy, "pubstudent")
    client = LabClient(api)
    done = wait_state(client, client.submit_longtask(0.5))
    assert done["state"] == "SUCCESS" and done["worker"] == node("pubstudent"), done

    # no password on any command line (ps shows them to every user): the admin one, the workers' one
    ours = {p.pid for p in serve.alive_processes() + student.alive_processes()}
    assert len(ours) >= 6, ours  # serve, its broker and API; join, its worker and the worker's pool
    lines = {proc.info["pid"]: " ".join(proc.info["cmdline"] or []) for proc in psutil.process_iter(["pid", "cmdline"])}
    assert ours <= set(lines)
    exposed = [f"{pid}: {line}" for pid, line in lines.items() if STRONG in line or secret in line]
    assert not exposed, exposed

    # labapp url: masked unless --secret; --join gives the students' URL
    masked = labapp("url", "--name", "ctests-public")
    assert masked.returncode == 0 and STRONG not in masked.stdout and ":***@127.0.0.1:" in masked.stdout
    whole = labapp("url", "--name", "ctests-public", "--secret")
    admin = urlsplit(whole.stdout.strip())
    assert whole.returncode == 0 and (admin.hostname, admin.port) == ("127.0.0.1", broker_port), whole
    assert admin.password not in (None, STRONG) and len(admin.password) >= 32, "the lab's own password is generated"
    assert whole.stdout.strip() == (folder / "broker.url").read_text().splitlines()[0]
    assert not [line for line in lines.values() if admin.password in line], "the admin password in ps"
    students = labapp("url", "--name", "ctests-public", "--join", "--secret")
    assert students.stdout.strip() == url
    assert secret not in labapp("url", "--name", "ctests-public", "--join").stdout

    student.interrupt()
    assert student.wait(30) == 0
    serve.interrupt()
    assert serve.wait(30) == 0, serve.text
    assert not join_file.exists()  # the class's secrets go with it


@pytest.mark.parametrize(
    "command",
    [
        ["FLUSHALL"],
        ["FLUSHDB"],
        ["CONFIG", "SET", "maxmemory", "1"],
        ["CONFIG", "GET", "requirepass"],
        ["MONITOR"],
        ["SHUTDOWN", "NOSAVE"],
        ["ACL", "SETUSER", "worker", "+@all"],
        ["ACL", "LIST"],
        ["KEYS", "*"],
        ["DEBUG", "SLEEP", "0"],
        ["REPLICAOF", "127.0.0.1", "1"],
        ["SAVE"],
    ],
)
def test_the_worker_user_cannot_wipe_reconfigure_watch_or_stop_the_broker(classroom, command):
    parts = urlsplit(join_url(classroom))
    connection = redis.Connection(
        host=PUBLIC, port=parts.port, username=parts.username, password=parts.password, socket_timeout=5
    )
    try:
        connection.connect()
        connection.send_command(*command)
        with pytest.raises(redis.ResponseError) as refused:
            connection.read_response()
    finally:
        connection.disconnect()
    assert "no permissions" in str(refused.value) or "not allowed" in str(refused.value), refused.value
    assert (
        classroom.broker.ping() and classroom_protocol.read(classroom.redis) is not None
    )  # still there, still a class


def test_the_worker_user_can_do_what_a_worker_needs(classroom, public_client, background):
    """The other side of the ACL: the join user really runs tasks (a joined worker uses it)."""
    classroom.redis.acl_log_reset()
    student = join(background, classroom.join_file, "acluser")
    log = runtime() / "join-acluser" / "w1.log"
    assert f"redis://worker:**@{PUBLIC}:{classroom.broker.port}" in log.read_text()

    # a worker that dies is started again by `labapp join`, and logs in again as the worker user
    first = heartbeat.live_workers(classroom.redis)[0]
    assert first["name"] == node("acluser")
    os.killpg(first["pid"], signal.SIGKILL)
    student.wait_for_line(rf"^worker {re.escape(node('acluser'))} stopped .*starting it again", 15)
    wait_for(
        lambda: [
            w
            for w in heartbeat.live_workers(classroom.redis)
            if w["name"] == node("acluser") and w["pid"] != first["pid"]
        ],
        30,
        what="the restarted worker's heartbeat",
    )

    ids = [public_client.submit_factorial(n) for n in (5, 20)]
    cancelled = public_client.submit_longtask(3)
    results = [wait_state(public_client, task_id) for task_id in ids]
    assert [r["state"] for r in results] == ["SUCCESS", "SUCCESS"], results
    assert results[1]["result"]["value"] == "2432902008176640000"
    assert {r["worker"] for r in results} == {node("acluser")}
    started_on(public_client, cancelled)
    public_client.cancel(cancelled)
    assert wait_state(public_client, cancelled)["state"] == "REVOKED"
    assert classroom.celery.control.ping(timeout=2) == [{node("acluser"): {"ok": "pong"}}]  # pidbox too

    denied = [entry for entry in classroom.redis.acl_log() if entry["username"] == classroom_protocol.WORKER_USER]
    assert not denied, f"the broker refused a joined worker: {denied}"
    student.interrupt()
    assert student.wait(30) == 0


# ------------------------------------------------------------------ 9. issue 23: what a classmate can do
DOC_ROW = re.compile(r"^\| `([^`]+)` \| (allowed|refused) \|")


def documented_worker_commands() -> list[tuple[str, str]]:
    """Every (command, allowed|refused) row of the worker-user tables in docs/classroom.md and docs/reliability.md."""
    rows = []
    for doc in ("classroom.md", "reliability.md"):
        text = (paths.ROOT / "docs" / doc).read_text()
        rows += [(m.group(1), m.group(2)) for m in map(DOC_ROW.match, text.splitlines()) if m]
    return rows


def as_worker(classroom, *command):
    """Send one command with the join file's credentials; return the answer, or the ResponseError."""
    parts = urlsplit(join_url(classroom))
    connection = redis.Connection(
        host=PUBLIC, port=parts.port, username=parts.username, password=parts.password, socket_timeout=5
    )
    try:
        connection.connect()
        connection.send_command(*command)
        try:
            return connection.read_response()
        except redis.ResponseError as exc:
            return exc
    finally:
        connection.disconnect()


def test_the_worker_user_can_and_cannot_do_what_the_docs_say(classroom):
    rows = documented_worker_commands()
    assert len(rows) >= 30 and {"allowed", "refused"} == {answer for _, answer in rows}, rows
    admin = classroom.redis
    admin.set("labapp:revealed:ex01", json.dumps({"exercise": "ex01", "parts": ["x = 1"], "revealed_at": "now"}))
    admin.set("labapp:submitted:probe", json.dumps({"name": "long_task", "args": {"x": 1}}))
    wrong = []
    try:
        for text, expected in rows:
            answer = as_worker(classroom, *shlex.split(text))
            refused = isinstance(answer, redis.ResponseError) and (
                "no permissions" in str(answer).lower() or "noperm" in str(answer).lower()
            )
            if isinstance(answer, redis.ResponseError) and not refused:
                wrong.append(f"{text}: expected {expected}, found another error: {answer}")
            elif ("refused" if refused else "allowed") != expected:
                wrong.append(f"{text}: expected {expected}, found {'refused' if refused else 'allowed'}: {answer}")
    finally:
        admin.delete("labapp:revealed:ex01", "labapp:submitted:probe", "labapp:runs:probe", "celery-task-meta-probe")
        admin.delete("probe.reply.celery.pidbox", "labapp:worker:probe@table")
        admin.lrem("celery", 0, "...")  # the documented LPUSH (no worker consumes meanwhile: none is joined)
    assert not wrong, "\n".join(wrong)
    # what the refused lines would have done did not happen
    assert admin.get("labapp:revealed:ex02") is None and admin.get("foo") is None
    assert classroom_protocol.read(admin) is not None and classroom.broker.ping()


def test_the_class_broker_has_a_memory_limit_and_a_value_limit(classroom):
    limits = classroom.redis.config_get("maxmemory*") | classroom.redis.config_get("proto-max-bulk-len")
    assert int(limits["maxmemory"]) == broker_module.default_maxmemory() > 0, limits
    assert broker_module.default_maxmemory() <= min(512 * 2**20, psutil.virtual_memory().total // 4)
    assert limits["maxmemory-policy"] == "noeviction"
    assert int(limits["proto-max-bulk-len"]) == 16 * 2**20
    # a worker may store a result, but not one of 17 MB (the connection is refused mid-value)
    parts = urlsplit(join_url(classroom))
    worker = redis.Redis(host=PUBLIC, port=parts.port, username=parts.username, password=parts.password)
    try:
        with pytest.raises(redis.RedisError):
            worker.set("celery-task-meta-huge", b"x" * (17 * 2**20))
        assert classroom.redis.exists("celery-task-meta-huge") == 0
    finally:
        worker.close()


def test_a_full_broker_refuses_writes_and_evicts_no_queued_task(tmp_path):
    secret = "Worker-password-for-a-full-broker"
    server = BrokerServer(
        data_dir=tmp_path / "redis",
        log_path=tmp_path / "redis.log",
        env=env(),
        worker_users={"worker": secret},
        maxmemory=24 * 2**20,
    )
    server.start()
    try:
        admin = redis.Redis.from_url(server.url)
        admin.lpush("celery", b'{"a": "queued task"}')
        worker = redis.Redis(port=server.port, username="worker", password=secret)
        refused = None
        for i in range(20):  # 20 x 4 MB: far past 24 MB
            try:
                worker.set(f"celery-task-meta-fill{i}", b"x" * (4 * 2**20))
            except redis.ResponseError as exc:
                refused = (i, str(exc))
                break
        assert refused is not None and "used memory > 'maxmemory'" in refused[1], refused
        assert refused[0] <= 6, refused  # stopped near the limit, not after it
        assert admin.lrange("celery", 0, -1) == [b'{"a": "queued task"}']  # nothing was evicted
        worker.close()
        admin.close()
    finally:
        server.stop()


def serve_class(background, name: str, *args: str) -> tuple[Background, Path, str]:
    """`labapp serve ... --name NAME` in the background; return it, its join file and API once it is ready."""
    serve = background("serve", *args, "--name", name, marks=[runtime() / name])
    ready = serve.wait_for_line(r"^ready: \S+ at (\S+), join file (\S+)$", timeout=60)
    return serve, Path(ready.group(2)), ready.group(1)


def test_serve_takes_the_address_after_public_or_says_how(background):
    serve, join_file, _ = serve_class(background, "ctests-pubaddr", "--public", PUBLIC, "--workers", "0")
    assert f"@{PUBLIC}:" in join_file.read_text().splitlines()[0], join_file.read_text()
    serve.wait_for_line(rf"^ready: ctests-pubaddr at http://{re.escape(PUBLIC)}:\d+, join file")
    two = labapp("serve", "--public", PUBLIC, "--bind", "127.0.0.3", "--workers", "0", "--name", "ctests-nope")
    assert two.returncode == 2 and "use --public --bind ADDRESS" in two.stderr, two.stderr


def test_a_students_machine_cannot_stop_or_steer_the_class_workers(background):
    serve, join_file, api = serve_class(background, "ctests-control", "--public", "--bind", PUBLIC, "--workers", "1")
    join(background, join_file, "ctl")
    ours, theirs = f"w1@{HOST}", node("ctl")
    from celery import Celery

    # the student's machine: its broadcasts are refused by the broker
    student = Celery("student", broker=join_file.read_text().splitlines()[0])
    try:
        with pytest.raises(Exception) as refused:
            student.control.broadcast("shutdown")
        assert "permission" in str(refused.value).lower(), refused.value
    finally:
        student.close()

    # even the lab's own password (the broker cannot tell who sent a message) gets only inspect answers
    admin_url = labapp("url", "--name", "ctests-control", "--secret").stdout.strip()
    instructor = Celery("instructor", broker=admin_url)
    client = LabClient(api)
    try:
        task_id = client.submit_longtask(3)
        running = started_on(client, task_id)
        for command, kwargs in (
            ("shutdown", {}),
            ("cancel_consumer", {"queue": "celery"}),
            ("pool_restart", {}),
            ("revoke", {"task_id": task_id, "terminate": True, "signal": "SIGKILL"}),
        ):
            # both answer (limit=2 returns as soon as they have; the timeout only bounds a failure)
            replies = instructor.control.broadcast(command, arguments=kwargs, reply=True, limit=2, timeout=20)
            answered = {name: answer for reply in replies for name, answer in reply.items()}
            assert set(answered) == {ours, theirs}, (command, replies)
            assert all("refused remote control command" in a.get("error", "") for a in answered.values()), answered
        done = wait_state(client, task_id)
        assert done["state"] == "SUCCESS" and done["worker"] == running["worker"], done
        pings = instructor.control.ping(limit=2, timeout=20)
        assert {name for reply in pings for name in reply} == {ours, theirs}, pings
        after = wait_state(client, client.submit_longtask(0.2))  # still taking tasks: no consumer cancelled
        assert after["state"] == "SUCCESS", after
    finally:
        instructor.close()
    assert "refused remote control command 'shutdown'" in (runtime() / "ctests-control" / "w1.log").read_text()


def test_serve_replaces_a_worker_that_exits_and_says_so(background):
    serve, _, _ = serve_class(background, "ctests-supervise", "--workers", "1")
    admin = redis.Redis.from_url(labapp("url", "--name", "ctests-supervise", "--secret").stdout.strip())
    try:
        first = wait_for(
            lambda: next((w for w in heartbeat.live_workers(admin) if w["name"] == f"w1@{HOST}"), None), 20
        )
        os.killpg(first["pid"], signal.SIGKILL)
        line = serve.wait_for_line(rf"^worker w1@{re.escape(HOST)} exited .*: starting it again.*$", 40).group(0)
        assert "killed by SIGKILL" in line, line
        wait_for(
            lambda: [
                w for w in heartbeat.live_workers(admin) if w["name"] == f"w1@{HOST}" and w["pid"] != first["pid"]
            ],
            40,
            what="the replaced worker's heartbeat",
        )
    finally:
        admin.close()
    assert serve.proc.poll() is None, serve.text


def test_a_students_long_task_sent_past_the_api_is_bounded_by_the_task(classroom, background):
    """With the join file a student can send any lab task straight to the queue; the task checks its bounds."""
    join(background, classroom.join_file, "bounded")
    from celery import Celery

    url = join_url(classroom)
    student = Celery("student", broker=url, backend=url)
    try:
        result = student.send_task("labapp.tasks.long_task", kwargs={"x": 100000})
        wait_for(lambda: result.state in FINISH, 30, what="the student's long_task(x=100000) to end")
        assert result.state == "FAILURE", result.state
        bound = f"expected x to be a number from 0 to {classroom.settings.longtask_max_x:g}, found 100000"
        assert bound in str(result.result), result.result
    finally:
        student.close()


def test_a_student_reads_only_the_instructors_reveal_and_a_malformed_one_is_refused(classroom, monkeypatch, capsys):
    """The instructor (the lab's password) publishes; a student's reveal() reads with the join file's user."""
    from labapp import reveal as reveal_module
    from labapp.authoring import reveal_store

    instructor = reveal_store.open_store(classroom.broker_url)
    student_url = join_url(classroom)
    monkeypatch.setenv("LABAPP_REVEAL_FROM", student_url)
    try:
        instructor.publish(reveal_store.record("ex01", ["answer = 42"]))
        assert reveal_store.open_store(student_url).get("ex01")["parts"] == ["answer = 42"]
        with pytest.raises(reveal_store.StoreError):  # the student's user cannot publish
            reveal_store.open_store(student_url).publish(reveal_store.record("ex02", ["import os"]))
        # a record that `labapp reveal` did not write (another exercise's, or no code parts) is refused
        classroom.redis.set("labapp:revealed:ex03", json.dumps({"exercise": "ex01", "parts": ["x"]}))
        reveal_module.reveal("ex03", root=paths.ROOT)
        said = capsys.readouterr().out
        assert "Cannot read what the instructor revealed" in said and "is not what `labapp reveal` writes" in said
        assert "Traceback" not in said
    finally:
        classroom.redis.delete("labapp:revealed:ex01", "labapp:revealed:ex02", "labapp:revealed:ex03")


def test_every_embedded_broker_has_a_memory_limit_and_only_a_class_caps_values(tmp_path):
    server = BrokerServer(data_dir=tmp_path / "redis", log_path=tmp_path / "redis.log", env=env())
    server.start()
    try:
        admin = redis.Redis.from_url(server.url)
        limits = admin.config_get("maxmemory*") | admin.config_get("proto-max-bulk-len")
        admin.close()
    finally:
        server.stop()
    assert int(limits["maxmemory"]) == broker_module.default_maxmemory(), limits
    assert limits["maxmemory-policy"] == "noeviction"
    assert int(limits["proto-max-bulk-len"]) == 512 * 2**20, "a laptop's broker keeps Valkey's own value cap"
