"""Worker heartbeats in Redis: each worker says every second who it is and what it runs.

A monitor reads them instantly, where a control broadcast waits its whole
timeout for replies. A worker that dies stops beating and its key expires.
Each beat also names the worker in one small hash (REGISTRY), so that a reader
fetches the few heartbeat keys named there instead of scanning the keyspace,
which holds every result of the cluster's history (100,000 results made a scan
take 28-40 ms per /health).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import redis

from labapp.engine import processes

PREFIX = "labapp:worker:"
BEATS_FOLDER = "beats"  # in a cluster's folder: one file per worker of the cluster, touched at every beat
INTERVAL = 1.0
TTL = 3  # seconds: a worker missing for this long is gone
REGISTRY = "labapp:workers"  # hash: node name -> time of its last beat; readers drop names whose key expired
_WRITES = threading.Lock()  # the beating thread's writes and forget() never interleave


def natural_key(name: str):
    """Sort w2@host before w10@host."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def beat(client, node: str, info: dict) -> None:
    """Publish one heartbeat of node with its current info, and name node in the registry."""
    now = time.time()
    pipe = client.pipeline(transaction=False)  # one round trip; the key first, so a named worker has its beat
    pipe.set(PREFIX + node, json.dumps({"name": node, "updated": now, **info}), ex=TTL)
    pipe.hset(REGISTRY, node, now)
    pipe.execute()


def forget(client, node: str) -> None:
    """Remove node's heartbeat and its name in the registry (clean shutdown: set the beating's stop event first)."""
    with _WRITES:
        pipe = client.pipeline(transaction=False)
        pipe.delete(PREFIX + node)
        pipe.hdel(REGISTRY, node)
        pipe.execute()


def is_alive(client, node: str) -> bool:
    """True while node's heartbeat has not expired."""
    return bool(client.exists(PREFIX + node))


def runs_process(client, node: str, pid: int | None) -> bool:
    """True while node's heartbeat is fresh and, if pid is given, pid is one of its processes.

    A worker started again under the same name (w2 killed, then scaled back up) has other
    pids: a task that the dead w2's process was running is not alive on the new one.
    """
    raw = client.get(PREFIX + node)
    if not raw:
        return False
    if pid is None:
        return True
    info = json.loads(raw)
    return pid == info.get("pid") or pid in info.get("pool_pids", [])


def mark_beat_file(cluster_dir: str | None, node: str) -> None:
    """Touch node's beat file in its cluster's folder: when its key has expired, the file still says
    when it last beat (best effort; a worker outside a cluster's folder has none)."""
    if not cluster_dir:
        return
    try:
        folder = Path(cluster_dir) / BEATS_FOLDER
        folder.mkdir(mode=0o700, exist_ok=True)
        (folder / node).touch()
    except OSError:
        pass


def beat_age(client, node: str, cluster_dir=None) -> float | None:
    """Seconds since node's last heartbeat: from the beat's own `updated` while it is in the broker,
    else from its beat file in cluster_dir; None if it never beat (or the broker cannot say)."""
    try:
        raw = client.get(PREFIX + node) if client is not None else None
    except Exception:
        raw = None
    if raw:
        return max(0.0, time.time() - json.loads(raw).get("updated", time.time()))
    if cluster_dir is None:
        return None
    try:
        return max(0.0, time.time() - (Path(cluster_dir) / BEATS_FOLDER / node).stat().st_mtime)
    except OSError:
        return None


def is_stale(age: float | None) -> bool:
    """True for a beat older than its time to live (a worker that is stopped, or too busy to beat)."""
    return age is None or age > TTL


def live_workers(client) -> list[dict]:
    """Every worker whose heartbeat has not expired, sorted by name: two commands, whatever the history."""
    names = [name.decode() if isinstance(name, bytes) else name for name in client.hkeys(REGISTRY)]  # any client
    beats = client.mget([PREFIX + name for name in names]) if names else []
    found = [json.loads(raw) for raw in beats if raw]
    gone = [name for name, raw in zip(names, beats) if not raw]
    if gone:
        _drop_gone(client, gone)
    return sorted(found, key=lambda worker: natural_key(worker["name"]))


def _drop_gone(client, names: list[str]) -> None:
    """Remove from the registry the names whose heartbeat expired, unless one beats meanwhile."""
    keys = [PREFIX + name for name in names]
    try:
        with client.pipeline() as pipe:
            pipe.watch(*keys)  # a worker that beats between our read and the HDEL aborts it and keeps its name
            still_gone = [name for name, raw in zip(names, pipe.mget(keys)) if not raw]
            if still_gone:
                pipe.multi()
                pipe.hdel(REGISTRY, *still_gone)
                pipe.execute()
    except redis.WatchError:  # one beat again meanwhile: the next reader drops the others
        pass


def start_beating(client, node: str, collect) -> threading.Event:
    """Beat every INTERVAL from a daemon thread with collect()'s info; set the event to stop."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                info = collect()
                with _WRITES:  # checked under the lock: no beat lands after the goodbye of forget()
                    if not stop.is_set():
                        beat(client, node, info)
            except Exception:  # broker away for a moment: try again next beat
                pass
            stop.wait(INTERVAL)

    threading.Thread(target=run, name="labapp-heartbeat", daemon=True).start()
    return stop


def own_pid_info(active: list[dict], processed: int, started: float, pool_pids: list[int]) -> dict:
    """The info a worker publishes about itself."""
    return {"pid": os.getpid(), "pool_pids": pool_pids, "active": active, "processed": processed, "started": started}


def wait_for_first_beats(client, children: dict, timeout: float, died, late) -> None:
    """Wait until every worker of children ({node name: Child}) has beaten once.

    A worker beats first from Celery's worker_ready signal, once it consumes tasks (~0.5 s after spawn); a
    control ping is answered only ~1 s after spawn, and one sent too early delays the next (measured).
    died(child) and late(child) give the exception to raise for a worker that exited, or is not ready in time.
    """
    waiting = dict(children)

    def all_beating() -> bool:
        for child in waiting.values():
            if not child.alive:
                raise died(child)
        for node in [node for node in waiting if is_alive(client, node)]:
            del waiting[node]
        return not waiting

    try:
        processes.wait_until(all_beating, timeout, interval=0.02)
    except processes.WaitTimeout:
        raise late(next(iter(waiting.values()))) from None
