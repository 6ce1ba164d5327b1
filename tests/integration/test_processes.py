"""The process model: children die with their starter, `labapp down` cleans what is left."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import psutil

from labapp.api.client import LabClient
from tests.support.waiting import wait_for

STARTER = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    from labapp import Cluster
    # Handle the interrupt before the pids line is printed: the test may send it right after reading that line.
    signal.signal(signal.SIGINT, lambda *_: print("interrupted", flush=True))
    cluster = Cluster(workers=1, name=sys.argv[1])
    if sys.argv[2] == "thread":   # no parent-death signal when started off the main thread
        worker = threading.Thread(target=cluster.start); worker.start(); worker.join()
    else:
        cluster.start()
    pids = [row["pid"] for row in cluster.status()]
    print(json.dumps({"pids": pids, "broker": cluster.broker.proc.pid, "api": cluster.api.proc.pid,
                      "api_url": cluster.api_url}), flush=True)
    while True:   # like a kernel: an interrupt stops the cell, not the kernel
        time.sleep(600)
""")


def start_owner(name: str, mode: str = "main", env: dict | None = None):
    """A separate Python process (like a notebook kernel) that starts a cluster; returns it and its children's pids."""
    owner = subprocess.Popen(
        [sys.executable, "-c", STARTER, name, mode], stdout=subprocess.PIPE, text=True, start_new_session=True, env=env
    )
    line = owner.stdout.readline()
    assert line, "the owner process failed to start a cluster"
    return owner, json.loads(line)


def gone(pid: int) -> bool:
    """True once the process has exited (a zombie waiting for its parent counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def all_gone(pids):
    return all(gone(pid) for pid in pids)


def test_children_die_when_their_kernel_is_killed():
    owner, info = start_owner("orphans")
    assert all(psutil.pid_exists(pid) for pid in info["pids"])
    owner.kill()  # SIGKILL: no atexit, no cleanup code runs
    owner.wait()
    assert wait_for(lambda: all_gone(info["pids"]), 10, what="children to die with their parent")


def test_interrupting_the_kernel_group_spares_the_cluster():
    owner, info = start_owner("interrupt")
    try:
        os.killpg(owner.pid, signal.SIGINT)  # what Jupyter's "interrupt kernel" does
        assert owner.stdout.readline().strip() == "interrupted"
        # each child leads a group of its own: a signal to the owner's group never reaches it
        assert [os.getpgid(pid) for pid in info["pids"]] == info["pids"]
        # and the cluster still works: broker, API and worker run a task after the interrupt
        client = LabClient(info["api_url"])
        task_id = client.submit_factorial(5)
        wait_for(lambda: client.status(task_id)["state"] == "SUCCESS", what="a task after the interrupt")
        assert not any(gone(pid) for pid in info["pids"])
    finally:
        owner.kill()
        owner.wait()
    assert wait_for(lambda: all_gone(info["pids"]), 10, what="children to die with the owner")


def test_without_a_death_signal_the_cluster_still_goes_with_its_owner():
    # Started off the main thread, no child has a parent-death signal: the same as on macOS.
    # Workers and API watch their owner, and the API takes the broker down with it.
    owner, info = start_owner("no-pdeathsig", mode="thread")
    owner.kill()
    owner.wait()
    assert wait_for(lambda: all_gone(info["pids"]), 15, what="every child to notice its owner died")


def test_labapp_down_stops_what_a_dead_owner_left(sandbox):
    owner, info = start_owner("leftover", mode="thread")
    os.kill(info["api"], signal.SIGKILL)  # the API (the broker's watcher) dies with the owner
    owner.kill()
    owner.wait()
    # the worker watches its owner and follows it; nothing watches the broker now
    worker = [pid for pid in info["pids"] if pid not in (info["broker"], info["api"])]
    wait_for(lambda: all_gone(worker), 10, what="the worker to go with its owner")
    assert not gone(info["broker"])  # it outlived the others: `labapp down` has work to do

    status = subprocess.run([sys.executable, "-m", "labapp", "status"], capture_output=True, text=True)
    assert "leftover" in status.stdout and "dead" in status.stdout

    down = subprocess.run([sys.executable, "-m", "labapp", "down"], capture_output=True, text=True)
    assert down.returncode == 0
    assert "leftover" in down.stdout and "broker" in down.stdout
    assert wait_for(lambda: all_gone(info["pids"]), 10, what="`labapp down` to stop the leftovers")

    again = subprocess.run([sys.executable, "-m", "labapp", "down"], capture_output=True, text=True)
    assert "leftover" not in again.stdout


def test_labapp_down_leaves_a_cluster_in_use_unless_all(tmp_path):
    # a registry of its own: `down --all` must not reach the other tests' clusters
    env = dict(os.environ, LABAPP_REGISTRY_DIR=str(tmp_path / "registry"))
    owner, info = start_owner("in-use", env=env)
    try:
        down = subprocess.run([sys.executable, "-m", "labapp", "down"], capture_output=True, text=True, env=env)
        assert "in-use" in down.stdout and "still in use" in down.stdout
        assert all(psutil.pid_exists(pid) for pid in info["pids"])

        forced = subprocess.run(
            [sys.executable, "-m", "labapp", "down", "--all"], capture_output=True, text=True, env=env
        )
        assert forced.returncode == 0 and "in-use" in forced.stdout
        assert wait_for(lambda: all_gone(info["pids"]), 10, what="`labapp down --all` to stop it")
    finally:
        owner.kill()
        owner.wait()
