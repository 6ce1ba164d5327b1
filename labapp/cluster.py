"""The embedded cluster: a broker, the API and Celery workers as child processes."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import sys
import threading
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path

import redis

from labapp.api.client import ApiError, LabClient
from labapp.engine import (
    classroom_protocol,
    flower_monitor,
    heartbeat,
    logfiles,
    processes,
    registry,
    runtime_folder,
    student_code,
    task_cancel,
)
from labapp.engine.broker import BrokerError, BrokerServer, free_port, port_is_open
from labapp.engine.celery_config import QUEUE, make_celery, worker_command
from labapp.engine.classroom_protocol import password_problem
from labapp.engine.logfiles import read_tail, shown_path
from labapp.engine.processes import CLUSTER_ENV, Child
from labapp.i18n import _, ngettext
from labapp.settings import Settings

START_TIMEOUT = 30.0
UNACKED = "unacked"  # kombu's hash of tasks taken by a worker and not yet acknowledged
LOOPBACK = ("127.0.0.1", "localhost")
SECRET_URL_FILE = "broker.url"  # the full broker URL, for the user's own tools (`labapp url --secret`)
JOIN_FILE = "class.join"  # a classroom's URL for students' workers (`labapp join`)
_RUNNING: "weakref.WeakValueDictionary[Path, Cluster]" = weakref.WeakValueDictionary()
_LOCK = threading.RLock()


def _exited(child: Child) -> str:
    """A child that ended at start, as a sentence for Cluster._failure (which names the component)."""
    return _("{{component}} exited with code {code} at start").format(code=child.proc.returncode)


def cannot_write(path) -> str:
    """A file or folder the cluster needs and may not write, as one sentence."""
    return _("cannot write {path}: check its owner and permissions").format(path=path)


def no_heartbeat(age: float | None) -> str:
    """A worker whose process exists and sends no heartbeat, as its status says it."""
    if age is None:
        return _("process exists, no heartbeat yet")
    return _("process exists, no heartbeat for {seconds:.0f} s").format(seconds=age)


def _no_answer(timeout: float) -> str:
    """A child that never answered, as a sentence for Cluster._failure."""
    return _("{{component}} did not answer within {seconds:.0f} s").format(seconds=timeout)


class ClusterError(RuntimeError):
    """A component of the cluster failed; the message names it and its log file."""

    def _render_traceback_(self) -> list[str]:
        """What a notebook shows: the message, not a traceback into the lab's code."""
        return [f"ClusterError: {self}"]


class ProcessTable(list):
    """Rows of ``Cluster.status()``, shown as a table in a terminal or a notebook."""

    COLUMNS = ("component", "pid", "alive", "address", "log")

    def __init__(self, rows=()):
        super().__init__(rows)
        self.notes: list[str] = []  # what to do about a dead component, shown under the table

    def __str__(self) -> str:
        rows = [self.headers()] + [tuple(self.cell(row, col) for col in self.COLUMNS) for row in self]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.COLUMNS))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join(lines + self.notes)

    __repr__ = __str__

    @staticmethod
    def cell(row: dict, column: str) -> str:
        """A row's value as the table shows it: yes/no and "external" in the reader's language, a log relative
        to the current folder."""
        value = row.get(column, "")
        if value is True or value is False:
            return _("yes") if value else _("no")
        if column == "alive" and value == "external":
            return _("external (not started here)")
        if column == "log" and isinstance(value, Path):
            return shown_path(value)
        return str(value)

    @staticmethod
    def headers() -> tuple[str, ...]:
        """The column headers in the reader's language (the rows keep COLUMNS' English keys)."""
        return (_("component"), _("pid"), _("alive"), _("address"), _("log"))

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{col}</th>" for col in self.headers())
        body = "".join(
            "<tr>" + "".join(f"<td>{self.cell(row, col)}</td>" for col in self.COLUMNS) + "</tr>" for row in self
        )
        notes = "".join(f"<p>{note}</p>" for note in self.notes)
        return f"<table><tr>{head}</tr>{body}</table>{notes}"


class LogLines(str):
    """The last lines of a log: a str that a notebook shows as its lines, not as one quoted line of \\n."""

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


@dataclass(frozen=True)
class Stopped:
    """What ``Cluster.stop()`` stopped; shown as one sentence (a notebook's Out[] of the stop cell)."""

    name: str
    workers: int = 0
    extras: tuple[str, ...] = ()  # optional components, e.g. ("flower",)
    api: bool = False
    broker: str = ""  # "embedded" (stopped here), "external" (left running) or "" (none)

    def __str__(self) -> str:
        count = ngettext("{n} worker", "{n} workers", self.workers).format(n=self.workers)
        parts = [count] if self.workers else []
        parts += [EXTRA_NAMES.get(extra, extra) for extra in self.extras]
        parts += [_("the API")] if self.api else []
        parts += [_("the broker")] if self.broker == "embedded" else []
        if not parts:
            return _("cluster {name} was not running: nothing to stop").format(name=repr(self.name))
        listed = (
            parts[0] if len(parts) == 1 else _("{items} and {last}").format(items=", ".join(parts[:-1]), last=parts[-1])
        )
        if self.broker == "external":
            return _("stopped cluster {name}: {listed} (the broker is external: it keeps running)").format(
                name=repr(self.name), listed=listed
            )
        return _("stopped cluster {name}: {listed}").format(name=repr(self.name), listed=listed)

    __repr__ = __str__

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


EXTRA_NAMES = {"flower": "Flower"}


class Cluster:
    """A broker, the Flask API and N Celery workers, supervised from this process.

    ``Cluster(workers=2).start()`` is idempotent: in a process that already
    runs a cluster in the same runtime folder it returns that cluster, scaled
    to the requested workers.

    Every task has a soft and a hard time limit (``settings.soft_time_limit``, ``hard_time_limit``),
    derived between ``longtask_max_x`` and ``visibility_timeout``; a lesson with longer tasks raises
    them: ``Cluster(task_soft_time_limit=100, task_time_limit=110, visibility_timeout=120)``.
    ``cancel(task)`` terminates any task on the workers. A cluster started again in the same folder
    loads the task modules it had (``add_tasks``) before its workers take a task.
    """

    WORKER_APP = "labapp.worker"  # the module workers load with `celery -A`

    def __init__(
        self,
        workers: int = 2,
        *,
        name: str = "default",
        api_port: int | None = None,
        broker_url: str | None = None,
        runtime_dir: str | None = None,
        settings: Settings | None = None,
        classroom: bool = False,
        bind: str = "127.0.0.1",
        broker_port: int | None = None,
        worker_password: str | None = None,
        worker_autoscale: tuple[int, int] | None = None,
        **overrides,
    ):
        base = settings or Settings.from_env()
        # a cluster reachable from other machines is a classroom: its address is an allowed Host
        if bind in ("0.0.0.0", "::", ""):
            raise ValueError(
                _(
                    "bind={bind} would expose the lab on every network this machine is "
                    "on: give the one address students reach, e.g. bind='192.168.1.20'"
                ).format(bind=repr(bind))
            )
        self.public = bind not in LOOPBACK
        self.classroom = classroom or self.public
        self.bind = bind
        if self.public:
            named = ",".join(h for h in (overrides.get("allowed_hosts") or base.allowed_hosts, bind) if h)
            overrides["allowed_hosts"] = named
        changes = {
            k: v for k, v in dict(broker_url=broker_url, runtime_dir=runtime_dir, **overrides).items() if v is not None
        }
        self.settings = base.with_(**changes) if changes else base
        self.settings.validate()
        self._check_worker_count(workers)
        self.worker_autoscale = self._checked_autoscale(worker_autoscale)  # Celery's --autoscale=max,min
        if api_port is not None and (
            isinstance(api_port, bool) or not isinstance(api_port, int) or not 1 <= api_port <= 65535
        ):
            raise ValueError(_("api_port must be a TCP port from 1 to 65535, got {value}").format(value=repr(api_port)))
        self.requested_workers = workers
        self.name = name
        self.dir = self.settings.runtime_path / name
        self.api_port = api_port
        self.broker_port = broker_port
        # the classroom's `worker` user: the password in students' join files (generated if None);
        # the lab's own password is always generated
        weak = None if worker_password is None else password_problem(worker_password)
        if weak:  # (the parameter `classroom` hides the module of that name here)
            raise ValueError(_("worker_password is too weak: {problem}").format(problem=weak))
        self.worker_password = worker_password
        self.join_file: Path | None = None  # written at start by a classroom cluster
        self.broker: BrokerServer | None = None
        self.broker_url = self.settings.broker_url or ""
        self.api: Child | None = None
        self.workers: dict[str, Child] = {}
        self._leaving: dict[str, Child] = {}  # let go by scale(wait=False): finishing their task, then gone
        self.extras: dict[str, Child] = {}  # optional components, e.g. "flower"
        self.student_tasks: dict[str, Path] = {}  # module name -> the copy workers import
        self.student_routes: dict[str, Path] = {}  # module name -> the copy the API imports
        self._sources: dict[str, str] = {}  # module name -> the path the student gave
        self._task_names: dict[str, list[str]] = {}  # module name -> the tasks it defines
        self.celery = None
        self.redis = None
        self.client: LabClient | None = None
        self._registry_file = registry.entry_path(self.settings.registry_path, self.dir)
        self._started = False
        self._registered = False  # our entry is in the registry (only we may remove it)
        self._claim = runtime_folder.FolderClaim(self.dir)  # held from before the first spawn until stop()
        self._ended: dict[str, str] = {}  # how the last process of each worker name ended
        self._revived: list[str] = []  # what revive_api() did, for status()
        self._log_starts: dict[str, int] = {}  # component -> where its current process's lines start in its log

    def _check_worker_count(self, workers: int) -> None:
        limit = self.settings.max_workers
        if not isinstance(workers, int) or isinstance(workers, bool) or not 0 <= workers <= limit:
            raise ValueError(
                _(
                    "workers must be a whole number from 0 to {limit}, got {value} "
                    "(each worker is a process of ~100 MB; LABAPP_MAX_WORKERS raises the limit)"
                ).format(limit=limit, value=repr(workers))
            )

    def _checked_autoscale(self, autoscale) -> tuple[int, int] | None:
        """(max, min) pool processes per worker for Celery's --autoscale, checked; None: one process each."""
        if autoscale is None:
            return None
        limit = self.settings.max_workers
        try:
            most, least = autoscale
        except (TypeError, ValueError):
            most = least = None
        whole = all(isinstance(n, int) and not isinstance(n, bool) for n in (most, least))
        if not whole or not 0 <= least <= most or not 1 <= most <= limit:
            raise ValueError(
                _(
                    "worker_autoscale must be (max, min) pool processes with 0 <= min <= max and "
                    "1 <= max <= {limit}, got {value}"
                ).format(limit=limit, value=repr(autoscale))
            )
        return (most, least)

    # ----------------------------------------------------------------- life cycle
    def start(self, timeout: float = START_TIMEOUT) -> "Cluster":
        """Start broker, API and workers; return when all answer. Reuses a running cluster."""
        with _LOCK:
            existing = _RUNNING.get(self.dir)
            if existing is not None and existing.running:
                if existing is not self and existing.settings != self.settings:
                    warnings.warn(
                        _(
                            "a cluster is already running here with other settings; it is "
                            "reused as it is (stop() it first to apply new settings)"
                        ),
                        stacklevel=2,
                    )
                existing.scale(self.requested_workers)
                return existing
            if existing is not None and existing._only_broker_died():
                existing.restart_broker()  # with its data: the queued tasks come back too
                existing.scale(self.requested_workers)
                return existing
            if existing is not None:
                # a component of it died: clear what is left (processes, registry entry,
                # stale URLs) before starting afresh, so one start() call is enough
                existing.stop()
            try:
                self._claim_folder()
                self._start(timeout)
            except PermissionError as exc:  # a folder or log file of someone else's, or read-only
                self.stop()
                raise ClusterError(cannot_write(exc.filename or self.dir)) from None
            except BaseException:
                self.stop()
                raise
            _RUNNING[self.dir] = self
            atexit.register(self.stop)
            return self

    def _start(self, timeout: float) -> None:
        self._started = True
        self._revived.clear()
        if not self.broker_url:
            # the data of the cluster before (AOF) is kept: tasks it accepted are not lost
            data_dir = self.dir / "broker-data"
            self.broker = BrokerServer(
                data_dir=data_dir,
                log_path=self.dir / "broker.log",
                env={**os.environ, CLUSTER_ENV: str(self.dir)},
                port=self.broker_port or 0,
                public_bind=self.bind if self.public else "",
                worker_users={
                    classroom_protocol.WORKER_USER: self.worker_password or classroom_protocol.generate_password()
                }
                if self.classroom
                else None,
            )
            try:
                self.broker.start(timeout=min(timeout, 10))
            except BrokerError as exc:
                raise ClusterError(_("broker failed to start: {error}").format(error=exc)) from None
            self.broker_url = self.broker.url
            runtime_folder.write_private_file(self.dir / SECRET_URL_FILE, self.broker_url)
        self.celery = make_celery(self.settings, self.broker_url)
        self.redis = redis.Redis.from_url(
            self.broker_url, decode_responses=True, socket_timeout=5, socket_connect_timeout=2
        )
        self._check_broker_reachable()
        kept = self._warn_about_kept_tasks()
        port = self.api_port or free_port(self.bind if self.public else "127.0.0.1")
        if port_is_open(port) or (self.public and port_is_open(port, self.bind)):
            raise ClusterError(_("API port {port} is already in use: choose another with api_port=").format(port=port))
        self.api = self._spawn("api", self._api_command(port))
        self.api_url = f"http://127.0.0.1:{port}"
        self.client = LabClient(self.api_url, timeout=5)
        if kept:  # before any worker consumes: the kept tasks may be the student's
            self._reload_recorded_tasks()
        else:  # nothing kept: a new session starts with no module of an earlier one (a check would see a stale one)
            (self.dir / student_code.TASKS_RECORD).unlink(missing_ok=True)
        new = [self._spawn_worker() for _index in range(self.requested_workers)]
        self._write_registry()
        self._wait_api_ready(timeout)
        self._wait_workers_ready(new, timeout)
        if self.classroom:
            self._open_class(port)

    def _api_command(self, port: int) -> list[str]:
        command = [sys.executable, "-m", "labapp.api.server", "--port", str(port)]
        return command + (["--public-host", self.bind] if self.public else [])

    @property
    def public_api_url(self) -> str:
        """The API's URL as other machines reach it (the loopback URL if not public)."""
        if not self.public:
            return self.api_url
        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        return f"http://{host}:{self.api_url.rsplit(':', 1)[1]}"

    def _open_class(self, port: int) -> None:
        """Publish the class (versions, shared settings) and write the students' join file."""
        if self.broker is None:
            raise ClusterError(_("a classroom needs the embedded broker (its worker user and join file)"))
        classroom_protocol.publish(
            self.redis, classroom_protocol.classroom_info(self.name, self.public_api_url, self.settings)
        )
        secret = self.broker.worker_users[classroom_protocol.WORKER_USER]
        url = classroom_protocol.join_url(classroom_protocol.WORKER_USER, secret, self.bind, self.broker.port)
        self.join_file = runtime_folder.write_private_file(
            self.dir / JOIN_FILE,
            "\n".join(
                [
                    url,
                    _(
                        "# labapp class {name}, API {url}. Keep this file private: it holds the workers' password."
                    ).format(name=repr(self.name), url=self.public_api_url),
                    _("# join with: labapp join THIS_FILE --workers 2 --name YOUR_NAME"),
                ]
            ),
        )

    def _end_class(self, grace: float = 3.0) -> None:
        """Withdraw the class, and give joined machines a moment to see it and leave by themselves."""
        try:
            classroom_protocol.withdraw(self.redis)
            ours = {self.node_name(name) for name in self.workers}

            def joined_left() -> bool:
                return not [w for w in heartbeat.live_workers(self.redis) if w["name"] not in ours]

            if not joined_left():
                processes.wait_until(joined_left, grace, interval=0.2)
        except (redis.RedisError, processes.WaitTimeout):
            pass  # they will find the broker gone instead

    def _claim_folder(self) -> None:
        """Lock the runtime folder before anything is spawned: one owner per folder, atomically."""
        try:
            self._claim.acquire()
        except runtime_folder.FolderTaken:
            owner = _("another process")
            for entry_file, entry in registry.read_entries(self._registry_file.parent):
                if entry_file == self._registry_file and registry.owner_alive(entry):
                    owner = _("process {pid}").format(pid=entry["owner"]["pid"])
            raise ClusterError(
                _(
                    "a cluster is already running in {folder}, started by {owner} (another "
                    "notebook or `labapp up`?). Stop it there, or run `labapp down --name {name}`, or give "
                    "this one another name: Cluster(name=...)"
                ).format(folder=self.dir, owner=owner, name=self.name)
            ) from None
        # we hold the lock, so an entry for this folder was left by an owner that died
        for entry_file, entry in registry.read_entries(self._registry_file.parent):
            if entry_file == self._registry_file:
                registry.stop_entry(entry_file, entry)

    def _warn_about_kept_tasks(self) -> int:
        """Warn about the tasks the broker kept from before; return how many."""
        if self.broker is None:
            return 0
        waiting = self.redis.llen(QUEUE) + self.redis.hlen(UNACKED)
        if waiting:
            warnings.warn(
                ngettext(
                    "the broker kept {n} unfinished task(s) from before (its data in "
                    "{folder}): they run once workers start. To drop them instead: "
                    "cluster.celery.control.purge()",
                    "the broker kept {n} unfinished task(s) from before (its data in "
                    "{folder}): they run once workers start. To drop them instead: "
                    "cluster.celery.control.purge()",
                    waiting,
                ).format(n=waiting, folder=self.broker.data_dir),
                stacklevel=4,
            )
        return waiting

    def _check_broker_reachable(self) -> None:
        try:
            with self.celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=5)
        except Exception as exc:
            if self.broker:
                said = _("broker unreachable at {url}: {error}; see {log}")
            else:
                said = _("broker unreachable at {url}: {error} (is that Redis running?)")
            raise ClusterError(
                said.format(url=self.safe_broker_url, error=exc, log=self.broker and self.broker.log_path)
            ) from None

    def stop(self) -> Stopped:
        """Stop workers, API and broker (whatever runs); safe to call twice. Return what stopped."""
        with _LOCK:
            stopped = self._running_parts()
            if self.classroom and self.redis is not None:
                self._end_class()
            # the whole cluster goes: a task still running comes back later (acks_late) if the
            # broker's data outlives it (an external Redis); waiting for it would only delay
            processes.stop_children([child.proc for child in self.extras.values()], timeout=5)
            self.extras.clear()
            # SIGTERM to every worker's group, idle or not: a worker whose beat names no task may have just
            # taken a message (BRPOP has removed it from the queue); SIGKILL would strand it in the unacked
            # set until the visibility timeout, where SIGTERM gives it back at once (task_reject_on_worker_lost)
            self._stop_workers(list(self.workers), how="now", timeout=5)
            processes.stop_children([child.proc for child in self._leaving.values()], timeout=5)
            self._leaving.clear()
            if self.api is not None:
                processes.stop_child(self.api.proc, timeout=5)
                self.api = None
            if self.broker is not None:
                self.broker.stop()
                self.broker = None
                (self.dir / SECRET_URL_FILE).unlink(missing_ok=True)
                (self.dir / JOIN_FILE).unlink(missing_ok=True)
                self.join_file = None
                self.broker_url = self.settings.broker_url or ""
            if self.celery is not None:
                self.celery.close()
                self.celery = None
            if self.redis is not None:
                self.redis.close()
                self.redis = None
            if self._registered:  # never another cluster's entry for the same folder
                self._registry_file.unlink(missing_ok=True)
                self._registered = False
            self._claim.release()  # last: nothing of ours runs in the folder any more
            atexit.unregister(self.stop)
            if _RUNNING.get(self.dir) is self:
                del _RUNNING[self.dir]
            self._started = False
            return stopped

    def _running_parts(self) -> Stopped:
        """The processes of this cluster that are alive now, as stop() reports them."""
        broker = ""
        if self.broker is not None and self.broker.running:
            broker = "embedded"
        elif self.broker is None and self._started and self.broker_url:
            broker = "external"
        return Stopped(
            self.name,
            workers=sum(child.alive for child in self.workers.values()),
            extras=tuple(name for name, child in self.extras.items() if child.alive),
            api=self.api is not None and self.api.alive,
            broker=broker,
        )

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the API (and the broker, if embedded) are alive."""
        api, broker = self.api, self.broker  # read once: stop() may run on another thread
        return self._started and api is not None and api.alive and (broker is None or broker.running)

    @property
    def safe_broker_url(self) -> str:
        """The broker URL with the password masked, for printing."""
        return classroom_protocol.mask(self.broker_url)

    # ------------------------------------------------------------------ children
    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.settings.with_(broker_url=self.broker_url).to_env())
        env[CLUSTER_ENV] = str(self.dir)
        env[processes.OWNER_ENV] = str(os.getpid())
        env[student_code.TASKS_ENV] = student_code.env_value(self.student_tasks.values())
        env[student_code.ROUTES_ENV] = student_code.env_value(self.student_routes.values())
        if self.broker is not None and self.broker.proc is not None:
            env[processes.BROKER_PID_ENV] = str(self.broker.proc.pid)
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        return env

    def _spawn(self, component: str, args: list[str], env: dict | None = None, gated: bool = False) -> Child:
        log = self.dir / f"{component}.log"
        if gated:  # its namesake may still write here: the separator comes when its gate opens (_open_gate)
            self._log_starts[component] = logfiles.rotate_if_large(log)
        else:
            self._log_starts[component] = logfiles.open_for_new_process(log, component, self._ended.pop(component, ""))
        proc = processes.spawn(args, log, env={**self._child_env(), **(env or {})}, gated=gated)
        return Child(component, proc, log, processes.process_identity(proc.pid))

    def _spawn_worker(self, gated: bool = False) -> Child:
        """A new worker under the first free name; ``gated``: it waits, its imports done, for _open_gate()."""
        index = 1
        while f"w{index}" in self.workers or f"w{index}" in self._leaving:  # a leaving one still beats
            index += 1
        name = f"w{index}"
        if not gated:
            self._forget_namesake(name)
        child = self._spawn(
            name,
            worker_command(self.WORKER_APP, self.node_name(name), autoscale=self.worker_autoscale),
            gated=gated,
        )
        self.workers[name] = child
        return child

    def _forget_namesake(self, name: str) -> None:
        """A dead namesake's beat must not read as the new worker's first one."""
        heartbeat.forget(self.redis, self.node_name(name))
        (self.dir / heartbeat.BEATS_FOLDER / self.node_name(name)).unlink(missing_ok=True)

    def _open_gate(self, child: Child) -> None:
        """Its namesake has ended: a gated worker may connect and beat now, below a separator in its log."""
        self._forget_namesake(child.component)
        if child.proc.poll() is None:  # one that died at its imports keeps its lines where they are
            self._log_starts[child.component] = logfiles.open_for_new_process(
                child.log, child.component, self._ended.pop(child.component, "")
            )
        processes.open_gate(child.proc)

    def _replace_workers(self, timeout: float) -> list[Child]:
        """Each worker stops warm (its running task finishes) while its successor, same name, starts and
        imports; the successor connects once its namesake has ended. Return the successors, not yet ready."""
        old = [self.workers.pop(name) for name in list(self.workers)]
        new = [self._spawn_worker(gated=True) for _ in old]
        # SIGTERM to each main process only: Celery's warm shutdown, while the successors import
        processes.stop_children([child.proc for child in old], timeout=timeout, whole_group=False)
        for child in old:
            self._ended[child.component] = f"(pid {child.proc.pid}) {logfiles.describe_exit(child.proc.returncode)}"
        for child in new:
            self._open_gate(child)
        return new

    def node_name(self, worker: str) -> str:
        """Celery node name of a worker: ``w1@laptop``, or ``NAME-w1@laptop`` on a shared Redis.

        An embedded broker is this cluster's own; two clusters on one external Redis
        would otherwise read and overwrite each other's heartbeats.
        """
        prefix = "" if self.broker is not None or not self.settings.broker_url else f"{self.name}-"
        return f"{prefix}{worker}@{socket.gethostname()}"

    def _failure(self, child: Child, what: str) -> ClusterError:
        """A ClusterError: what went wrong (a sentence naming {component}), the log's path and the last lines
        of this process (never its predecessor's, above them in the same log)."""
        own = read_tail(child.log, 15, start=self._log_starts.get(child.component, 0))
        return ClusterError(
            _("{problem}; see {log}").format(problem=what.format(component=child.component), log=child.log)
            + "\n"
            + _("--- last lines ---")
            + "\n"
            + (own or _("(none: it wrote nothing)"))
        )

    def _wait_api_ready(self, timeout: float) -> None:
        def ready():
            if not self.api.alive:
                raise self._failure(self.api, _exited(self.api))
            try:
                LabClient(self.api_url, timeout=2).request("GET", "/health")
                return True
            except ApiError as exc:
                return exc.status != 0  # any HTTP answer means the server is up

        try:
            processes.wait_until(ready, timeout, interval=0.05, what="the API")
        except TimeoutError:
            raise self._failure(self.api, _no_answer(timeout)) from None

    def _wait_workers_ready(self, children: list[Child], timeout: float) -> None:
        """Wait until each new worker announces itself in Redis (its first heartbeat)."""
        heartbeat.wait_for_first_beats(
            self.redis,
            {self.node_name(child.component): child for child in children},
            timeout,
            died=lambda child: self._failure(child, _exited(child)),
            late=lambda child: self._failure(
                child, _("{{component}} was not ready within {seconds:.0f} s").format(seconds=timeout)
            ),
        )

    def _stop_workers(self, names: list[str], how: str, timeout: float) -> None:
        """Stop workers: "finish" lets a running task end first (SIGTERM to the main process
        only: its pool processes would die at once), "now" SIGTERMs, "kill" SIGKILLs the group."""
        children = [self.workers.pop(name) for name in names]
        sig = signal.SIGKILL if how == "kill" else signal.SIGTERM
        processes.stop_children(
            [child.proc for child in children], timeout=timeout, sig=sig, whole_group=how != "finish"
        )
        for child in children:
            self._ended[child.component] = f"(pid {child.proc.pid}) {logfiles.describe_exit(child.proc.returncode)}"

    def _write_registry(self) -> None:
        children = [
            c
            for c in [self.api, *self.workers.values(), *self._leaving.values(), *self.extras.values()]
            if c is not None
        ]
        if self.broker is not None and self.broker.proc is not None:
            children.insert(
                0,
                Child(
                    "broker", self.broker.proc, self.broker.log_path, processes.process_identity(self.broker.proc.pid)
                ),
            )
        self._registered = True
        registry.write_entry(
            self._registry_file,
            {
                "name": self.name,
                "dir": str(self.dir),
                "owner": processes.process_identity(os.getpid()),
                "api_url": getattr(self, "api_url", None),
                "broker_url": self.safe_broker_url,
                "children": [{"component": c.component, **c.identity} for c in children],
            },
        )

    # ----------------------------------------------------------------- operations
    def revive_api(self, timeout: float = START_TIMEOUT) -> bool:
        """Restart a dead API alone, on its port, while the broker runs; True once it answers again.

        Workers and queued tasks are untouched. Its log and status() say that it died and came back.
        """
        with _LOCK:
            api, broker = self.api, self.broker
            if not self._started or api is None or api.alive or (broker is not None and not broker.running):
                return False
            how = logfiles.describe_exit(api.proc.returncode)
            self._ended["api"] = f"(pid {api.proc.pid}) {how}"
            port = int(self.api_url.rsplit(":", 1)[1])
            self.api = self._spawn("api", self._api_command(port))
            self._write_registry()
            self._wait_api_ready(timeout)
            self._revived.append(
                _("the API stopped ({how}) and was restarted on the same port; see {log}").format(
                    how=how, log=self.api.log
                )
            )
            return True

    def core_failure(self) -> str:
        """Which core component (API, broker) is dead, how it ended and where its log is; '' if none."""
        if self.broker is not None and self.broker.proc is not None and not self.broker.running:
            code = self.broker.proc.poll()
            return _("the broker stopped ({how}); see {log}").format(
                how=logfiles.describe_exit(code), log=self.broker.log_path
            )
        if self.api is not None and not self.api.alive:
            return _("the API stopped ({how}); see {log}").format(
                how=logfiles.describe_exit(self.api.proc.returncode), log=self.api.log
            )
        return ""

    def _require_running(self) -> None:
        if not self.running and self._revive_quietly():
            return
        if self._only_broker_died():
            raise ClusterError(
                _(
                    "the broker died (see {log}): call cluster.restart_broker() to bring it back with its queued tasks"
                ).format(log=self.broker.log_path)
            )
        if not self.running:
            if self.student_routes:  # task modules load again at start by themselves (their record)
                calls = [f"cluster.add_routes('{self._sources[m]}')" for m in self.student_routes]
                raise ClusterError(
                    _(
                        "the cluster is not running: run the start cell again (Cluster(...).start()), "
                        "then load your code again: {calls}"
                    ).format(calls=", ".join(calls))
                )
            raise ClusterError(_("the cluster is not running: run the start cell again (Cluster(...).start())"))

    def _only_broker_died(self) -> bool:
        """True when the embedded broker is dead and the API still runs: restart_broker() heals it."""
        broker, api = self.broker, self.api
        return self._started and broker is not None and not broker.running and api is not None and api.alive

    def scale(self, workers: int, timeout: float | None = None, wait: bool = True) -> "Cluster":
        """Add or remove worker processes until there are ``workers``; removal lets idle ones go first.

        ``wait=False`` (an autoscaler's scale-down) returns once the workers it removes were told to
        stop: they finish their task meanwhile, and a scale-up that follows never waits for them.
        """
        self._check_worker_count(workers)
        with _LOCK:
            self._require_running()
            self.requested_workers = workers
            self._reap_dead_workers()
            self._reap_leaving()
            if workers > len(self.workers):
                new = [self._spawn_worker() for _ in range(workers - len(self.workers))]
                self._write_registry()
                self._wait_workers_ready(new, timeout or START_TIMEOUT)
            elif workers < len(self.workers):
                busy = self._busy_workers()
                order = sorted(self.workers, key=lambda n: (n in busy, -int(n[1:])))
                going = order[: len(self.workers) - workers]
                if wait:
                    grace = timeout or self.settings.longtask_max_x + 10
                    self._stop_workers(going, how="finish", timeout=grace)
                else:
                    self._let_go(going)
                self._write_registry()
            return self

    def kill_worker(self, name: str | None = None) -> str:
        """SIGKILL one worker (a busy one if any): its unacked task comes back after the visibility timeout."""
        with _LOCK:
            self._require_running()
            self._reap_dead_workers()
            if not self.workers:
                raise ClusterError(_("there is no worker to kill"))
            if name is None:
                busy = self._busy_workers()
                candidates = sorted(busy or self.workers, key=lambda n: int(n[1:]))
                name = candidates[-1]
            if name not in self.workers:
                raise ClusterError(
                    _("no worker named {name}; workers: {workers}").format(
                        name=repr(name), workers=", ".join(self.workers)
                    )
                )
            self._stop_workers([name], how="kill", timeout=5)
            self._write_registry()
            return name

    def _busy_workers(self) -> set[str]:
        ours = {self.node_name(name): name for name in self.workers}
        return {ours[w["name"]] for w in heartbeat.live_workers(self.redis) if w["name"] in ours and w.get("active")}

    def _let_go(self, names: list[str]) -> None:
        """Warm shutdown without waiting: SIGTERM to each main process (its pool finishes the task)."""
        for name in names:
            child = self._leaving[name] = self.workers.pop(name)
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(signal.SIGTERM)

    def _reap_leaving(self) -> None:
        """Forget the workers let go that have ended."""
        for name, child in list(self._leaving.items()):
            if child.proc.poll() is not None:
                del self._leaving[name]
                self._ended[name] = f"(pid {child.proc.pid}) {logfiles.describe_exit(child.proc.returncode)}"

    def _reap_dead_workers(self) -> None:
        self._stop_workers([n for n, c in self.workers.items() if not c.alive], how="kill", timeout=1)

    def add_tasks(self, path, timeout: float = START_TIMEOUT) -> dict[str, str]:
        """Load a file of Celery tasks into every worker; return {task name: signature} once all have it.

        The file is imported in a separate process first, so a mistake comes back as
        a StudentCodeError naming the file, the line and the error; then a copy goes
        into the cluster's folder and the workers restart with it (running tasks finish first).
        """
        found = student_code.check_tasks(path)
        with _LOCK:
            copy = self._take_student_file(path, self.student_tasks)
            self._task_names[copy.stem] = sorted(found)
            self._record_tasks()  # first: a worker that meets these tasks meanwhile requeues them
            new = self._replace_workers(timeout=self.settings.longtask_max_x + 10)
            self._write_registry()
            self._wait_workers_ready(new, timeout)
            self._check_loaded(copy.stem, new)
        return found

    def _record_tasks(self) -> None:
        """Write which task modules this cluster loads, for its next start and for its workers."""
        student_code.record_tasks(
            self.dir,
            {
                module: {"copy": str(copy), "source": self._sources[module], "tasks": self._task_names.get(module, [])}
                for module, copy in self.student_tasks.items()
            },
        )

    def _reload_recorded_tasks(self) -> None:
        """Take back the task modules this folder's cluster had loaded: its workers start with them."""
        for module, entry in student_code.recorded_tasks(self.dir).items():
            self.student_tasks.setdefault(module, Path(entry["copy"]))
            self._sources.setdefault(module, entry.get("source", entry["copy"]))
            self._task_names.setdefault(module, list(entry.get("tasks", [])))

    def _take_student_file(self, path, loaded: dict) -> Path:
        """Copy a checked student file into the cluster's folder and remember it; return the copy."""
        self._require_running()
        copy = student_code.install(Path(path), self.dir / "student")
        loaded[copy.stem] = copy
        self._sources[copy.stem] = str(path)
        return copy

    def _check_loaded(self, module: str, children: list[Child]) -> None:
        """Every new worker imported the module at start (its heartbeat says so), or raise naming its log."""
        beats = {w["name"]: w for w in heartbeat.live_workers(self.redis)}
        for child in children:
            if module not in beats.get(self.node_name(child.component), {}).get("student_modules", []):
                raise self._failure(child, _("{{component}} could not import {module}").format(module=module))

    def add_routes(self, path, timeout: float = START_TIMEOUT) -> list[str]:
        """Load a file with a Flask blueprint into the API; return its routes, once the API serves them.

        Checked in a separate process first (a route that clashes with the lab's is refused);
        only the API restarts, on the same port.
        """
        routes = student_code.check_routes(path)
        with _LOCK:
            self._take_student_file(path, self.student_routes)
            port = int(self.api_url.rsplit(":", 1)[1])
            processes.stop_child(self.api.proc, timeout=5)
            self.api = self._spawn("api", self._api_command(port))
            self._write_registry()
            self._wait_api_ready(timeout)
        return routes

    def flower(self, port: int | None = None, timeout: float = START_TIMEOUT) -> str:
        """Start Flower (the standard Celery monitor) on loopback, once; return its URL.

        It reads the broker URL from its environment, never from its command line,
        and stops with the cluster.
        """
        with _LOCK:
            self._require_running()
            running = self.extras.get("flower")
            if running is not None and running.alive:
                return self.flower_url
            port = port or free_port()
            child = self._spawn("flower", flower_monitor.command(self.WORKER_APP, port), env=flower_monitor.FLOWER_ENV)
            self.extras["flower"] = child
            self.flower_url = f"http://127.0.0.1:{port}"
            self._write_registry()

            def ready():
                if not child.alive:
                    raise self._failure(child, _exited(child))
                return flower_monitor.answers(self.flower_url)

            try:
                processes.wait_until(ready, timeout, interval=0.1, what="Flower")
            except TimeoutError:
                raise self._failure(child, _no_answer(timeout)) from None
            return self.flower_url

    def restart_broker(self) -> None:
        """Restart the embedded broker with its data (also after it crashed): queued tasks survive (AOF)."""
        with _LOCK:
            if self.broker is None and self.running:
                raise ClusterError(_("the broker is external: restart it where it runs"))
            if not self._only_broker_died():
                self._require_running()
            try:
                self.broker.restart()
            except BrokerError as exc:
                raise ClusterError(_("the broker did not come back: {error}").format(error=exc)) from None
            self._write_registry()

    def cancel(self, task) -> task_cancel.CancelOutcome:
        """Terminate a task on the lab's workers, whoever sent it (an AsyncResult or an id): it ends REVOKED.

        The worker running it kills the process it runs in (an endless loop too) and takes new tasks;
        a task still queued is dropped when a worker takes it. A class's workers (``labapp serve``,
        ``labapp join``) refuse it: the result says so. The API's DELETE /tasks/<id> is gentler: a flag
        the lab's own tasks look at between steps.
        """
        task_id = getattr(task, "id", task)
        with _LOCK:
            self._require_running()
            workers = [worker["name"] for worker in heartbeat.live_workers(self.redis)]
        return task_cancel.cancel(self.celery, task_id, workers, self.settings.soft_time_limit)

    def queue_length(self) -> int:
        """Messages waiting in the broker's queue (not yet taken by a worker)."""
        self._require_running()
        return self.redis.llen(QUEUE)

    def _revive_quietly(self) -> bool:
        """revive_api(), where its failure leaves the API dead for the caller to report."""
        try:
            return self.revive_api()
        except ClusterError as exc:
            self._revived.append(str(exc).splitlines()[0])
            return False

    def status(self) -> ProcessTable:
        """One row per process: component, pid, alive, address, log file (a dead API is restarted first)."""
        self._revive_quietly()
        rows = ProcessTable()
        rows.notes.extend(self._revived)
        if self.broker is not None and self.broker.proc is not None:
            rows.append(
                {
                    "component": "broker",
                    "pid": self.broker.proc.pid,
                    "alive": self.broker.running,
                    "address": f"127.0.0.1:{self.broker.port}",
                    "log": self.broker.log_path,
                }
            )
        elif self.broker_url:
            rows.append(
                {"component": "broker", "pid": "-", "alive": "external", "address": self.safe_broker_url, "log": "-"}
            )
        if self.api is not None:
            rows.append(
                {
                    "component": "api",
                    "pid": self.api.proc.pid,
                    "alive": self.api.alive,
                    "address": self.api_url,
                    "log": self.api.log,
                }
            )
        stale = self._stale_workers()
        for name in sorted(self.workers, key=lambda n: int(n[1:])):
            child = self.workers[name]
            rows.append(
                {
                    "component": name,
                    "pid": child.proc.pid,
                    "alive": no_heartbeat(stale[name]) if name in stale else child.alive,
                    "address": self.node_name(name),
                    "log": child.log,
                }
            )
        if "flower" in self.extras:
            child = self.extras["flower"]
            rows.append(
                {
                    "component": "flower",
                    "pid": child.proc.pid,
                    "alive": child.alive,
                    "address": self.flower_url,
                    "log": child.log,
                }
            )
        if self._only_broker_died():
            rows.notes.append(
                _("the broker is dead: cluster.restart_broker() brings it back with its queued tasks (nothing is lost)")
            )
        elif self._started and not self.running:
            rows.notes.append(_("the cluster is down: cluster.start() starts it again (queued tasks are kept)"))
        if stale:
            rows.notes.append(
                _(
                    "worker(s) {workers}: the process exists but sends no heartbeat (stopped with SIGSTOP or Ctrl-Z, "
                    "or frozen): it takes no task, and its running task goes to another worker after the visibility "
                    "timeout; kill -CONT <pid> resumes it, cluster.kill_worker('{first}') replaces it"
                ).format(workers=", ".join(sorted(stale)), first=sorted(stale)[0])
            )
        dead = [name for name, child in self.workers.items() if not child.alive]
        if dead and self.running:
            rows.notes.append(
                _(
                    "dead worker(s) {workers}: cluster.scale({count}) "
                    "replaces them; their tasks come back after the visibility timeout"
                ).format(workers=", ".join(dead), count=len(self.workers))
            )
        return rows

    def _stale_workers(self) -> dict[str, float | None]:
        """{name: seconds since its last heartbeat} of workers whose process exists but beats no more."""
        if not self.running or self.redis is None:
            return {}
        ages = {
            name: heartbeat.beat_age(self.redis, self.node_name(name), self.dir)
            for name, child in self.workers.items()
            if child.alive
        }
        return {name: age for name, age in ages.items() if heartbeat.is_stale(age)}

    def logs(self, component: str, tail: int = 20) -> LogLines:
        """The last lines of a component's log: "broker", "api", "w1", ..."""
        path = self.dir / f"{component}.log"
        if not path.exists():
            known = ", ".join(sorted(p.stem for p in self.dir.glob("*.log")))
            raise ClusterError(
                _("no log for {component}; logs here: {logs}").format(
                    component=repr(component), logs=known or _("none")
                )
            )
        return LogLines(read_tail(path, tail))

    def __repr__(self) -> str:
        api = getattr(self, "api_url", "-") if self.running else "-"
        count = len(self.workers)
        if self.running:
            text = ngettext(
                "<Cluster {name} running: {count} worker, api {api}>",
                "<Cluster {name} running: {count} workers, api {api}>",
                count,
            )
        else:
            text = ngettext(
                "<Cluster {name} stopped: {count} worker, api {api}>",
                "<Cluster {name} stopped: {count} workers, api {api}>",
                count,
            )
        return text.format(name=repr(self.name), count=count, api=api)
