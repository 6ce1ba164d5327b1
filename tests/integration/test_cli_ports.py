"""`labapp up --api-port`: a port outside 1-65535 is refused; the URL printed is the one that answers."""

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

from labapp.engine.broker import free_port
from tests.support.waiting import wait_for


@pytest.mark.parametrize("port", ["99999", "65536", "0", "-1", "http"])
def test_up_refuses_a_port_outside_1_to_65535_before_starting_anything(port):
    done = subprocess.run(
        [sys.executable, "-m", "labapp", "up", "--workers", "0", "--name", "badport", "--api-port", port],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--api-port" in done.stderr and "cluster ready" not in done.stdout


def test_the_url_up_prints_is_the_one_that_answers():
    port = free_port()
    up = subprocess.Popen(
        [sys.executable, "-m", "labapp", "up", "--workers", "0", "--name", "port", "--api-port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:

        def printed_url():
            line = up.stdout.readline()
            assert line, "labapp up exited early"
            match = re.search(r"API:\s+(http://\S+)", line)
            return match.group(1) if match else None

        url = wait_for(printed_url, 60, what="`labapp up` to print the API URL")
        assert url == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(url + "/health", timeout=10) as resp:
            assert json.loads(resp.read())["broker"] == "ok"
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.communicate()
