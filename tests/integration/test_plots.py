"""Plots of a scaling run render to PNG without a display, with labels, units and reference lines."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import paths

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_renders_without_a_display_and_without_pyplot(tmp_path):
    script = (
        "import sys\n"
        "from tests.support.bench_records import fake_records\n"
        "from labapp import plots\n"
        "plots.save_summary(fake_records(), %r)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    ) % str(tmp_path / "headless.png")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    # -c in the project's folder: the child imports tests.support as the tests do
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=paths.ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "headless.png").read_bytes().startswith(PNG_MAGIC)
