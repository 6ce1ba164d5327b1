"""Start and stop child processes that never outlive the process that started them."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PR_SET_PDEATHSIG = 1
CLUSTER_ENV = "LABAPP_CLUSTER_DIR"  # marks every process of a cluster, for tests and `ps e`
# a child started with a gate waits, its imports done, until its parent closes its stdin (open_gate)
GATE_ENV = "LABAPP_START_GATE"


def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return libc.prctl


# Resolved once in the parent: the forked child must not load libraries (locks held
# by other threads at fork time would never be released in the child).
_PRCTL = _load_prctl()


def set_parent_death_signal() -> None:
    """In the child, before exec: ask Linux to SIGKILL us when the parent thread dies."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn(
    args: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: str | None = None, gated: bool = False
) -> subprocess.Popen:
    """Start a child in its own session, logging to a file, tied to our life.

    ``gated``: the child gets GATE_ENV and a pipe for stdin; a child that honours the gate (a lab worker)
    does its imports, then waits until open_gate() closes that pipe (or this process ends).

    Files the child creates are private (umask 077). Its own session keeps a notebook's "interrupt kernel"
    (which signals the kernel's whole process group) away from the cluster. The parent-death
    signal follows the *thread* that forks, so it is only set from the main
    thread; elsewhere the atexit stop and ``labapp down`` still clean up.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    if gated:
        child_env[GATE_ENV] = "1"
    on_main_thread = threading.current_thread() is threading.main_thread()
    # private from the start: task arguments and results pass through logs and broker files
    with os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        return subprocess.Popen(
            args,
            stdin=subprocess.PIPE if gated else subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env,
            cwd=cwd,
            start_new_session=True,
            umask=0o077,  # whatever the child creates (logs, AOF files) is readable by us only
            # no preexec_fn where there is no prctl (macOS): it would only force the slow,
            # thread-unsafe fork path for nothing
            preexec_fn=set_parent_death_signal if on_main_thread and _PRCTL is not None else None,
        )


def open_gate(proc: subprocess.Popen) -> None:
    """Let a child started with ``gated=True`` go on past its gate."""
    if proc.stdin is not None and not proc.stdin.closed:
        try:
            proc.stdin.close()
        except OSError:  # it has died meanwhile: whoever waits for it sees that
            pass


def wait_at_gate() -> None:
    """In a child started with a gate: return once the parent opens it (closes our stdin) or ends."""
    if os.environ.pop(GATE_ENV, None):
        try:
            sys.stdin.buffer.read()
        except (OSError, ValueError):  # no stdin at all: nothing to wait for
            pass


def process_identity(pid: int) -> dict:
    """pid plus its start time, so a reused pid is never mistaken for the process we knew."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        return {"pid": pid, "started": None}
    return {"pid": pid, "started": started, "since_boot": _since_boot(pid)}


def _since_boot(pid: int) -> float | None:
    """When pid started, in seconds after boot (Linux's /proc; None elsewhere).

    A wall-clock start time is boot time + this, and Linux gives the boot time in whole seconds
    that follow the clock: an NTP adjustment can move every process's start time by a second
    between the moment one process records it and the moment another compares it.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        return int(text[text.rindex(")") + 2 :].split()[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def is_same_process(identity: dict) -> bool:
    """True while the process of identity (process_identity's) still runs under its pid and is no zombie.

    Without a start time ({"pid": pid}), any live process under that pid counts.
    """
    try:
        proc = psutil.Process(identity["pid"])
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        since_boot = identity.get("since_boot")
        if since_boot is not None and (now := _since_boot(identity["pid"])) is not None:
            return abs(now - since_boot) < 0.05  # clock ticks: the same process reads the same value
        started = identity.get("started")
        return started is None or abs(proc.create_time() - started) < 0.5
    except psutil.AccessDenied:
        return identity.get("started") is None  # another user's: it exists, and it is not ours
    except psutil.Error:
        return False


def is_alive(pid: int) -> bool:
    """True when a process with this pid exists and is not a zombie."""
    return is_same_process({"pid": pid})


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Send a signal to the process group led by pid (our children lead their own)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_children(
    children: list[subprocess.Popen], timeout: float = 5.0, sig: int = signal.SIGTERM, whole_group: bool = True
) -> None:
    """Signal every child (its whole group, or its leader only) at once, wait up to timeout in all,
    then SIGKILL what remains of each group.

    Signal the leader only to let a Celery worker shut down warm, finishing its running task:
    its pool processes reset SIGTERM to the default and would die at once.
    """
    # A leader reaped earlier (a crash that status() noticed) may have left its pid free for
    # reuse: its group is not signalled again, its stragglers exit by watching their parent.
    reaped_before = {proc.pid for proc in children if proc.returncode is not None}
    for proc in children:
        if proc.poll() is None:
            if whole_group:
                kill_group(proc.pid, sig)
            else:
                try:
                    os.kill(proc.pid, sig)
                except ProcessLookupError:
                    pass
    deadline = time.monotonic() + timeout
    for proc in children:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for proc in children:
        if proc.pid not in reaped_before:
            kill_group(proc.pid, signal.SIGKILL)  # stragglers in the group, e.g. pool children
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


def stop_child(proc: subprocess.Popen, timeout: float = 5.0, sig: int = signal.SIGTERM) -> None:
    """Ask a child's whole group to stop, wait, then SIGKILL whatever remains."""
    stop_children([proc], timeout, sig)


class WaitTimeout(TimeoutError):
    """wait_until gave up (told apart from a TimeoutError raised by the predicate itself)."""


def wait_until(predicate, timeout: float, interval: float = 0.05, what="condition"):
    """Poll predicate until it returns a truthy value; raise WaitTimeout after timeout.

    what names the condition in the error; a function is called at the timeout, so
    that the message can show the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.1f} s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


MARKING_ENV = ("LABAPP_RUNTIME_DIR", "LABAPP_CLUSTER_DIR")  # set for every child of a cluster


def processes_marked(folder) -> list:
    """Live processes (psutil.Process objects, never this one) that run for what lives in folder:
    an argument, the working folder or a LABAPP_RUNTIME_DIR / LABAPP_CLUSTER_DIR is in it.

    valkey-server rewrites its command line and environment, but runs in its data folder;
    a kernel or JupyterLab runs in its notebook folder.
    """
    import psutil  # only tests and tools look for processes: the children never load it

    folder = str(folder)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                continue
            try:
                places = [proc.cwd()]
            except psutil.Error:  # not ours to read: its other marks may still tell
                places = []
            places += [arg.split("=", 1)[-1] for arg in proc.info["cmdline"] or []]
            if not any(_inside(place, folder) for place in places):
                env = proc.environ()
                places = [env.get(name, "") for name in MARKING_ENV]
            if any(_inside(place, folder) for place in places):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


BROKER_PID_ENV = "LABAPP_BROKER_PID"  # the embedded broker of a cluster, for its API process
OWNER_ENV = "LABAPP_OWNER_PID"  # the process that started a cluster's children (a kernel, `labapp up`)


def owner_pid() -> int | None:
    """The pid of the process that started this one as part of a cluster, if it said so."""
    value = os.environ.get(OWNER_ENV, "")
    return int(value) if value.isdigit() else None


def watch_parent(interval: float = 1.0, parent: int | None = None, on_orphan=None) -> None:
    """Exit this process when its parent dies (portable backup for the death signal).

    parent: the pid the parent must have (default: the parent now). Given by the starter,
    it also catches a parent that died before this process got here. on_orphan runs
    first, e.g. to take down a server that cannot watch for itself.
    """
    expected = parent or os.getppid()

    def _watch() -> None:
        while True:
            if os.getppid() != expected:
                if on_orphan is not None:
                    try:
                        on_orphan()
                    except Exception:
                        pass
                os._exit(0)
            time.sleep(interval)

    threading.Thread(target=_watch, name="labapp-parent-watch", daemon=True).start()


@dataclass
class Child:
    """One process of the cluster."""

    component: str  # "broker", "api", "w1", "w2", ...
    proc: subprocess.Popen
    log: Path
    identity: dict = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None
