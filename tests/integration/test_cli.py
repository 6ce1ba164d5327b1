"""The `labapp` command as a user runs it: up, submit with curl-like calls, Ctrl-C."""

import os
import re
import signal
import subprocess
import sys
import urllib.request

from labapp.engine.broker import free_port
from tests.support import paths
from tests.support.raw_http import raw_request
from tests.support.terminal import start_in_terminal
from tests.support.waiting import read_until, wait_for


def labapp(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "labapp", *args], capture_output=True, text=True, timeout=60, **kwargs)


def test_help_explains_every_command():
    top = labapp("--help")
    assert top.returncode == 0
    for command in ("up", "down", "status", "bench", "lab"):
        assert command in top.stdout
        sub = labapp(command, "--help")
        assert sub.returncode == 0 and "usage: labapp " + command in sub.stdout


def test_a_reader_that_stops_early_gets_no_traceback():
    """`labapp status | head -1`: the pipe closes before labapp writes; it ends quietly."""
    proc = subprocess.Popen([sys.executable, "-m", "labapp", "status"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line
    errors = proc.stderr.read().decode()
    proc.wait(timeout=60)
    proc.stderr.close()
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors


def test_status_and_down_work_despite_a_bad_setting(monkeypatch):
    monkeypatch.setenv("LABAPP_VISIBILITY_TIMEOUT", "5")  # contradicts longtask_max_x
    for command in ("status", "down"):
        done = labapp(command)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert "warning: visibility_timeout" in done.stderr


def test_up_serves_the_class_calls_and_ctrl_c_stops_everything():
    up = subprocess.Popen(
        [sys.executable, "-m", "labapp", "up", "--workers", "1", "--name", "cli"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        api_url = read_until(up, r"API:\s+(http://\S+)", "`labapp up` to print the API URL")
        broker_line = up.stdout.readline()
        assert "broker:" in broker_line and ":***@127.0.0.1:" in broker_line  # password masked

        status, answer, _ = raw_request(api_url, "POST", "/longtask", b'{"x": 2}')
        assert status == 202
        task_id = answer["task_id"]

        def finished():
            answer = raw_request(api_url, "GET", f"/status/{task_id}")[1]
            return answer if answer["state"] == "SUCCESS" else None

        assert wait_for(finished, 30, what="the task to complete")["result"]["x"] == 2
    finally:
        up.send_signal(signal.SIGINT)
        try:
            output, _ = up.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)  # never leave it (and its cluster) behind
            output, _ = up.communicate()
            raise AssertionError("Ctrl-C did not stop `labapp up`:\n" + output) from None
    assert up.returncode == 0, output
    assert "stopping" in output
    listed = labapp("status").stdout.splitlines()
    assert not any(line.startswith("cli in ") for line in listed)  # its registry entry is gone


def test_lab_serves_jupyterlab_and_one_ctrl_c_stops_it_its_kernels_and_their_clusters(tmp_path):
    """As the README says, whatever JupyterLab's own start-up line says about pressing it twice."""
    import requests
    from jupyter_client import BlockingKernelClient

    from labapp.engine import processes

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LABAPP_RUNTIME_DIR"}  # a student's: <root>/.labapp
    env.update(
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
        DISPLAY="",
        WAYLAND_DISPLAY="",
        LABAPP_REGISTRY_DIR=str(tmp_path / "registry"),
    )
    # a terminal on stdin, as with `make lab`: Jupyter asks its y/n question only then
    lab, terminal = start_in_terminal(
        [
            sys.executable,
            "-m",
            "labapp",
            "lab",
            "--root",
            str(tmp_path),
            f"--port={port}",
            "--ServerApp.port_retries=0",
        ],
        env,
    )
    started: list[str] = []
    try:
        url = read_until(
            lab, rf"(http://127\.0\.0\.1:{port}/lab\?token=\w+)", "`labapp lab` to print its URL", lines=started
        )
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200 and "JupyterLab" in resp.read().decode()
        # a notebook's kernel with a cluster, as lesson 00 leaves it
        kernel = requests.post(
            f"http://127.0.0.1:{port}/api/kernels",
            params={"token": url.rsplit("=", 1)[1]},
            json={"name": "python3"},
            timeout=60,
        ).json()
        client = BlockingKernelClient(connection_file=str(tmp_path / "jupyter-runtime" / f"kernel-{kernel['id']}.json"))
        wait_for(lambda: os.path.exists(client.connection_file), what="the kernel's connection file")
        client.load_connection_file()
        client.start_channels()
        try:
            reply = client.execute_interactive(
                "from labapp import Cluster\ncluster = Cluster(workers=1, name='labstop').start()", timeout=120
            )
        finally:
            client.stop_channels()
        assert reply["content"]["status"] == "ok", reply["content"]
        cluster_dir = tmp_path / ".labapp" / "labstop"
        assert processes.processes_marked(cluster_dir) and list((tmp_path / "registry").glob("*.json"))
        assert lab.poll() is None  # headless: it keeps running
    finally:
        os.killpg(lab.pid, signal.SIGINT)  # once, like a student's Ctrl-C in the terminal
        try:  # wait, then read: communicate() would skip what readline() left in the buffer
            lab.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
            raise AssertionError("one Ctrl-C did not stop `labapp lab`:\n" + lab.stdout.read()) from None
        finally:
            os.close(terminal)
        rest = lab.stdout.read()
    assert lab.returncode == 0, rest
    assert "Shut down this Jupyter server" not in rest  # no y/n question for a beginner to miss
    assert "Shutting down 1 kernel" in rest, rest
    # the kernel stopped its cluster itself (a killed one would leave its registry entry behind)
    wait_for(lambda: not processes.processes_marked(tmp_path), 20, what="the kernel and its cluster to go")
    assert not list((tmp_path / "registry").glob("*.json"))
    # the README quotes JupyterLab's own start-up line, and says why once is enough here
    quoted = re.search(r"\((twice to skip confirmation)\)", "".join(started) + rest)
    assert quoted, "".join(started) + rest
    readme = " ".join((paths.ROOT / "README.md").read_text().split())
    assert f"({quoted.group(1)})" in readme and "Stop it with Ctrl-C, once" in readme
