"""A process's identity (pid + start time) survives the wall clock moving, and still tells a reused pid apart."""

import os
import sys

import pytest

from labapp.engine import processes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc start times are Linux's")


def test_a_clock_step_of_a_second_does_not_make_a_live_process_look_gone():
    identity = processes.process_identity(os.getpid())
    # what another process computes after NTP moved the boot time Linux reports (whole seconds) by one
    stepped = {**identity, "started": identity["started"] + 1.0}
    assert processes.is_same_process(stepped)


def test_another_process_under_the_same_pid_is_not_the_one_we_knew():
    identity = processes.process_identity(os.getpid())
    assert not processes.is_same_process({**identity, "since_boot": identity["since_boot"] - 5})
