"""A private network of Linux network namespaces, for tests and benchmarks (root only).

    with Netlab(subnet="10.231.77.0/24", hosts=("teacher", "s1", "s2")) as net:
        net.popen("teacher", ["python", "-m", "http.server", "--bind", net.address("teacher")])
        net.run("s1", ["curl", f"http://{net.address('teacher')}:8000/"])
        net.cut("s1")                       # s1's link goes down

The first host is the hub: a bridge in its namespace holds the subnet's first address, and
every other host is joined to that bridge by a veth pair (addresses .2, .3, ...). Nothing is
made in the root namespace but one route: before any namespace exists, the subnet is made
``unreachable`` there, so no packet for it can ever leave this machine. Everything that talks
to the subnet runs inside a namespace (``ip netns exec``).

Names carry the run's pid (``labnet-<pid>-teacher``), so parallel runs never clash, and
``cleanup_stale()`` (also called on start) removes what a dead earlier run left behind.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from labapp.engine import processes

PREFIX = "labnet"
ROUTE_PROTO = "77"  # marks our unreachable routes, so that stale ones can be told from others'
STATE_DIR = Path("/run/labnet")  # one file per live net: which subnet it owns (tmpfs, like /run/netns)
NETNS_DIR = Path("/run/netns")
HOST_NAME = re.compile(r"^[a-z][a-z0-9]{0,12}$")  # "p-" + name must fit a 15-character device name
OWNED_NAME = re.compile(rf"^{PREFIX}-(\d+)(?:\.(\d+))?-")
BRIDGE = "br0"
STUDENT_DEV = "eth0"

_sequence = 0
_sequence_lock = threading.Lock()


class NetlabError(RuntimeError):
    """A step of building or using the network failed; the message says which and why."""


def ip_command() -> str | None:
    """The path of iproute2's ``ip``, or None."""
    return shutil.which("ip") or next(
        (p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip") if os.access(p, os.X_OK)), None
    )


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    ip = ip_command()
    if ip is None:
        raise NetlabError("no `ip` command (Debian: apt-get install iproute2)")
    done = subprocess.run([ip, *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise NetlabError(f"`ip {' '.join(args)}` failed: {done.stderr.strip() or done.returncode}")
    return done


def available() -> tuple[bool, str]:
    """(True, "") when this process can make network namespaces, else (False, the reason)."""
    if not sys.platform.startswith("linux"):
        return False, f"network namespaces are Linux only, this is {sys.platform}"
    if os.geteuid() != 0:
        return False, "making network namespaces needs root (this process is not)"
    if ip_command() is None:
        return False, "no `ip` command (iproute2; Debian: apt-get install iproute2)"
    probe = f"{PREFIX}-{os.getpid()}-_probe"  # never a host's name
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return False, f"`ip netns add` fails here: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return True, ""


def _states() -> list[dict]:
    states = []
    for path in STATE_DIR.glob("*.json"):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        state["path"] = str(path)
        states.append(state)
    return states


def _drop_state(path: Path) -> None:
    path.unlink(missing_ok=True)
    try:
        STATE_DIR.rmdir()  # only when no other run has its state there
    except OSError:
        pass


def namespaces() -> list[str]:
    """Names of the network namespaces on this machine (``ip netns list``)."""
    listed = _ip("netns", "list", check=False).stdout.split("\n")
    return [line.split()[0] for line in listed if line.strip()]


def our_routes() -> list[str]:
    """Subnets of the unreachable routes that a Netlab added (live or stale)."""
    shown = _ip("route", "show", "type", "unreachable", "proto", ROUTE_PROTO, check=False).stdout
    return [line.split()[1] for line in shown.splitlines() if line.startswith("unreachable ")]


def pids_in(namespace: str) -> list[int]:
    """Pids of the processes running in a network namespace (``ip netns pids``)."""
    shown = _ip("netns", "pids", namespace, check=False).stdout
    return [int(word) for word in shown.split() if word.isdigit()]


def _kill_everything_in(names: list[str], grace: float) -> None:
    """SIGTERM every process in these namespaces, then SIGKILL what is left after grace."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        pids = [pid for name in names for pid in pids_in(name)]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while pids and time.monotonic() < deadline:
            time.sleep(0.05)
            pids = [pid for name in names for pid in pids_in(name)]  # forks meanwhile too
            if sig == signal.SIGKILL:
                for pid in pids:
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
        if not pids:
            return
    raise NetlabError(f"processes survive SIGKILL in {', '.join(names)}")


def cleanup_stale() -> list[str]:
    """Remove the namespaces, routes and state files of earlier runs whose process is dead; say what."""
    removed = []
    states = _states()
    live_owners = set()
    for state in states:
        if processes.is_same_process(state.get("owner", {"pid": state["pid"]})):
            live_owners.add(state["tag"])
            continue
        for name in state.get("namespaces", []):
            if name in namespaces():
                _kill_everything_in([name], grace=1.0)
                _ip("netns", "del", name, check=False)
                removed.append(f"namespace {name}")
        _drop_state(Path(state["path"]))
    live_states = [s for s in states if s["tag"] in live_owners]
    for name in namespaces():  # a run killed before it wrote its state, or state files lost
        match = OWNED_NAME.match(name)
        if not match or processes.is_alive(int(match.group(1))):
            continue
        if any(name in s.get("namespaces", []) for s in live_states):
            continue
        _kill_everything_in([name], grace=1.0)
        _ip("netns", "del", name, check=False)
        removed.append(f"namespace {name}")
    live_subnets = {s["subnet"] for s in live_states}
    for subnet in our_routes():
        if subnet not in live_subnets:
            _ip("route", "del", "unreachable", subnet, "proto", ROUTE_PROTO, check=False)
            removed.append(f"route unreachable {subnet}")
    return removed


class Netlab:
    """Hosts in network namespaces on a private subnet, joined by veth pairs to the first host's bridge."""

    def __init__(self, subnet: str = "10.231.77.0/24", hosts=("teacher", "s1", "s2"), grace: float = 5.0):
        """Describe the net; nothing is made until start() (or ``with``)."""
        global _sequence
        self.subnet = ipaddress.ip_network(subnet)
        if self.subnet.version != 4 or not self.subnet.is_private:
            raise ValueError(f"the subnet must be a private IPv4 network, got {subnet}")
        self.hosts = tuple(hosts)
        if len(self.hosts) < 2 or len(set(self.hosts)) != len(self.hosts):
            raise ValueError(f"at least two distinct hosts are needed, got {hosts}")
        for host in self.hosts:
            if not HOST_NAME.match(host):
                raise ValueError(
                    f"host names are 1-13 lower-case letters and digits, starting with a letter; got {host!r}"
                )
        if len(self.hosts) > self.subnet.num_addresses - 2:
            raise ValueError(f"{subnet} has room for {self.subnet.num_addresses - 2} hosts")
        with _sequence_lock:
            _sequence += 1
            number = _sequence
        self.tag = f"{os.getpid()}" if number == 1 else f"{os.getpid()}.{number}"
        self.grace = grace
        first = self.subnet.network_address
        self._addresses = {host: str(first + 1 + i) for i, host in enumerate(self.hosts)}
        self.steps: list[tuple[str, str]] = []  # what was made, in order: ("route", subnet), ...
        self.inodes: dict[str, int] = {}  # namespace -> its inode, to find processes left in it
        self._children: list[subprocess.Popen] = []
        self._state_path = STATE_DIR / f"{self.tag}.json"
        self._route_added = False
        self._made: list[str] = []
        self._closed = False
        self._old_sigterm = None

    @property
    def hub(self) -> str:
        """The host whose namespace holds the bridge."""
        return self.hosts[0]

    def namespace(self, host: str) -> str:
        """The network namespace name of host."""
        if host not in self.hosts:
            raise KeyError(f"no host {host!r} in this net (hosts: {', '.join(self.hosts)})")
        return f"{PREFIX}-{self.tag}-{host}"

    def address(self, host: str) -> str:
        """The IPv4 address of host on the subnet."""
        self.namespace(host)
        return self._addresses[host]

    def device(self, host: str) -> str:
        """The device that carries host's link, in host's namespace."""
        self.namespace(host)
        return BRIDGE if host == self.hub else STUDENT_DEV

    def __enter__(self) -> "Netlab":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start(self) -> "Netlab":
        """Make the unreachable route, then the namespaces and their links; undo all on failure."""
        ok, reason = available()
        if not ok:
            raise NetlabError(reason)
        self._catch_sigterm()
        try:
            cleanup_stale()
            self._check_subnet_is_free()
            self._write_state()
            # The hard rule: the subnet is unreachable from the root namespace before any
            # namespace exists, so nothing for it can leave this machine.
            _ip("route", "add", "unreachable", str(self.subnet), "proto", ROUTE_PROTO)
            self._route_added = True
            self.steps.append(("route", str(self.subnet)))
            for host in self.hosts:
                self._make_namespace(host)
            hub = self.namespace(self.hub)
            _ip("-n", hub, "link", "add", BRIDGE, "type", "bridge")
            _ip("-n", hub, "addr", "add", f"{self.address(self.hub)}/{self.subnet.prefixlen}", "dev", BRIDGE)
            _ip("-n", hub, "link", "set", BRIDGE, "up")
            self.steps.append(("bridge", hub))
            for host in self.hosts[1:]:
                self._join(host)
        except BaseException:
            self.close()
            raise
        return self

    def _check_subnet_is_free(self) -> None:
        shown = json.loads(_ip("-j", "route", "show", "table", "all").stdout or "[]")
        for route in shown:
            dst = route.get("dst", "")
            if dst in ("default", "") or ":" in dst:
                continue
            try:
                other = ipaddress.ip_network(dst, strict=False)
            except ValueError:
                continue
            if other.version == 4 and other.overlaps(self.subnet) and other.prefixlen > 0:
                if route.get("type") == "unreachable" and route.get("protocol") == ROUTE_PROTO:
                    raise NetlabError(
                        f"{self.subnet} is already in use by another Netlab "
                        f"(route {route.get('type', '')} {dst}); use another subnet"
                    )
                raise NetlabError(
                    f"{self.subnet} overlaps a route of this machine ({dst} "
                    f"dev {route.get('dev', '?')}): choose a subnet it does not use"
                )

    def _write_state(self) -> None:
        STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        state = {
            "tag": self.tag,
            "pid": os.getpid(),
            "owner": processes.process_identity(os.getpid()),
            "subnet": str(self.subnet),
            "namespaces": [self.namespace(h) for h in self.hosts],
        }
        self._state_path.write_text(json.dumps(state))

    def _make_namespace(self, host: str) -> None:
        name = self.namespace(host)
        _ip("netns", "add", name)
        self._made.append(name)
        self.inodes[name] = os.stat(NETNS_DIR / name).st_ino
        self.steps.append(("netns", name))
        _ip("-n", name, "link", "set", "lo", "up")

    def _join(self, host: str) -> None:
        """A veth pair from host's namespace to the hub's bridge, made directly in the namespaces."""
        hub, name = self.namespace(self.hub), self.namespace(host)
        port = f"p-{host}"
        _ip("-n", hub, "link", "add", port, "type", "veth", "peer", "name", STUDENT_DEV, "netns", name)
        _ip("-n", hub, "link", "set", port, "master", BRIDGE)
        _ip("-n", hub, "link", "set", port, "up")
        _ip("-n", name, "addr", "add", f"{self.address(host)}/{self.subnet.prefixlen}", "dev", STUDENT_DEV)
        _ip("-n", name, "link", "set", STUDENT_DEV, "up")
        self.steps.append(("veth", name))

    def _argv(self, host: str, argv) -> list[str]:
        return [ip_command(), "netns", "exec", self.namespace(host), *map(str, argv)]

    def run(self, host: str, argv, **run_kw) -> subprocess.CompletedProcess:
        """Run a command in host's namespace and wait for it (subprocess.run's keywords)."""
        self._check_open()
        run_kw.setdefault("timeout", 60)
        return subprocess.run(self._argv(host, argv), **run_kw)

    def popen(self, host: str, argv, **popen_kw) -> subprocess.Popen:
        """Start a command in host's namespace, in a session of its own; close() stops it."""
        self._check_open()
        popen_kw.setdefault("start_new_session", True)
        if threading.current_thread() is threading.main_thread() and "preexec_fn" not in popen_kw:
            popen_kw["preexec_fn"] = processes.set_parent_death_signal  # it dies with us, even by SIGKILL
        child = subprocess.Popen(self._argv(host, argv), **popen_kw)
        self._children.append(child)
        return child

    def cut(self, host: str) -> None:
        """Set host's link down: from now on it can reach no other host."""
        self._check_open()
        _ip("-n", self.namespace(host), "link", "set", self.device(host), "down")
        self.steps.append(("cut", self.namespace(host)))

    def _check_open(self) -> None:
        if self._closed or not self._route_added:
            raise NetlabError("this Netlab is not running (start it, or use it in a `with` block)")

    def close(self) -> None:
        """Stop every process in the namespaces, delete them (and so the veths), then the route."""
        if self._closed:
            return
        self._closed = True
        old_sigint = None
        if threading.current_thread() is threading.main_thread():
            old_sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a 2nd Ctrl-C must not stop this
        try:
            for child in self._children:
                if child.poll() is None:
                    try:
                        os.kill(child.pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
            _kill_everything_in(self._made, self.grace)
            for child in self._children:
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            for name in reversed(self._made):
                _ip("netns", "del", name, check=False)
                self.steps.append(("netns-deleted", name))
            if self._route_added:  # last: while any namespace lived, the subnet stayed fenced
                _ip("route", "del", "unreachable", str(self.subnet), "proto", ROUTE_PROTO, check=False)
                self.steps.append(("route-deleted", str(self.subnet)))
            _drop_state(self._state_path)
        finally:
            if old_sigint is not None:
                signal.signal(signal.SIGINT, old_sigint)
            self._restore_sigterm()

    def leftovers(self) -> list[str]:
        """What of this net still exists (namespaces, route, processes in its namespaces): [] after close()."""
        left = [f"namespace {name}" for name in namespaces() if name in self.inodes]
        if str(self.subnet) in our_routes():
            left.append(f"route unreachable {self.subnet}")
        wanted = set(self.inodes.values())
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.stat(entry / "ns" / "net").st_ino in wanted:
                        left.append(f"process {entry.name} {(entry / 'cmdline').read_bytes()[:120]!r}")
                except OSError:
                    continue
        return left

    def _catch_sigterm(self) -> None:
        """On the main thread, turn SIGTERM into SystemExit so that close() still runs."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

            def _exit(signum, frame):
                raise SystemExit(128 + signum)

            self._old_sigterm = signal.signal(signal.SIGTERM, _exit)

    def _restore_sigterm(self) -> None:
        if self._old_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None


class Lines:
    """The lines a child prints, read by a thread (and copied to a log file), waited for by content."""

    def __init__(self, stream, log_path=None):
        """Start reading stream (a text pipe) until it ends."""
        self.lines: list[str] = []
        self.log_path = log_path
        self._ended = False
        self._cursor = 0
        self._changed = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), name="netlab-lines", daemon=True).start()

    def _read(self, stream) -> None:
        log = open(self.log_path, "a") if self.log_path else None
        try:
            for line in stream:
                if log:
                    log.write(line)
                    log.flush()
                with self._changed:
                    self.lines.append(line.rstrip("\n"))
                    self._changed.notify_all()
        finally:
            if log:
                log.close()
            with self._changed:
                self._ended = True
                self._changed.notify_all()

    def _wait(self, find, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = find()
                if found is not None:
                    return found
                if self._ended:
                    raise NetlabError(f"the output ended before {what}; last lines:\n{self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NetlabError(f"no {what} after {timeout:.0f} s; last lines:\n{self.tail()}")
                self._changed.wait(left)

    def wait_for(self, match, timeout: float = 60.0) -> str:
        """The first line (from the start) that starts with match, or for which match(line) is true."""
        test = match if callable(match) else (lambda line: line.startswith(match))

        def find():
            return next((line for line in self.lines if test(line)), None)

        return self._wait(find, timeout, f"line {match!r}" if not callable(match) else "matching line")

    def next_line(self, timeout: float = 60.0) -> str | None:
        """The next line not returned by next_line yet; None once the output has ended."""
        ended = object()

        def find():
            if self._cursor < len(self.lines):
                self._cursor += 1
                return self.lines[self._cursor - 1]
            return ended if self._ended else None

        line = self._wait(find, timeout, "next line")
        return None if line is ended else line

    def tail(self, count: int = 15) -> str:
        """The last lines, for an error message."""
        return "\n".join(self.lines[-count:])
