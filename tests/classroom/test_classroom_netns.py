"""Classroom mode across hosts: a teacher and two students, each in a network namespace of its
own on a private subnet (tests/support/netlab.py), with the real CLI, broker, workers and HTTP.

Root only (namespaces): skipped elsewhere, and it says why; never skipped in CI (CI=true).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from labapp.engine import processes
from labapp.settings import Settings
from tests.support import netlab, paths
from tests.support.netlab import Netlab
from tests.support.netns_classroom import drive, events, host_of, join_student, start_teacher

SUBNET = "10.231.77.0/24"
HOSTS = ("teacher", "s1", "s2")
NODE_NAME = re.compile(r"^(s1|s2)-w[12]@")


def _need_namespaces() -> None:
    ok, reason = netlab.available()
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI runs the network-namespace test, but it cannot here: {reason}")
    pytest.skip(f"no network namespaces here: {reason}")


def _root_view() -> dict:
    """What the root namespace shows: namespaces, links, unreachable routes."""
    ip = netlab.ip_command()

    def shown(*args):
        return subprocess.run([ip, *args], capture_output=True, text=True, timeout=10).stdout

    links = {line.split(":")[1].strip().split("@")[0] for line in shown("-o", "link").splitlines()}
    return {
        "namespaces": set(netlab.namespaces()),
        "links": links,
        "unreachable": shown("route", "show", "type", "unreachable"),
    }


def _assert_nothing_left(net: Netlab, before: dict, folder) -> None:
    after = _root_view()
    ours = f"{netlab.PREFIX}-{net.tag}-"
    assert not [name for name in after["namespaces"] if name.startswith(ours)], after["namespaces"]
    assert after["links"] == before["links"], "links in the root namespace changed"
    assert SUBNET not in after["unreachable"], after["unreachable"]
    assert net.leftovers() == []
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert ours not in ps and str(folder) not in ps, ps
    assert processes.processes_marked(folder) == []


@pytest.mark.timeout(60)
def test_the_subnet_is_unreachable_from_the_root_namespace_before_any_namespace_exists():
    _need_namespaces()
    with Netlab(SUBNET, HOSTS) as net:
        kinds = [kind for kind, _ in net.steps]
        assert kinds[0] == "route" and "netns" in kinds
        root = subprocess.run(
            [netlab.ip_command(), "route", "get", net.address("s1")], capture_output=True, text=True, timeout=10
        )
        assert root.returncode != 0 and "No route to host" in root.stderr, root
        inside = net.run(
            "teacher", [netlab.ip_command(), "route", "get", net.address("s1")], capture_output=True, text=True
        )
        assert inside.returncode == 0 and "dev br0" in inside.stdout, inside
    kinds = [kind for kind, _ in net.steps]
    assert kinds[-1] == "route-deleted"  # the fence goes last, after every namespace
    assert kinds.index("route-deleted") > max(i for i, kind in enumerate(kinds) if kind == "netns-deleted")
    assert net.leftovers() == []


@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "killed"])
def test_a_stopped_or_killed_run_leaves_nothing_after_cleanup(tmp_path, sig):
    """Ctrl-C cleans up at once; a SIGKILLed run's leftovers go with the next cleanup_stale()."""
    _need_namespaces()
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C works even if `make test &` ignored it\n"
        "from tests.support.netlab import Netlab\n"
        "with Netlab('10.231.78.0/24', ('hub', 'a')) as net:\n"
        "    net.popen('a', ['sleep', '120'])\n"
        "    print(net.tag, flush=True)\n"
        "    time.sleep(120)\n"
    )
    # -c with the project's folder as cwd: the child imports tests.support as this process does
    run = subprocess.Popen(
        [sys.executable, "-c", code], cwd=paths.ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        tag = run.stdout.readline().strip()
        assert tag, "the net did not come up"
        names = {f"{netlab.PREFIX}-{tag}-hub", f"{netlab.PREFIX}-{tag}-a"}
        assert names <= set(netlab.namespaces())
        run.send_signal(sig)
        run.wait(60)  # a bound, not a speed: on a loaded machine the clean-up takes tens of seconds
    finally:
        if run.poll() is None:  # a failure above: the next test's net must not meet this one
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(30)
            netlab.cleanup_stale()
    if sig == signal.SIGKILL:
        removed = netlab.cleanup_stale()
        assert {f"namespace {name}" for name in names} <= set(removed), removed
    assert not names & set(netlab.namespaces())
    assert "10.231.78.0/24" not in netlab.our_routes()
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert "sleep 120" not in ps


def _batch_cutting_s1(net: Netlab, api: str, folder):
    """Run 24 tasks of 1 s; once 3 are done and s1 has a task it has only begun, cut s1's link.
    Returns the final statuses, the time of the cut, and the tasks s1 was running then."""
    latest, cut_at, running_on_s1 = {}, None, set()
    for event in events(drive(net, api, folder, 24, 1.0, "--limit", "90")):
        if event["event"] == "status":
            status = event["status"]
            latest[status["task_id"]] = status
            on_s1 = [
                s for s in latest.values() if host_of(s.get("worker")) == "s1" and s["state"] in ("STARTED", "PROGRESS")
            ]
            # begun: not past half its steps, so it cannot finish before the link is down
            begun = [
                s for s in on_s1 if s["state"] == "STARTED" or 2 * s["progress"]["current"] < s["progress"]["total"]
            ]
            done = sum(s["state"] == "SUCCESS" for s in latest.values())
            if cut_at is None and done >= 3 and begun:
                net.cut("s1")
                cut_at = time.time()
                running_on_s1 = {s["task_id"] for s in on_s1}
    assert event["complete"], [s and s["state"] for s in event["statuses"]]
    assert cut_at is not None, "s1 never had a task just begun after 3 were done"
    return event["statuses"], cut_at, running_on_s1


@pytest.mark.timeout(180)
def test_students_share_a_batch_and_a_cut_students_tasks_finish_on_the_other(tmp_path):
    _need_namespaces()
    before = _root_view()
    with Netlab(SUBNET, HOSTS) as net:
        teacher, api, join_file = start_teacher(net, tmp_path, workers=0)
        assert api == f"http://{net.address('teacher')}:{api.rsplit(':', 1)[1]}"
        assert join_file.stat().st_mode & 0o777 == 0o600
        broker_url = join_file.read_text().splitlines()[0]
        assert re.match(rf"^redis://worker:[^@]+@{re.escape(net.address('teacher'))}:\d+/0$", broker_url), broker_url
        students = {host: join_student(net, host, join_file, workers=2) for host in ("s1", "s2")}

        final, cut_at, running_on_s1 = _batch_cutting_s1(net, api, tmp_path)
        assert [s["state"] for s in final] == ["SUCCESS"] * 24, final
        workers = [s["worker"] for s in final]
        assert all(NODE_NAME.match(w) for w in workers), workers
        assert {host_of(w) for w in workers} == {"s1", "s2"}, workers  # both student hosts worked

        # what finished after the cut ran on s2: s1 could store no result once cut
        after_cut = [s for s in final if s["result"]["finished"] > cut_at]
        assert after_cut and all(host_of(s["worker"]) == "s2" for s in after_cut), after_cut
        # s1's unfinished tasks came back (visibility timeout) and ran again, on s2
        redelivered = [s for s in final if s["task_id"] in running_on_s1 and host_of(s["worker"]) == "s2"]
        assert redelivered and all(s["result"]["run"] == 2 for s in redelivered), (running_on_s1, final)
        # by the class's visibility timeout (6 s, from the teacher's environment), which the students
        # took from the class: with their own default (30 s) the tasks would be back no sooner than that
        assert all(s["result"]["started"] - cut_at < Settings().visibility_timeout / 2 for s in redelivered), [
            (s["result"]["started"] - cut_at) for s in redelivered
        ]

        assert students["s2"].stop() == 0, students["s2"].out.tail()  # warm shutdown, exit 0
        students["s1"].stop(timeout=5)  # cut off: whatever it does, close() ends it
        code = teacher.stop()
        assert code == 0, f"labapp serve exited {code}:\n{teacher.out.tail()}"
        # it stopped everything it started: nothing runs in the teacher's namespace any more
        processes.wait_until(
            lambda: not netlab.pids_in(net.namespace("teacher")), 10, 0.2, "the teacher's broker and API to end with it"
        )
    _assert_nothing_left(net, before, tmp_path)
