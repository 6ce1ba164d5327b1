"""Issue 21: the class's progress without a broker: when a check sends, what a record holds, what is read."""

import json
import os

import pytest

from labapp import progress
from labapp.checks import CheckFailed, _reported


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A machine of its own: its registry folder (where `labapp join` notes the class), progress on."""
    monkeypatch.setenv("LABAPP_REGISTRY_DIR", str(tmp_path / "registry"))
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    return tmp_path


def test_a_machine_that_joined_nothing_is_in_no_class(machine):
    assert progress.joined() is None
    assert not (machine / "registry" / progress.JOINED_FOLDER).exists()


def test_a_live_join_note_is_the_class_and_is_private(machine):
    note = progress.remember_join("redis://worker:pw@10.0.0.1:6380/0", "ana", "classroom")
    assert oct(note.stat().st_mode & 0o777) == "0o600"  # it holds the join file's password
    assert progress.joined()["name"] == "ana"  # the note's owner is this process: it runs
    progress.forget_join(note)
    assert progress.joined() is None


def test_a_note_whose_join_is_gone_is_ignored(machine):
    note = progress.remember_join("redis://worker:pw@10.0.0.1:6380/0", "ghost", "classroom")
    entry = json.loads(note.read_text())
    entry["owner"] = {"pid": 2**22 + 12345, "started": 1.0}  # no such process
    note.write_text(json.dumps(entry))
    assert progress.joined() is None


@pytest.mark.parametrize("value", ["off", "OFF", "0", "no", "false"])
def test_progress_off_notes_no_class_and_sends_nothing(machine, monkeypatch, capsys, value):
    monkeypatch.setenv(progress.PROGRESS_ENV, value)
    assert progress.remember_join("redis://worker:pw@10.0.0.1:6380/0", "ana", "classroom") is None
    assert progress.report("ex01", True, "fine") is None
    assert capsys.readouterr().out == ""


def test_outside_a_class_a_check_reports_nothing_and_keeps_its_verdict(machine, capsys, monkeypatch):
    monkeypatch.setattr(progress, "_clients", {})

    def check_ex09(ok):
        """A check."""
        if not ok:
            raise CheckFailed("ex09: expected 1, found 2")
        print("passed")

    check = _reported(check_ex09)
    with pytest.raises(CheckFailed, match="expected 1, found 2"):
        check(False)
    check(True)
    assert capsys.readouterr().out == "passed\n"
    assert progress._clients == {}  # not even a connection was made


def test_a_record_holds_who_what_and_when_never_code():
    record = progress.progress_record("ana", "ex02", False, "expected 202, found 500\n  File 'x.py', line 3", at=10.0)
    assert record == {
        "name": "ana",
        "exercise": "ex02",
        "passed": False,
        "message": "expected 202, found 500",
        "at": 10.0,
    }
    assert len(progress.one_line("x" * 5000)) == progress.MESSAGE_MAX


def test_whatever_a_student_appends_reads_as_a_record_or_nothing():
    assert progress._parsed("{}") is None
    assert progress._parsed("not json") is None
    assert progress._parsed(json.dumps({"name": 3, "exercise": "ex01"})) is None
    forged = progress._parsed(json.dumps({"name": "x" * 99, "exercise": "ex01", "passed": "yes", "at": 5}))
    assert forged == {"name": "x" * 31, "exercise": "ex01", "passed": False, "message": "", "at": 5.0}


def test_the_table_and_the_counts_say_who_passed_what():
    snapshot = {
        "students": {
            "ana": {
                "last_attempt_seconds_ago": 12.0,
                "exercises": {"ex01": {"passed": True, "message": "ok", "at": 2.0, "attempts": 2}},
            },
            "bia": {
                "last_attempt_seconds_ago": 200.0,
                "exercises": {
                    "ex02": {"passed": False, "message": "blocks the web server (.get())", "at": 1.0, "attempts": 1}
                },
            },
            "caio": {"last_attempt_seconds_ago": None, "exercises": {}},
        },
        "exercises": {
            "ex01": {
                "passed": 1,
                "failed": 0,
                "not_tried": 2,
                "most_common_failure": None,
                "most_common_failure_count": 0,
            },
            "ex02": {
                "passed": 0,
                "failed": 1,
                "not_tried": 2,
                "most_common_failure": "blocks the web server (.get())",
                "most_common_failure_count": 1,
            },
        },
    }
    lines = progress.table(snapshot).splitlines()
    assert lines[0].split() == ["student", "ex01", "ex02", "last", "check", "latest", "message"]
    assert lines[1].split()[:5] == ["ana", "\u2713", "\u00b7", "12", "s"]
    assert lines[2].split()[:6] == ["bia", "\u00b7", "\u2717", "3", "min", "ago"]
    assert lines[3].split() == ["caio", "\u00b7", "\u00b7", "-"]
    assert lines[-2:] == [
        "ex01: 1 \u2713, 0 \u2717, 2 not tried",
        "ex02: 0 \u2713, 1 \u2717, 2 not tried; most common failure: 'blocks the web server (.get())' \u00d7 1",
    ]


def test_a_joined_name_is_a_student_and_the_instructors_workers_are_not():
    assert progress._student_of("ana-w1@laptop") == "ana"
    assert progress._student_of("my-name-w2@laptop") == "my-name"
    assert progress._student_of("w1@instructor") is None


def test_the_exercises_come_from_the_project(machine):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert progress.default_exercises(root)[:2] == ["ex01", "ex02"]
    assert progress.default_exercises(machine) == []
