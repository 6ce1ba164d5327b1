"""Runaway student code and odd faults (issue 23, items 9 to 11): a print loop, a stopped worker, clear errors.

Each test runs real processes: the embedded broker, Celery workers, `labapp up`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from labapp import ClusterError
from labapp.engine import logfiles, processes, student_code
from labapp.engine.student_code import StudentCodeError
from tests.support.lab_commands import LABAPP, labapp, started, stop
from tests.support.waiting import read_until, wait_for, wait_state

PRINT_LOOP = """
    from celery import shared_task

    @shared_task
    def chatter(lines):
        for number in range(lines):
            print(f"line {number} " + "x" * 990)
        return lines
"""


def write(folder, name: str, code: str):
    """Write a student file and return its path."""
    path = folder / name
    path.write_text(textwrap.dedent(code))
    return path


# ----------------------------------------------------------------- item 9: a log's size is capped
def test_a_print_loop_cannot_grow_a_worker_log_past_its_cap(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, log_max_mb=1).start()
    cluster.add_tasks(write(tmp_path, "chatty_tasks.py", PRINT_LOOP))
    log = cluster.dir / "w1.log"
    result = cluster.celery.send_task("chatty_tasks.chatter", kwargs={"lines": 20000})  # ~20 MB of output
    largest = 0
    while not result.ready():
        largest = max(largest, log.stat().st_size)
    assert result.get(timeout=60) == 20000
    cap = 1024 * 1024
    # the worker looks at its log every 0.05 s: once it has, the log is back under its cap
    wait_for(lambda: log.stat().st_size <= cap, 10, what=lambda: f"{log} under 1 MB, found {log.stat().st_size} B")
    text = log.read_text(errors="replace")
    assert "[labapp: this log passed 1 MB;" in text
    assert "MB of earlier lines were dropped]" in text
    print(
        f"largest size seen while printing ~20 MB: {largest / 1024 / 1024:.1f} MB; at the end: {log.stat().st_size} B"
    )


def test_the_next_start_keeps_only_the_tail_of_a_huge_log(tmp_path):
    log = tmp_path / "w1.log"
    log.write_bytes(b"an old line\n" * (5 * 1024 * 1024 // 12))  # 5 MB
    logfiles.open_for_new_process(log, "w1", "exited normally")
    older = tmp_path / "w1.1.log"
    assert older.stat().st_size <= logfiles.ROTATE_BYTES + 200
    assert older.read_text().startswith("[labapp: 4.0 MB of earlier lines were dropped]\nan old line\n")
    assert not log.exists() or log.stat().st_size == 0


# ------------------------------------------------- item 10: a stopped worker, and a task that ends twice
def stale_row(cluster, name: str) -> str:
    """The alive column of a worker in cluster.status()."""
    return str(next(row["alive"] for row in cluster.status() if row["component"] == name))


def test_a_stopped_worker_shows_no_heartbeat_and_its_second_end_is_recorded(make_cluster):
    cluster = make_cluster(workers=2).start()
    task_id = cluster.client.submit_longtask(2)
    worker = wait_state(cluster.client, task_id, states=("PROGRESS",))["worker"]
    name = worker.split("@")[0]
    other = "w2" if name == "w1" else "w1"
    stopped = cluster.workers[name].proc.pid
    os.killpg(stopped, signal.SIGSTOP)  # what Ctrl-Z does to a foreground worker: its pool stops too
    try:
        seen = wait_for(
            lambda: re.fullmatch(r"process exists, no heartbeat for (\d+) s", stale_row(cluster, name)),
            30,
            what=lambda: f"{name} shown without heartbeat; found {stale_row(cluster, name)!r}",
        )
        assert stale_row(cluster, other) == "True"
        assert any("kill -CONT" in note for note in cluster.status().notes)
        shown = labapp("status", "--name", cluster.name).stdout
        assert re.search(rf"{name}\s+pid {stopped}\s+process exists, no heartbeat for \d+ s", shown), shown
        # the visibility timeout hands the task to the other worker, which finishes it
        done = wait_state(cluster.client, task_id, timeout=60)
        assert done["state"] == "SUCCESS" and done["result"]["worker"].startswith(other), done
        assert "completions" not in done
    finally:
        os.killpg(stopped, signal.SIGCONT)
    # resumed, the stopped worker ends the task too: Celery keeps the first result, /status counts both ends
    again = wait_for(lambda: cluster.client.status(task_id).get("completions"), 30, what="a second completion")
    assert again == 2
    assert cluster.client.status(task_id)["result"]["worker"].startswith(other)
    wait_for(lambda: stale_row(cluster, name) == "True", 10, what=f"{name} beating again")
    print(f"no heartbeat shown after {seen.group(1)} s; completions recorded: {again}")


# ----------------------------------------------------------------- item 11: one clear line, never a traceback
# root writes through any file mode: as root, `labapp up` runs without the capabilities that allow it
WITHOUT_ROOTS_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


def labapp_up_in(runtime: Path) -> subprocess.CompletedProcess:
    """`labapp up` with runtime as its runtime folder, by a user to whom file modes apply."""
    prefix = WITHOUT_ROOTS_OVERRIDE if os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, *LABAPP, "up", "--workers", "1", "--name", "nowrite"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "LABAPP_RUNTIME_DIR": str(runtime)},
    )  # fmt: skip


def test_labapp_up_in_an_unwritable_folder_says_so_in_one_line(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o555)
    done = labapp_up_in(runtime)
    assert done.returncode == 1, done
    assert done.stderr.strip() == f"error: cannot write {runtime / 'nowrite'}: check its owner and permissions"
    assert "Traceback" not in done.stdout + done.stderr


def test_labapp_up_with_an_unwritable_log_file_says_so_in_one_line(tmp_path):
    folder = tmp_path / "runtime" / "nowrite"
    folder.mkdir(parents=True, mode=0o700)
    log = folder / "api.log"
    log.write_text("a log of someone else's\n")
    log.chmod(0o444)
    done = labapp_up_in(tmp_path / "runtime")
    assert done.returncode == 1, done
    assert done.stderr.strip() == f"error: cannot write {log}: check its owner and permissions"
    assert "Traceback" not in done.stdout + done.stderr
    assert not processes.processes_marked(folder)


def test_a_module_that_ends_the_process_at_import_is_named_plainly(tmp_path):
    path = write(tmp_path, "quits_tasks.py", "import os\nos._exit(1)\n")
    with pytest.raises(StudentCodeError) as err:
        student_code.check_tasks(path)
    assert str(err.value).startswith(f"{path}: importing it ended the process with exit code 1")
    assert "Warning" not in str(err.value) and "unexpectedly" not in str(err.value)


@pytest.mark.parametrize("also_mine", [False, True])
def test_a_task_named_like_the_labs_own_is_refused_naming_the_clash(tmp_path, also_mine):
    code = (
        "from celery import shared_task\n\n"
        "@shared_task(name='labapp.tasks.factorial')\ndef factorial(n):\n    return n\n"
    )
    if also_mine:
        code += "\n@shared_task\ndef other(n):\n    return n\n"
    path = write(tmp_path, "clash_tasks.py", code)
    with pytest.raises(StudentCodeError) as err:
        student_code.check_tasks(path)
    assert "task 'labapp.tasks.factorial' has the name of one of the lab's own tasks" in str(err.value)


def test_using_the_labs_task_in_a_module_is_no_clash(tmp_path):
    code = (
        "from celery import shared_task\nfrom labapp.tasks import factorial\n\n"
        "@shared_task\ndef twice(n):\n    return n\n"
    )
    assert student_code.check_tasks(write(tmp_path, "uses_tasks.py", code)) == {"uses_tasks.twice": "(n)"}


DIES_IN_WORKERS = """
    import os
    from celery import shared_task

    if os.environ.get("LABAPP_CLUSTER_DIR"):  # in the cluster's workers, not in the check
        print("the student module ends this worker", flush=True)
        os._exit(3)

    @shared_task
    def never(n):
        return n
"""


def test_a_worker_that_dies_at_start_shows_its_own_last_lines(make_cluster, tmp_path):
    cluster = make_cluster(workers=1).start()
    assert "ready" in cluster.logs("w1")  # the worker before it wrote its lines in w1.log
    with pytest.raises(ClusterError) as err:
        cluster.add_tasks(write(tmp_path, "dying_tasks.py", DIES_IN_WORKERS))
    message = str(err.value)
    assert "w1 exited with code 3 at start" in message
    shown = message.split("--- last lines ---", 1)[1]
    assert shown.strip() == "the student module ends this worker", message


def test_a_dead_api_is_restarted_alone_and_status_says_so(make_cluster):
    cluster = make_cluster(workers=1).start()
    worker, url = cluster.workers["w1"].proc.pid, cluster.api_url
    os.kill(cluster.api.proc.pid, signal.SIGKILL)
    wait_for(lambda: not cluster.api.alive, 10, what="the API to die")
    table = cluster.status()
    assert next(row["alive"] for row in table if row["component"] == "api") is True
    assert any(note.startswith("the API stopped (killed by SIGKILL) and was restarted") for note in table.notes)
    assert cluster.api_url == url and cluster.workers["w1"].proc.pid == worker  # the workers were left alone
    assert wait_state(cluster.client, cluster.client.submit_factorial(5))["result"]["value"] == "120"
    assert "the api before it (pid" in (cluster.dir / "api.log").read_text()


def core_pid(folder: Path, marker: str) -> int:
    """The pid of the cluster's process whose command line holds marker."""
    found = [p.pid for p in processes.processes_marked(folder) if marker in " ".join(p.cmdline())]
    assert len(found) == 1, found
    return found[0]


def test_labapp_up_restarts_a_dead_api_and_names_a_dead_broker(sandbox):
    up = started([*LABAPP, "up", "--workers", "1", "--name", "faults-up"])
    try:
        url = read_until(up, r"API:\s+(http://\S+)", "`labapp up` to print the API URL")
        folder = Path(os.environ["LABAPP_RUNTIME_DIR"]) / "faults-up"
        os.kill(core_pid(folder, "labapp.api.server"), signal.SIGKILL)
        said = read_until(up, r"(the API stopped .*; restarted it)", "`labapp up` to restart its API")
        assert "killed by SIGKILL" in said
        assert labapp("status", "--name", "faults-up").returncode == 0
        broker = [p.pid for p in processes.processes_marked(folder) if p.name().startswith(("valkey", "redis"))]
        os.kill(broker[0], signal.SIGKILL)
        up.wait(60)
        rest = up.stdout.read()
    finally:
        rest = stop(up) if up.poll() is None else locals().get("rest", "")
    assert up.returncode == 1
    assert f"error: the broker stopped (killed by SIGKILL); see {folder / 'broker.log'}" in rest, rest
    assert "a core component stopped" not in rest
    print(f"API {url} restarted by `labapp up`; its end after the broker died: {rest.strip().splitlines()[0]}")
