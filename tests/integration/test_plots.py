"""Plots of a scaling run render to PNG without a display, with labels, units and reference lines."""

from __future__ import annotations

import os
import subprocess
import sys

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_renders_without_a_display_and_without_pyplot(tmp_path):
    script = (
        "import sys\n"
        "sys.path.insert(0, %r)\n"
        "from test_plots import fake_records\n"
        "from labapp import plots\n"
        "plots.save_summary(fake_records(), %r)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    ) % (os.path.dirname(__file__), str(tmp_path / "headless.png"))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "headless.png").read_bytes().startswith(PNG_MAGIC)
