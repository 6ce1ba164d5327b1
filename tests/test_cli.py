"""The `labapp` command as a user runs it: up, submit with curl-like calls, Ctrl-C."""

import json
import os
import pty
import re
import signal
import subprocess
import sys
import urllib.request

from conftest import wait_for
from labapp.broker import free_port


def labapp(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "labapp", *args], capture_output=True, text=True,
                          timeout=60, **kwargs)


def test_help_explains_every_command():
    top = labapp("--help")
    assert top.returncode == 0
    for command in ("up", "down", "status", "bench", "lab"):
        assert command in top.stdout
        sub = labapp(command, "--help")
        assert sub.returncode == 0 and "usage: labapp " + command in sub.stdout


def test_status_and_down_work_despite_a_bad_setting(monkeypatch):
    monkeypatch.setenv("LABAPP_VISIBILITY_TIMEOUT", "5")  # contradicts longtask_max_x
    for command in ("status", "down"):
        done = labapp(command)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert "warning: visibility_timeout" in done.stderr


def test_up_serves_the_class_calls_and_ctrl_c_stops_everything():
    up = subprocess.Popen([sys.executable, "-m", "labapp", "up", "--workers", "1", "--name", "cli"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True)
    try:
        lines = []
        api_url = wait_for(lambda: _read_api_url(up, lines), 60, what="`labapp up` to print the API URL")
        broker_line = up.stdout.readline()
        assert "broker:" in broker_line and ":***@127.0.0.1:" in broker_line  # password masked

        request = urllib.request.Request(api_url + "/longtask", data=b'{"x": 2}', method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 202
            task_id = json.loads(resp.read())["task_id"]

        def finished():
            with urllib.request.urlopen(f"{api_url}/status/{task_id}", timeout=10) as resp:
                answer = json.loads(resp.read())
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


def _read_api_url(proc, lines):
    line = proc.stdout.readline()
    if not line:
        raise AssertionError("labapp up exited early:\n" + "".join(lines))
    lines.append(line)
    match = re.search(r"API:\s+(http://\S+)", line)
    return match.group(1) if match else None


def test_lab_serves_jupyterlab_headless_and_one_ctrl_c_stops_it(tmp_path):
    port = free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"), DISPLAY="",
               WAYLAND_DISPLAY="")
    # a terminal on stdin, as with `make lab`: Jupyter asks its y/n question only then
    terminal, terminal_side = pty.openpty()
    lab = subprocess.Popen([sys.executable, "-m", "labapp", "lab", "--root", str(tmp_path),
                            f"--port={port}", "--ServerApp.port_retries=0"],
                           stdin=terminal_side, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env=env, start_new_session=True)
    os.close(terminal_side)
    lines: list[str] = []
    try:
        def url_printed():
            line = lab.stdout.readline()
            if not line:
                raise AssertionError("labapp lab exited early:\n" + "".join(lines))
            lines.append(line)
            match = re.search(rf"(http://127\.0\.0\.1:{port}/lab\?token=\w+)", line)
            return match.group(1) if match else None

        url = wait_for(url_printed, 60, what="`labapp lab` to print its URL")
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200 and "JupyterLab" in resp.read().decode()
        assert lab.poll() is None  # headless: it keeps running
    finally:
        lab.send_signal(signal.SIGINT)  # once, like a student's Ctrl-C
        try:
            rest, _ = lab.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.communicate()
            raise AssertionError("one Ctrl-C did not stop `labapp lab`:\n" + "".join(lines)) from None
        finally:
            os.close(terminal)
    assert "Shut down this Jupyter server" not in rest  # no y/n question for a beginner to miss
