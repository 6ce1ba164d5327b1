"""``labapp env`` and ``labapp flower``: a running cluster's broker for your own app and tools."""

from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import urlsplit

from labapp.cli.clusters import _chosen
from labapp.cli.common import command, fail

APP_DATABASE = 1  # a foreign app's database: the lab keeps database 0 and its `celery` queue there

ENV_DESCRIPTION = (
    "Print the variables that point a plain Flask + Celery app at a running cluster's broker "
    "(this folder's first): CELERY_BROKER_URL and CELERY_RESULT_BACKEND, both in database "
    f"{APP_DATABASE}, so the app's tasks never meet the lab's workers (they use database 0), "
    'and REDISCLI_AUTH for redis-cli. Use it as eval "$(labapp env)" (sh, bash, zsh), '
    "labapp env --shell fish | source, or labapp env --shell powershell | Invoke-Expression."
)

SETTERS = {  # how each shell sets an exported variable, its value already quoted
    "sh": "export {name}={value}",
    "fish": "set -gx {name} {value}",
    "powershell": "$env:{name} = {value}",
}


def _quoted(value: str, shell: str) -> str:
    """value as a literal of the shell (all three keep single-quoted text as it is, but for quotes)."""
    if shell == "sh":
        return shlex.quote(value)
    if shell == "fish":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "''") + "'"


def with_database(url: str, database: int) -> str:
    """The same redis:// URL on another database number."""
    parts = urlsplit(url)
    return parts._replace(path=f"/{database}").geturl()


def cluster_url(name: str | None) -> str | None:
    """The whole broker URL of the cluster a command means (this folder's first); None after saying why not."""
    from labapp.cluster import SECRET_URL_FILE

    chosen = _chosen(name)
    if chosen is None:
        return None
    secret = Path(chosen[1]["dir"]) / SECRET_URL_FILE
    try:
        return secret.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        fail(f"{secret} is missing: the cluster uses an external broker, whose URL you gave it")
        return None


def env_lines(url: str, shell: str) -> list[str]:
    """The lines that export a foreign app's broker and result URLs (database 1) and redis-cli's password."""
    app_url = with_database(url, APP_DATABASE)
    parts = urlsplit(url)
    values = {
        "CELERY_BROKER_URL": app_url,
        "CELERY_RESULT_BACKEND": app_url,
        "REDISCLI_AUTH": parts.password or "",
    }
    lines = [SETTERS[shell].format(name=name, value=_quoted(value, shell)) for name, value in values.items()]
    host = "" if parts.hostname in ("127.0.0.1", "localhost") else f"-h {parts.hostname} "
    lines.append(
        f"# your app's queue: redis-cli {host}-p {parts.port} -n {APP_DATABASE} LLEN celery "
        f"(the lab's own: -n {parts.path.lstrip('/') or 0})"
    )
    return lines


def cmd_env(args) -> int:
    """Print the exports that point a plain Celery app (and redis-cli) at a running cluster's broker."""
    url = cluster_url(args.name)
    if url is None:
        return 1
    print("\n".join(env_lines(url, args.shell)))
    return 0


def register(sub) -> None:
    """Add this group's commands to the ``labapp`` parser."""
    env = command(sub, "env", cmd_env, "print CELERY_BROKER_URL and friends for your own Celery app", ENV_DESCRIPTION)
    env.add_argument("--name", help="the cluster (default: this folder's, as `labapp url`)")
    env.add_argument("--shell", choices=sorted(SETTERS), default="sh", help="the shell that reads it (default sh)")
