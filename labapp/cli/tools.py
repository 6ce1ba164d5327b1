"""``labapp env`` and ``labapp flower``: a running cluster's broker for your own app and tools."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from labapp.cli.clusters import _chosen
from labapp.cli.common import command, fail, port_number, shown, stop_on_sigterm
from labapp.engine.other_apps import APP_DATABASE, with_database
from labapp.i18n import _

SETTERS = {  # how each shell sets an exported variable, its value already quoted
    "sh": "export {name}={value}",
    "bash": "export {name}={value}",
    "zsh": "export {name}={value}",
    "fish": "set -gx {name} {value}",
    "powershell": "$env:{name} = {value}",
}


REDIS_CLI_FUNCTIONS = {  # redis-cli, run as the real program with the broker's host, port and database first
    # (POSIX sh, dash among them, refuses a function name with a hyphen: plain sh gets the comment line only)
    "bash": 'redis-cli() {{ command redis-cli {options} "$@"; }}',
    "zsh": 'redis-cli() {{ command redis-cli {options} "$@"; }}',
    "fish": "function redis-cli; command redis-cli {options} $argv; end",
    "powershell": "function redis-cli {{ & (Get-Command redis-cli -CommandType Application) {options} @args }}",
}


def default_shell(environ=None) -> str:
    """The user's shell by $SHELL's name when `labapp env` knows it (bash, zsh, fish), else sh."""
    name = os.path.basename((os.environ if environ is None else environ).get("SHELL", ""))
    return name if name in SETTERS else "sh"


def _quoted(value: str, shell: str) -> str:
    """value as a literal of the shell (all three keep single-quoted text as it is, but for quotes)."""
    if shell in ("sh", "bash", "zsh"):
        return shlex.quote(value)
    if shell == "fish":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "''") + "'"


def cluster_url(name: str | None) -> tuple[str, Path] | tuple[None, None]:
    """The whole broker URL and the folder of the cluster a command means (this folder's first);
    (None, None) after saying why not."""
    from labapp.cluster import SECRET_URL_FILE

    chosen = _chosen(name)
    if chosen is None:
        return None, None
    folder = Path(chosen[1]["dir"])
    try:
        return (folder / SECRET_URL_FILE).read_text().splitlines()[0].strip(), folder
    except (OSError, IndexError):
        fail(
            _("{file} is missing: the cluster uses an external broker, whose URL you gave it").format(
                file=folder / SECRET_URL_FILE
            )
        )
        return None, None


def env_lines(url: str, shell: str) -> list[str]:
    """The lines that export a foreign app's broker and result URLs (database 1) and redis-cli's password."""
    app_url = with_database(url, APP_DATABASE)
    parts = urlsplit(url)
    values = {
        "CELERY_BROKER_URL": app_url,
        "CELERY_RESULT_BACKEND": app_url,
        "REDISCLI_AUTH": unquote(parts.password or ""),
    }
    lines = [SETTERS[shell].format(name=name, value=_quoted(value, shell)) for name, value in values.items()]
    host = "" if parts.hostname in ("127.0.0.1", "localhost") else f"-h {parts.hostname} "
    options = f"{host}-p {parts.port} -n {APP_DATABASE}"
    lines.append(
        _("# your app's queue: redis-cli {options} LLEN celery (the lab's own: -n {database})").format(
            options=options, database=parts.path.lstrip("/") or 0
        )
    )
    # redis-cli reads its password from REDISCLI_AUTH but has no variable for a port or a database: a shell
    # function gives it both, so that `redis-cli LLEN celery` works after the eval (a later -n still wins)
    if shell in REDIS_CLI_FUNCTIONS:
        lines.append(REDIS_CLI_FUNCTIONS[shell].format(options=options))
    return lines


def cmd_env(args) -> int:
    """Print the exports that point a plain Celery app (and redis-cli) at a running cluster's broker."""
    url, _folder = cluster_url(args.name)
    if url is None:
        return 1
    print("\n".join(env_lines(url, args.shell)))
    return 0


def _start_flower(url: str, folder: Path, port: int):
    """Flower's process for the broker at url, on 127.0.0.1:port, logging into the cluster's folder."""
    from labapp.cluster import Cluster
    from labapp.engine import flower_monitor, processes

    env = {name: value for name, value in os.environ.items() if name != processes.CLUSTER_ENV}
    # the URL through the environment, never the command line that `ps` shows everyone
    env.update(flower_monitor.FLOWER_ENV, CELERY_BROKER_URL=url)
    command = flower_monitor.command(Cluster.WORKER_APP, port)
    return processes.spawn(command, folder / "flower.log", env=env, cwd=str(folder))


def cmd_flower(args) -> int:
    """Run Flower for a running cluster in the foreground until Ctrl-C."""
    from labapp.engine import flower_monitor, logfiles, processes
    from labapp.engine.broker import free_port

    url, folder = cluster_url(args.name)
    if url is None:
        return 1
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    port = args.port or free_port()
    flower_url = f"http://127.0.0.1:{port}"
    log = folder / "flower.log"
    proc = _start_flower(url, folder, port)
    try:
        try:
            processes.wait_until(
                lambda: proc.poll() is not None or flower_monitor.answers(flower_url), 60, interval=0.2, what="Flower"
            )
        except processes.WaitTimeout:
            return fail(
                _("expected Flower to answer at {url} within 60 s; it did not (log: {log})").format(
                    url=flower_url, log=shown(log)
                )
            )
        if proc.poll() is not None:
            return fail(
                _("Flower stopped at start ({how}):").format(how=logfiles.describe_exit(proc.returncode))
                + "\n"
                + logfiles.read_tail(log)
            )
        print(_("Flower:   {url}").format(url=flower_url), flush=True)
        print(
            _("API:      {url}/api/workers  (no login: FLOWER_UNAUTHENTICATED_API=true, safe here because").format(
                url=flower_url
            )
        )
        print(_("          Flower listens on 127.0.0.1 only, where only this machine's users reach it)"))
        print(_("log:      {log}").format(log=shown(log)))
        print(_("Press Ctrl-C to stop Flower (the cluster keeps running)."), flush=True)
        while proc.poll() is None:
            time.sleep(0.5)
        return fail(
            _("Flower stopped ({how}); see {log}").format(how=logfiles.describe_exit(proc.returncode), log=shown(log))
        )
    except KeyboardInterrupt:
        print("\n" + _("stopping Flower..."), file=sys.stderr, flush=True)
        return 0
    finally:
        processes.stop_child(proc)


def register(sub) -> None:
    """Add this group's commands to the ``labapp`` parser."""
    env = command(
        sub,
        "env",
        cmd_env,
        _("print CELERY_BROKER_URL and friends for your own Celery app"),
        _(
            "Print the variables that point a plain Flask + Celery app at a running cluster's broker "
            "(this folder's first): CELERY_BROKER_URL and CELERY_RESULT_BACKEND, both in database "
            "{database}, so the app's tasks never meet the lab's workers (they use database 0), "
            'and REDISCLI_AUTH for redis-cli. Use it as eval "$(labapp env)" (sh, bash, zsh), '
            "labapp env --shell fish | source, or labapp env --shell powershell | Invoke-Expression."
        ).format(database=APP_DATABASE),
    )
    env.add_argument("--name", help=_("the cluster (default: this folder's, as `labapp url`)"))
    env.add_argument(
        "--shell",
        choices=sorted(SETTERS),
        default=default_shell(),
        help=_("the shell that reads it (default: yours, from $SHELL; else sh)"),
    )

    flower = command(
        sub,
        "flower",
        cmd_flower,
        _("run Flower, the Celery monitor, for a cluster"),
        _(
            "Start Flower, the standard Celery monitor, on 127.0.0.1 for a running cluster (this folder's "
            "first), with its HTTP API open to this machine (/api/workers, /api/tasks: no login, as it "
            "listens on loopback only); print its URL; Ctrl-C stops Flower, the cluster keeps running."
        ),
    )
    flower.add_argument("--name", help=_("the cluster (default: this folder's, as `labapp url`)"))
    flower.add_argument("--port", type=port_number, help=_("Flower's port (default: a free port)"))
