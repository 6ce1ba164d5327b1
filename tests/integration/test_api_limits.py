"""The API's costs that must not grow with what others did (issue 23, items 12 and 13).

- /health and /workers send the broker the same commands whatever the cluster's history (they used to
  SCAN every key: 100,000 results made them 30x slower);
- many idle or slowloris connections cannot keep a fresh client from an answer (waitress stopped
  accepting at 100 open connections, and /health waited 2 minutes).

The figures (milliseconds) are measured in benchmarks/api_scaling.py; these tests check the structure.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import uuid
from collections import Counter
from contextlib import ExitStack
from urllib.parse import urlsplit

import psutil
import redis

from labapp.engine import heartbeat
from tests.support.waiting import wait_for

HISTORY = 30_000  # results: 30 SCAN round trips per read before the fix, 0 after
END = "labapp-test-end-of-probe"
OTHER_CLIENT = "127.0.0.2"  # a second peer address on loopback (Linux routes 127/8 to lo)


def add_history(store: redis.Redis, results: int) -> None:
    """Store results as a busy day of the class would leave them: finished tasks' result keys."""
    pipe = store.pipeline(transaction=False)
    for _ in range(results):
        pipe.set(f"celery-task-meta-{uuid.uuid4()}", '{"status": "SUCCESS", "result": 1}', ex=3600)
    pipe.execute()


def api_ports(cluster) -> set[int]:
    """The local ports of the API process's connections to the broker."""
    broker_port = urlsplit(cluster.broker_url).port
    connections = psutil.Process(cluster.api.proc.pid).net_connections(kind="tcp")
    return {c.laddr.port for c in connections if c.raddr and c.raddr.port == broker_port}


def commands_the_api_sends(cluster, paths: list[str]) -> Counter:
    """The broker commands (names, database 0) that the API sends while answering GET on each of paths."""
    for path in paths:  # warm up: the API's connections to the broker exist before we note them
        cluster.client.request("GET", path)
    seen: list[dict] = []
    ready = threading.Event()

    def listen():
        with cluster.redis.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if command["command"] == f"ECHO {END}":
                    return
                seen.append(command)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(10)
    cluster.redis.ping()  # MONITOR is on once a later command of ours comes back
    for path in paths:
        cluster.client.request("GET", path)
    ports = api_ports(cluster)
    cluster.redis.echo(END)
    listener.join(30)
    assert not listener.is_alive(), "MONITOR never saw the end of the probe"
    # a command run inside a Lua script (a worker's or Celery's) has client "lua" and no port
    ours = [c for c in seen if str(c["client_port"]).isdigit() and int(c["client_port"]) in ports and int(c["db"]) == 0]
    return Counter(c["command"].split()[0].upper() for c in ours)


def test_health_and_workers_cost_the_same_commands_whatever_the_history(make_cluster):
    cluster = make_cluster(workers=1).start()
    paths = ["/health", "/workers"] * 3
    fresh = commands_the_api_sends(cluster, paths)
    add_history(cluster.redis, HISTORY)
    with_history = commands_the_api_sends(cluster, paths)
    print(f"\nper 3 x (/health + /workers): fresh {dict(fresh)}, after {HISTORY:,} results {dict(with_history)}")
    # equal, but for one clean-up of the registry (WATCH, MGET, MULTI, HDEL, EXEC) if a beat came late under load
    assert sum(with_history.values()) <= sum(fresh.values()) + 5, (
        f"expected the commands sent without history ({dict(fresh)}), found {dict(with_history)}"
    )
    assert not {"SCAN", "KEYS"} & set(with_history), with_history
    assert [w["name"] for w in cluster.client.workers()] == [cluster.node_name("w1")]


def test_the_worker_registry_forgets_a_stopped_worker_and_a_killed_one(make_cluster):
    cluster = make_cluster(workers=2).start()
    assert sorted(cluster.redis.hkeys(heartbeat.REGISTRY)) == sorted(cluster.node_name(n) for n in ("w1", "w2"))
    cluster.scale(1)  # a clean exit removes its own name
    assert cluster.redis.hkeys(heartbeat.REGISTRY) == [cluster.node_name("w1")]
    cluster.kill_worker()  # SIGKILL: its beat expires, and the next reader drops its name
    wait_for(lambda: not heartbeat.live_workers(cluster.redis), heartbeat.TTL + 20, what="the killed beat to expire")
    assert cluster.redis.exists(heartbeat.REGISTRY) == 0
    assert cluster.client.health()["workers"] == 0


# ------------------------------------------------------------------ item 13: connections
def get_health(conn: http.client.HTTPConnection) -> dict:
    """GET /health on an open connection; its JSON answer."""
    conn.request("GET", "/health")
    answer = conn.getresponse()
    body = answer.read()
    assert answer.status == 200, body
    return json.loads(body)


def test_a_fresh_client_is_answered_while_hundreds_of_idle_connections_are_held(make_cluster):
    cluster = make_cluster(workers=0).start()
    api = urlsplit(cluster.api_url)
    with ExitStack() as held:
        # a classmate's notebook, connected before the flood, from another address
        classmate = http.client.HTTPConnection(api.hostname, api.port, timeout=60, source_address=(OTHER_CLIENT, 0))
        held.callback(classmate.close)
        get_health(classmate)
        for number in range(250):  # idle connections, then slowloris ones (a request never finished)
            idle = socket.create_connection((api.hostname, api.port), timeout=10)
            held.callback(idle.close)
            if number % 2:
                idle.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        fresh = http.client.HTTPConnection(api.hostname, api.port, timeout=30)  # waitress closes idle ones at 120 s
        held.callback(fresh.close)
        assert get_health(fresh)["broker"] == "ok"  # before: a timeout, the connection never accepted
        assert get_health(classmate)["broker"] == "ok"  # the flooding address paid, not the classmate
