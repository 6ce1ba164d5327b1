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
import time
from collections import Counter
from pathlib import Path

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

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


# Open connections the API keeps at most (waitress's default, which fits macOS's 256 open files per process).
# Past it, waitress stops accepting: 100 idle or slowloris connections made every /health wait in the
# listen backlog until one closed (channel_timeout, 2 min). FairServer makes room instead.
CONNECTION_LIMIT = 100
EVICTION_LOG_EVERY = 60.0  # seconds: one log line per minute of evictions, not one per connection


def idle_victim(channels: list) -> object | None:
    """The connection to close to make room: an idle one (no request being served) of the peer
    address holding the most connections, the longest idle first; None when every one is busy.

    So a client that opens many connections loses its own, never a classmate's.
    """
    per_peer = Counter(_peer(channel) for channel in channels)
    idle = [channel for channel in channels if not channel.requests and not channel.will_close]
    if not idle:
        return None
    return min(idle, key=lambda channel: (-per_peer[_peer(channel)], channel.last_activity))


def _peer(channel) -> str:
    return channel.addr[0] if isinstance(channel.addr, tuple) else str(channel.addr)


class FairServer(TcpWSGIServer):
    """A waitress listener that, at the connection limit, closes an idle connection (idle_victim)
    and goes on accepting, where waitress stops accepting until a connection closes by itself."""

    evicted = 0
    logged_at = -EVICTION_LOG_EVERY

    def readable(self):
        """Accept while below the limit; at it, mark a victim to close (it closes in this loop turn)."""
        now = time.time()
        if now >= self.next_channel_cleanup:  # waitress's own: close connections idle past channel_timeout
            self.next_channel_cleanup = now + self.adj.cleanup_interval
            self.maintenance(now)
        if not self.accepting:
            return False
        if len(self._map) < self.adj.connection_limit:
            return True
        victim = idle_victim([ch for ch in list(self._map.values()) if isinstance(ch, HTTPChannel)])
        if victim is not None:
            victim.will_close = True  # it becomes writable, waitress closes it, and the next turn accepts
            self._note_eviction(victim)
        return False

    def _note_eviction(self, victim) -> None:
        FairServer.evicted += 1
        now = time.monotonic()
        if now - FairServer.logged_at >= EVICTION_LOG_EVERY:
            FairServer.logged_at = now
            self.logger.warning(
                "%d open connections (the limit): closed %d idle one(s) so far to make room, the latest from %s",
                self.adj.connection_limit,
                FairServer.evicted,
                _peer(victim),
            )


def create_server(app, **settings):
    """waitress's create_server with FairServer listeners (one per address in settings' listen)."""
    adj = Adjustments(**settings)
    socket_map: dict = {}
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    servers = [FairServer(app, socket_map, dispatcher=dispatcher, adj=adj, sockinfo=info) for info in adj.listen]
    if len(servers) == 1:
        return servers[0]
    listening = [(server.effective_host, server.effective_port) for server in servers]
    return MultiSocketServer(socket_map, adj, listening, dispatcher, servers[-1].log_info)


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
    server = create_server(
        app,
        listen=" ".join(listen),
        threads=args.threads,
        ident="labapp",
        clear_untrusted_proxy_headers=True,
        connection_limit=CONNECTION_LIMIT,
    )
    server.print_listen("Serving on http://{}:{}")
    server.run()


if __name__ == "__main__":
    main()
