"""A student's machine in the instructor's class: N workers that join, stay, and leave cleanly."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import redis

from labapp import progress
from labapp.engine import classroom_protocol, heartbeat, logfiles, processes, runtime_folder
from labapp.engine.celery_config import CONTROL_ENV, worker_command
from labapp.engine.logfiles import read_tail
from labapp.engine.processes import CLUSTER_ENV, Child
from labapp.i18n import _
from labapp.settings import ENV_PREFIX, Settings

START_TIMEOUT = 30.0
CHECK_EVERY = 2.0  # seconds between two looks at the class while joined
SLEEP_GAP = 10.0  # a wall-clock jump this much larger than elapsed time means the machine slept


class Joiner:
    """This machine's workers in an instructor's class, started from a join file or URL."""

    WORKER_APP = "labapp.worker"

    def __init__(self, source: str, workers: int = 2, name: str | None = None, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self.name = (name or default_name()).lower()
        if not classroom_protocol.NAME.match(self.name):
            raise classroom_protocol.JoinError(
                _(
                    "--name {name}: use 1 to 31 lower-case letters, digits, - or _, starting "
                    "with a letter or digit (it goes into your workers' names)"
                ).format(name=repr(self.name))
            )
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= self.settings.max_workers:
            raise classroom_protocol.JoinError(
                _("--workers must be from 1 to {limit}, got {value}").format(
                    limit=self.settings.max_workers, value=repr(workers)
                )
            )
        self.url = classroom_protocol.resolve_source(source)
        self.requested = workers
        self.dir = self.settings.runtime_path / f"join-{self.name}"
        self.workers: dict[str, Child] = {}
        self.info: dict = {}
        self._claim = runtime_folder.FolderClaim(self.dir)
        self._redis = None
        self._progress_note = None  # while joined: this machine's checks report to the class (labapp.progress)

    # ------------------------------------------------------------------ joining
    def node_name(self, worker: str) -> str:
        """Celery node name of one of our workers: ``NAME-w1@this-machine``."""
        return f"{self.name}-{worker}@{classroom_protocol.node_host()}"

    def start(self, timeout: float = START_TIMEOUT) -> "Joiner":
        """Check the class (password, versions, free names), start the workers, wait until all are in."""
        self.info = classroom_protocol.check_classroom(self.url)
        self._redis = classroom_protocol.connect(self.url)
        taken = [
            self.node_name(f"w{i}")
            for i in range(1, self.requested + 1)
            if heartbeat.is_alive(self._redis, self.node_name(f"w{i}"))
        ]
        if taken:
            raise classroom_protocol.JoinError(
                _(
                    "{workers} already work(s) in this class: is this name joined already? Choose another with --name"
                ).format(workers=", ".join(taken))
            )
        try:
            self._claim.acquire()
        except runtime_folder.FolderTaken:
            raise classroom_protocol.JoinError(
                _(
                    "`labapp join --name {name}` already runs on this machine "
                    "({folder}): stop it, or choose another --name"
                ).format(name=self.name, folder=self.dir)
            ) from None
        try:
            new = [self._spawn(f"w{i}") for i in range(1, self.requested + 1)]
            self._wait_ready(new, timeout)
            self._progress_note = progress.remember_join(self.url, self.name, self.info.get("name", ""), self.settings)
        except BaseException:
            self.leave(now=True)
            raise
        return self

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # the class's settings win over this machine's: every worker of a class behaves alike
        env.update({ENV_PREFIX + key.upper(): str(value) for key, value in self.info.get("settings", {}).items()})
        env[ENV_PREFIX + "BROKER_URL"] = self.url
        env[CLUSTER_ENV] = str(self.dir)
        env[CONTROL_ENV] = "inspect"  # a classmate's shutdown or revoke is refused here too
        env[processes.OWNER_ENV] = str(os.getpid())
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        return env

    def _spawn(self, worker: str) -> Child:
        log = self.dir / f"{worker}.log"
        logfiles.open_for_new_process(log, worker)
        proc = processes.spawn(
            worker_command(self.WORKER_APP, self.node_name(worker)),
            log,
            env=self._env(),
        )
        child = Child(worker, proc, log)
        self.workers[worker] = child
        return child

    def _wait_ready(self, children: list[Child], timeout: float) -> None:
        heartbeat.wait_for_first_beats(
            self._redis,
            {self.node_name(child.component): child for child in children},
            timeout,
            died=lambda child: classroom_protocol.JoinError(
                _("worker {name} exited at start (code {code}); see {log}").format(
                    name=child.component, code=child.proc.returncode, log=child.log
                )
                + "\n"
                + read_tail(child.log, 8)
            ),
            late=lambda child: classroom_protocol.JoinError(
                _("worker {name} was not in the class within {seconds:.0f} s; see {log}").format(
                    name=child.component, seconds=timeout, log=child.log
                )
            ),
        )

    @property
    def node_names(self) -> list[str]:
        """The node names of our workers."""
        return [self.node_name(name) for name in self.workers]

    # ------------------------------------------------------------------ staying
    def watch(self, say=print, interval: float = CHECK_EVERY, stop=None) -> int:
        """Stay in the class: replace a dead worker, report lost contact and return; 0 when the class ends."""
        lost_since = None
        wall, mono = time.time(), time.monotonic()
        while stop is None or not stop():
            time.sleep(interval)
            slept = (time.time() - wall) - (time.monotonic() - mono)
            wall, mono = time.time(), time.monotonic()
            if slept > SLEEP_GAP:
                say(_("this machine slept for about {seconds:.0f} s: checking the class...").format(seconds=slept))
            try:
                classroom_protocol.check_classroom(self.url)
            except classroom_protocol.BrokerUnreachable as exc:
                if lost_since is None:
                    lost_since = time.strftime("%H:%M:%S")
                    say(
                        _(
                            "lost contact with the class at {when}. {reason} Your workers keep "
                            "trying and rejoin by themselves (Ctrl-C to leave)."
                        ).format(when=lost_since, reason=exc)
                    )
                continue
            except classroom_protocol.NoClass:
                say(_("the class has ended (the instructor stopped it): leaving"))
                return 0
            except classroom_protocol.JoinError as exc:
                say(_("cannot stay in the class: {reason}").format(reason=exc))
                return 1
            if lost_since is not None:
                say(
                    _("back in the class (contact lost since {when}): {workers}").format(
                        when=lost_since, workers=", ".join(self.node_names)
                    )
                )
                lost_since = None
            self._replace_dead(say)
        return 0

    def _replace_dead(self, say) -> None:
        for worker, child in list(self.workers.items()):
            if not child.alive:
                say(
                    _("worker {name} stopped ({how}); starting it again (its log: {log})").format(
                        name=self.node_name(worker), how=logfiles.describe_exit(child.proc.returncode), log=child.log
                    )
                )
                self._spawn(worker)

    # ------------------------------------------------------------------ leaving
    def leave(self, now: bool = False, timeout: float | None = None) -> None:
        """Leave the class: warm shutdown (running tasks finish), or now (they go back to the queue)."""
        children = [child.proc for child in self.workers.values()]
        if now:
            processes.stop_children(children, timeout=5, sig=signal.SIGKILL)
        else:
            grace = (
                timeout
                if timeout is not None
                else float(self.info.get("settings", {}).get("longtask_max_x", self.settings.longtask_max_x)) + 10
            )
            # SIGTERM to each main process only: a warm shutdown (see processes.stop_children)
            processes.stop_children(children, timeout=grace, sig=signal.SIGTERM, whole_group=False)
        if self._redis is not None:
            for node in self.node_names:  # a killed worker could not say goodbye itself
                try:
                    heartbeat.forget(self._redis, node)
                except redis.RedisError:
                    pass
            self._redis.close()
            self._redis = None
        self.workers.clear()
        progress.forget_join(self._progress_note)
        self._progress_note = None
        self._claim.release()


def default_name() -> str:
    """The login name, made fit for a node name (a student's default --name)."""
    import getpass
    import re

    try:
        raw = getpass.getuser()
    except Exception:
        raw = "student"
    return re.sub(r"[^a-z0-9_-]", "-", raw.lower())[:31].strip("-") or "student"
