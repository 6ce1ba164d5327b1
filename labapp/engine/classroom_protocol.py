"""A classroom cluster: what the instructor's broker publishes and what a joining worker checks.

The instructor's cluster writes one key, ``labapp:class``, with its versions and the settings
every worker of the class must share. A worker that joins reads it first: it refuses a class
that runs other code, and takes the class's settings (visibility timeout, delivery...).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import socket
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import redis

from labapp import __version__
from labapp.i18n import _

CLASS_KEY = "labapp:class"
PROGRESS_KEY = "labapp:progress"  # students' check results, appended (labapp.progress); they end with the class
WORKER_USER = "worker"  # the broker's ACL user for joined workers (see broker.WORKER_GRANTS)
PASSWORD_ENV = "LABAPP_BROKER_PASSWORD"
MIN_PASSWORD = 16
# the settings a joined worker takes from the class, so that every worker behaves alike
SHARED_SETTINGS = (
    "visibility_timeout",
    "longtask_max_x",
    "factorial_max_n",
    "bench_max_ms",
    "result_expires",
    "delivery",
    "task_events",
    "task_soft_time_limit",
    "task_time_limit",
)
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,30}$")
CONNECT_TIMEOUT = 3.0


class JoinError(RuntimeError):
    """This machine cannot join the class; the message says why and what to do."""


class BrokerUnreachable(JoinError):
    """No broker answers at the class's address (for now: a joined machine keeps trying)."""


class NoClass(JoinError):
    """The broker answers but runs no class: the instructor ended it."""


def tasks_version() -> str:
    """A short fingerprint of the lab's task code: workers of one class must run the same."""
    source = (Path(__file__).parent.parent / "tasks.py").read_bytes()
    return hashlib.sha256(source).hexdigest()[:12]


def generate_password() -> str:
    """A strong random broker password (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def password_problem(password: str) -> str | None:
    """Why a password is too weak for a broker on a network (None if it is strong enough)."""
    if len(password) < MIN_PASSWORD:
        return _("it has {count} characters; a public broker needs at least {minimum}").format(
            count=len(password), minimum=MIN_PASSWORD
        )
    if len(set(password)) < 8:
        return _("it repeats too few different characters")
    if not re.fullmatch(r"[A-Za-z0-9._~-]+", password):
        return _("use only letters, digits and . _ ~ - (it goes into a redis:// URL)")
    return None


def node_host() -> str:
    """This machine's name as Celery node names carry it."""
    return socket.gethostname()


def classroom_info(name: str, api_url: str, settings) -> dict:
    """What the instructor's cluster publishes about itself."""
    return {
        "name": name,
        "labapp": __version__,
        "tasks": tasks_version(),
        "api_url": api_url,
        "host": node_host(),
        "started": time.time(),
        "settings": {key: getattr(settings, key) for key in SHARED_SETTINGS},
    }


def publish(client, info: dict) -> None:
    """Write the class's info key (the instructor's cluster does it at start)."""
    client.set(CLASS_KEY, json.dumps(info))


def withdraw(client) -> None:
    """Remove the class's info key and its students' progress: the class has ended."""
    client.delete(CLASS_KEY, PROGRESS_KEY)


def read(client) -> dict | None:
    """The class's info, or None if this broker runs no class."""
    raw = client.get(CLASS_KEY)
    return json.loads(raw) if raw else None


def version_problem(info: dict) -> str | None:
    """Which versions differ between this machine and the class (None if none)."""
    differ = []
    if info.get("labapp") != __version__:
        differ.append(_("labapp {here} here, {there} in the class").format(here=__version__, there=info.get("labapp")))
    if info.get("tasks") != tasks_version():
        differ.append(
            _("task code {here} here, {there} in the class").format(here=tasks_version(), there=info.get("tasks"))
        )
    if not differ:
        return None
    return _(
        "this machine runs other code than the class: {differences}. Install the instructor's version of the "
        "lab (git pull, then make install) and join again"
    ).format(differences="; ".join(differ))


def join_url(user: str, password: str, host: str, port: int) -> str:
    """A broker URL for a worker: redis://user:password@host:port/0."""
    return f"redis://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/0"


def mask(url: str) -> str:
    """The URL with its password replaced by ***, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return f"{parts.scheme}://{user}:***@{host}{parts.path}"


def resolve_source(source: str, environ=None) -> str:
    """The broker URL a student gave: a join file, or a redis:// URL (password from the environment)."""
    environ = os.environ if environ is None else environ
    if source.startswith(("redis://", "rediss://")):
        url = source
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise JoinError(
                _(
                    "{source} is neither a redis:// URL nor a join file that exists here "
                    "(the instructor gives you the file that `labapp serve --public` wrote)"
                ).format(source=repr(source))
            )
        lines = [
            line.strip() for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")
        ]
        if not lines or not lines[0].startswith(("redis://", "rediss://")):
            raise JoinError(
                _("{source} holds no redis:// URL on its first line: is it the join file?").format(source=source)
            )
        url = lines[0]
    parts = urlsplit(url)
    if parts.password is None and environ.get(PASSWORD_ENV):
        user = parts.username or WORKER_USER
        url = join_url(unquote(user), environ[PASSWORD_ENV], parts.hostname, parts.port or 6379)
    if urlsplit(url).password is None:
        raise JoinError(
            _(
                "{url} has no password: put it in {variable} (never on the command line, "
                "where `ps` shows it to everyone), or use the join file"
            ).format(url=url, variable=PASSWORD_ENV)
        )
    return url


def where(url: str) -> str:
    """host:port of a broker URL."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"


def connect(url: str, timeout: float = CONNECT_TIMEOUT):
    """A redis-py client that fails fast (a join must answer within seconds, not minutes)."""
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=timeout)


def check_classroom(url: str, timeout: float = CONNECT_TIMEOUT) -> dict:
    """Reach the broker, log in, read the class; raise JoinError saying which of these failed."""
    client = connect(url, timeout)
    try:
        try:
            client.ping()
            # in the same guard: a broker that stops or refuses between the two answers is
            # one of the cases below, not a traceback that ends `labapp join` and its workers
            info = read(client)
        except redis.AuthenticationError:
            raise JoinError(
                _(
                    "the broker at {where} refused the password (user {user}): ask the instructor for the "
                    "current join file"
                ).format(where=where(url), user=urlsplit(url).username or "default")
            ) from None
        except redis.ResponseError as exc:
            if "WRONGPASS" in str(exc) or "NOAUTH" in str(exc):
                raise JoinError(
                    _(
                        "the broker at {where} refused the password: ask the instructor for the current join file"
                    ).format(where=where(url))
                ) from None
            raise JoinError(_("the broker at {where} answered: {error}").format(where=where(url), error=exc)) from None
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise BrokerUnreachable(
                _(
                    "no broker answers at {where} ({reason}): is the "
                    "instructor's `labapp serve --public` running, are you on the class's "
                    "network, and is its port open in the firewall?"
                ).format(where=where(url), reason=_reason(exc))
            ) from None
    finally:
        client.close()
    if info is None:
        raise NoClass(
            _(
                "the broker at {where} runs no labapp class (the instructor starts one with `labapp serve --public`)"
            ).format(where=where(url))
        )
    problem = version_problem(info)
    if problem:
        raise JoinError(problem)
    return info


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return _("connection refused")
    if "timed out" in text.lower() or isinstance(exc, redis.TimeoutError):
        return _("no answer: timed out")
    return text.split(". ")[0]
