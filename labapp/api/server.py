"""Entry point of the API process: ``python -m labapp.api.server --port P`` (waitress, never debug).

No module that ``import labapp`` loads may import this one: ``-m`` would then find it in
sys.modules already and print a RuntimeWarning at the top of every api.log.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
from pathlib import Path

from waitress import serve

from labapp.api.app import create_app
from labapp.engine import processes, registry
from labapp.engine.student_code import register_student_routes
from labapp.settings import Settings


def embedded_broker_stopper():
    """A callable that stops this cluster's embedded broker (None without one).

    The broker is a server binary that cannot watch its starter; where no parent-death
    signal exists (macOS, or a cluster started off the main thread), the API does it.
    """
    pid = os.environ.get(processes.BROKER_PID_ENV, "")
    if not pid.isdigit():
        return None
    identity = processes.process_identity(int(pid))  # so that a reused pid is never hit
    cluster_dir = os.environ.get(processes.CLUSTER_ENV, "")
    entry = registry.entry_path(Settings.from_env().registry_path, Path(cluster_dir)) if cluster_dir else None

    def stop() -> None:
        # the broker may have been restarted since (restart_broker()): the registry names it
        for broker in [identity, *_registered_brokers(entry)]:
            if processes.is_same_process(broker):
                os.kill(broker["pid"], signal.SIGTERM)  # SIGTERM: it flushes its append-only file

    return stop


def _registered_brokers(entry: Path | None) -> list[dict]:
    try:
        children = json.loads(entry.read_text())["children"]
    except (AttributeError, OSError, ValueError, KeyError):
        return []
    return [child for child in children if child.get("component") == "broker"]


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:  # waitress would bind value % 65536 and serve elsewhere
        raise argparse.ArgumentTypeError(f"a TCP port is from 1 to 65535, got {value}")
    return value


def main(argv: list[str] | None = None) -> None:
    """Serve the API on host:port until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--public-host", default="", help="a classroom's address: serve there too (besides --host)")
    parser.add_argument("--port", type=_port, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # "Task queue depth is 1": a request waited for a free thread on a busy machine; nothing went wrong
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    processes.watch_parent(parent=processes.owner_pid(), on_orphan=embedded_broker_stopper())
    app = create_app()
    register_student_routes(app)  # the blueprints a student added with cluster.add_routes()
    listen = [f"{args.host}:{args.port}"]
    if args.public_host and args.public_host != args.host:
        host = f"[{args.public_host}]" if ":" in args.public_host else args.public_host
        listen.append(f"{host}:{args.port}")
    serve(app, listen=" ".join(listen), threads=args.threads, ident="labapp", clear_untrusted_proxy_headers=True)


if __name__ == "__main__":
    main()
