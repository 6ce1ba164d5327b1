"""Issue 21: students' checks report to their class; the instructor reads it with `labapp progress`.

A classroom on 127.0.0.2 (see test_classroom.py), two students that joined it with the real
`labapp join`, each with a registry folder of its own (two machines), and each student's checks
run in this process (the student's kernel) against a private cluster of the student's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from labapp import progress
from labapp.checks import CheckFailed, check_ex01, check_ex02
from labapp.engine import classroom_protocol, processes
from labapp.reveal import solution_parts
from labapp.settings import Settings
from tests.support import paths
from tests.support.class_cluster import running_class
from tests.support.sandbox import stop_leftovers
from tests.support.waiting import wait_for

PUBLIC = "127.0.0.2"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="127.0.0.2 is on the loopback interface on Linux only"
)


def sandbox_env(**extra) -> dict[str, str]:
    """The sandbox's environment without a broker of the caller's own."""
    mine = ("LABAPP_BROKER_URL", classroom_protocol.PASSWORD_ENV, "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    return {**{k: v for k, v in os.environ.items() if k not in mine}, **extra}


@pytest.fixture(scope="module")
def classroom():
    """A classroom on 127.0.0.2 with no worker of its own."""
    with running_class("ptests-class", PUBLIC) as cluster:
        yield cluster


class Student:
    """A student's machine: its own registry folder (where `labapp join` notes the class), its `labapp join`."""

    def __init__(self, name: str, folder: Path, environ: dict | None = None):
        self.name = name
        self.registry = folder / f"{name}-registry"
        self.out = folder / f"{name}-join.out"
        self.env = sandbox_env(LABAPP_REGISTRY_DIR=str(self.registry), PYTHONUNBUFFERED="1", **(environ or {}))
        self.proc = None

    def join(self, classroom) -> "Student":
        """`labapp join class.join --workers 1 --name NAME`, back once its worker is in the class."""
        with open(self.out, "w") as handle:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "labapp",
                    "join",
                    str(classroom.join_file),
                    "--workers",
                    "1",
                    "--name",
                    self.name,
                ],
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        wait_for(lambda: "joined class" in self.out.read_text() or self.proc.poll() is not None, 45)
        assert self.proc.poll() is None, self.out.read_text()
        return self

    def leave(self) -> None:
        if self.proc is not None:
            processes.stop_children([self.proc], timeout=25, whole_group=False)

    def kernel(self, monkeypatch) -> None:
        """This test process becomes the student's kernel: it sees the student's machine."""
        monkeypatch.setenv("LABAPP_REGISTRY_DIR", str(self.registry))


@pytest.fixture
def students(tmp_path, classroom):
    made: list[Student] = []

    def make(name: str, **environ) -> Student:
        student = Student(name, tmp_path, environ)
        made.append(student)
        return student.join(classroom)

    yield make
    for student in made:
        student.leave()
    left = [
        line for student in made for line in stop_leftovers(Settings.from_env().runtime_path / f"join-{student.name}")
    ]
    assert not left, f"left behind: {left}"


def instructor_progress(classroom) -> dict:
    """`labapp progress --json --name CLASS`, as the instructor runs it (the sandbox's registry)."""
    done = subprocess.run(
        [sys.executable, "-m", "labapp", "progress", "--json", "--name", classroom.name, "--root", str(paths.ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        env=sandbox_env(LABAPP_REGISTRY_DIR=classroom.settings.registry_dir),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def failed_message(check, *args) -> str:
    with pytest.raises(CheckFailed) as failed:
        check(*args)
    return progress.one_line(str(failed.value).split(": ", 1)[1])  # as it travels


def commands_sent(client, command: str) -> int:
    """How many times the broker ran this command since it started (INFO commandstats)."""
    return int(client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


def test_two_students_checks_show_in_labapp_progress(classroom, students, make_cluster, tmp_path, monkeypatch, capsys):
    classroom.redis.delete(progress.LIST_KEY)  # another test's records
    one, two = students("one"), students("two")
    own = make_cluster(workers=1, name="student-own").start()  # a student's own laptop cluster

    one.kernel(monkeypatch)
    first = failed_message(check_ex01, own)
    said = capsys.readouterr().out
    assert "sent to the class as one: ex01" in said, said
    shown = instructor_progress(classroom)  # run after the check returned: the record must be there now
    assert shown["students"]["one"]["exercises"]["ex01"] | {"at": 0} == {
        "passed": False,
        "message": first,
        "attempts": 1,
        "at": 0,
    }

    work = tmp_path / "work"
    work.mkdir()
    code = solution_parts(paths.ROOT, "ex01", "en")[0].split("\n", 1)[1]  # without its %%writefile line
    (work / "ex01_tasks.py").write_text(code)
    own.add_tasks(str(work / "ex01_tasks.py"))
    check_ex01(own)
    assert "sent to the class as one: ex01" in capsys.readouterr().out
    shown = instructor_progress(classroom)
    ex01 = shown["students"]["one"]["exercises"]["ex01"]
    assert (ex01["passed"], ex01["attempts"]) == (True, 2) and ex01["message"].startswith("factorial(n) ran"), ex01

    two.kernel(monkeypatch)
    second = failed_message(check_ex02, own)
    shown = instructor_progress(classroom)
    assert {name: {ex: r["passed"] for ex, r in s["exercises"].items()} for name, s in shown["students"].items()} == {
        "one": {"ex01": True},
        "two": {"ex02": False},
    }
    assert shown["students"]["two"]["exercises"]["ex02"]["message"] == second
    assert shown["exercises"]["ex01"] | {"most_common_failure": None} == {
        "passed": 1,
        "failed": 0,
        "not_tried": 1,
        "most_common_failure": None,
        "most_common_failure_count": 0,
    }
    assert shown["exercises"]["ex02"]["most_common_failure"] == second
    assert (shown["exercises"]["ex02"]["failed"], shown["exercises"]["ex02"]["not_tried"]) == (1, 1)
    assert [entry["exercise"] for entry in progress.sent()[-3:]] == ["ex01", "ex01", "ex02"]

    table = subprocess.run(
        [sys.executable, "-m", "labapp", "progress", "--name", classroom.name, "--root", str(paths.ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        env=sandbox_env(LABAPP_REGISTRY_DIR=classroom.settings.registry_dir),
    ).stdout
    assert "ex02: 0 \u2713, 1 \u2717, 1 not tried; most common failure:" in table, table


def test_a_student_outside_the_class_sends_nothing(classroom, students, make_cluster, tmp_path, monkeypatch, capsys):
    own = make_cluster(workers=0, name="outside").start()
    admin = classroom.redis
    before = (commands_sent(admin, "rpush"), admin.llen(progress.LIST_KEY))
    connections = admin.info("stats")["total_connections_received"]

    # a machine that never joined: no note, no connection to any class broker
    monkeypatch.setenv("LABAPP_REGISTRY_DIR", str(tmp_path / "never-joined"))
    failed_message(check_ex01, own)
    # a machine whose `labapp join` died without leaving: its note names a process that is gone
    stale = tmp_path / "stale"
    monkeypatch.setenv("LABAPP_REGISTRY_DIR", str(stale))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    note = progress.remember_join(classroom.join_file.read_text().splitlines()[0], "ghost", "x")
    entry = json.loads(note.read_text())
    entry["owner"] = processes.process_identity(dead.pid)
    note.write_text(json.dumps(entry))
    failed_message(check_ex01, own)

    assert "sent to the class" not in capsys.readouterr().out
    assert (commands_sent(admin, "rpush"), admin.llen(progress.LIST_KEY)) == before
    assert admin.info("stats")["total_connections_received"] == connections


def test_progress_off_sends_nothing_and_a_class_out_of_reach_costs_one_line(
    classroom, students, make_cluster, tmp_path, monkeypatch, capsys
):
    own = make_cluster(workers=0, name="optout").start()
    three = students("three", LABAPP_PROGRESS="off")  # `labapp join` itself notes no class
    three.kernel(monkeypatch)
    assert progress.joined() is None
    four = students("four")
    four.kernel(monkeypatch)
    monkeypatch.setenv("LABAPP_PROGRESS", "off")  # the kernel's own opt-out
    before = classroom.redis.llen(progress.LIST_KEY)
    failed_message(check_ex01, own)
    assert "sent to the class" not in capsys.readouterr().out
    assert classroom.redis.llen(progress.LIST_KEY) == before

    # a class whose broker is gone: the check's verdict stands, with one short line about it
    monkeypatch.delenv("LABAPP_PROGRESS")
    monkeypatch.setenv("LABAPP_REGISTRY_DIR", str(tmp_path / "gone"))
    progress.remember_join("redis://worker:Nobody-listens-here-1@127.0.0.1:9/0", "gone", "x")
    message = failed_message(check_ex01, own)
    said = capsys.readouterr().out.strip().splitlines()
    assert message.startswith("expected work/ex01_tasks.py loaded") and len(said) == 1, said
    assert said[0].startswith("(not sent to the class:"), said


def test_the_worker_user_may_append_progress_and_nothing_more(classroom):
    parts = classroom_protocol.connect(classroom.join_file.read_text().splitlines()[0])
    try:
        parts.rpush(progress.LIST_KEY, json.dumps(progress.progress_record("probe", "ex01", True, "ok")))
        for refused in (
            lambda: parts.lrange(progress.LIST_KEY, 0, -1),
            lambda: parts.ltrim(progress.LIST_KEY, 1, 0),
            lambda: parts.delete(progress.LIST_KEY),
            lambda: parts.lset(progress.LIST_KEY, 0, "x"),
            lambda: parts.expire(progress.LIST_KEY, 1),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                refused()
    finally:
        parts.close()
        classroom.redis.delete(progress.LIST_KEY)


def test_the_instructor_reads_in_chunks_drops_what_is_not_a_record_and_keeps_the_latest(classroom, monkeypatch):
    admin = classroom.redis
    admin.delete(progress.LIST_KEY)
    monkeypatch.setattr(progress, "READ_CHUNK", 2)
    records = [progress.progress_record("ana", "ex01", n == 4, f"attempt {n}", at=time.time() + n) for n in range(5)]
    admin.rpush(progress.LIST_KEY, *[json.dumps(r) for r in records[:3]], "{}", "not json")
    reader = progress.ClassProgress.of_cluster(classroom, ["ex01", "ex02"])
    assert reader.refresh() == 5
    admin.rpush(progress.LIST_KEY, *[json.dumps(r) for r in records[3:]])
    assert reader.refresh() == 2
    shown = reader.snapshot()["students"]["ana"]["exercises"]
    assert shown == {"ex01": {"passed": True, "message": "attempt 4", "at": shown["ex01"]["at"], "attempts": 5}}
    admin.delete(progress.LIST_KEY)  # the class's end: the reader starts again from nothing
    assert reader.refresh() == 0 and reader.snapshot()["students"].get("ana") is None
