"""A widget's behaviour without a cluster."""

from __future__ import annotations

import sys
import threading

from labapp.widgets import _Poller


def test_poller_never_misses_a_start_while_it_winds_down():
    ran = threading.Event()

    def step():
        ran.set()
        return None  # idle: the thread winds down after every step

    poller = _Poller(step, "race")
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to hit the narrow window
    try:
        for i in range(3000):
            ran.clear()
            poller.start()  # like a Submit click while the board goes idle
            assert ran.wait(2), f"start() number {i} was lost: no step ran after it"
    finally:
        sys.setswitchinterval(interval)
        poller.stop()
