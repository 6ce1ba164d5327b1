"""What a user reads is clean: no warning when the API starts, a description in every command's
--help, argparse errors in words (never an internal function name)."""

from __future__ import annotations

import re
import subprocess
import sys

from labapp.cli import build_parser


def labapp(*args):
    return subprocess.run([sys.executable, "-m", "labapp", *args], capture_output=True, text=True, timeout=60)


def test_the_api_log_starts_without_a_warning(cluster):
    # `python -m labapp.api.server` warned on every start when `import labapp` had imported it already
    log = (cluster.dir / "api.log").read_text()
    assert "Serving on http://127.0.0.1:" in log
    assert not re.search(r"warning", log, re.I), log[:2000]


def test_every_command_has_a_description_in_its_help():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    assert {"up", "down", "status", "bench", "lab", "exercises"} <= set(commands)
    missing = [name for name, sub in commands.items() if not (sub.description or "").strip()]
    assert not missing, f"`labapp <command> --help` says nothing about: {missing}"
    status = labapp("status", "--help")
    assert status.returncode == 0 and "registry" in status.stdout


def test_a_bad_worker_count_is_explained_in_words():
    for value in ("abc", "-2"):
        result = labapp("up", "--workers", value)
        assert result.returncode == 2, result
        error = result.stderr.strip().splitlines()[-1]
        assert "a whole number from 0 up is needed" in error and value in error, error
        assert not re.search(r"invalid \S+ value|_\w+", error.split(":", 1)[1]), error
