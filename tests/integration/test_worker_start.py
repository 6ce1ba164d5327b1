"""What a lab worker imports at start (issue 22): Celery's command line without its interactive shell."""

import subprocess
import sys

from labapp.engine.celery_config import worker_command

PROBE = """
import sys
from labapp.engine import celery_main
celery_main.without_shell()
import celery.bin.celery  # every subcommand, as `celery worker` imports them
shell = sorted(name for name in ("click_repl", "prompt_toolkit") if name in sys.modules and sys.modules[name].__spec__)
print(",".join(shell) or "none")
"""


def test_a_worker_starts_through_the_lab_s_celery_entry_point():
    command = worker_command("labapp.worker", "w1@host")
    assert command[1:3] == ["-m", "labapp.engine.celery_main"], f"expected the lab's entry point, found {command[:3]}"
    assert command[3:6] == ["-A", "labapp.worker", "worker"], f"expected Celery's worker command, found {command[3:6]}"


def test_celerys_command_line_loads_without_its_interactive_shell():
    found = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    assert found.stdout.strip() == "none", f"expected no interactive shell imported, found {found.stdout.strip()}"


def test_the_lab_s_entry_point_runs_celerys_commands():
    found = subprocess.run(
        [sys.executable, "-m", "labapp.engine.celery_main", "--version"], capture_output=True, text=True, timeout=120
    )
    import celery

    assert found.returncode == 0 and celery.__version__ in found.stdout, (
        f"expected Celery's version {celery.__version__}, found {found.stdout!r} {found.stderr[-300:]!r}"
    )
