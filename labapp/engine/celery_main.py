"""``celery`` for the lab's workers: Celery's own command line, without its interactive shell.

Celery's CLI imports every subcommand at start, and ``celery amqp``'s shell pulls in click_repl and
prompt_toolkit: ~75 ms of CPU (a seventh of the CLI's import) in every worker that starts, for a shell
a worker never opens. Run as ``python -m labapp.engine.celery_main -A labapp.worker worker ...``.
"""

from __future__ import annotations

import sys
import types


def without_shell() -> None:
    """Stand in for click_repl (not yet imported): ``celery amqp`` registers no shell in this process."""
    if "click_repl" not in sys.modules:
        stand_in = types.ModuleType("click_repl")
        stand_in.register_repl = lambda group, name="repl": None
        sys.modules["click_repl"] = stand_in


def main() -> None:
    """Run Celery's command line (the arguments of this process) without its interactive shell."""
    without_shell()
    from celery.__main__ import main as celery_main

    celery_main()


if __name__ == "__main__":
    main()
