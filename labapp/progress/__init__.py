"""A class's live progress: each check a joined student runs is reported to the class; the instructor reads it.

Student side. ``labapp join`` notes the class it joined in a private file beside the clusters'
registry (``~/.cache/labapp/clusters/joined/NAME.json``: the join file's URL and the name chosen at
join), and removes it when it leaves. While that ``labapp join`` runs, every ``check_exNN`` sends
one record to the class broker: the name, the exercise, passed or not, the check's one-line message
and the time, never code. It prints one line saying what it sent (``sent()`` lists them all).
``LABAPP_PROGRESS=off`` (in the kernel's environment, or in ``labapp join``'s) sends nothing. On a
machine that joined no class, a check reads one absent folder: no broker connection, nothing sent.

Storage. One list, ``labapp:progress``, of JSON records appended with RPUSH: the class's ``worker``
user may append to it and do nothing else with it (not read, trim, rewrite or delete it; see
``broker.WORKER_GRANTS``). It is deleted when the class ends; the instructor's reader drops
records older than the class, or than its ``result_expires``.

Instructor side. ``ClassProgress`` reads the list with the lab's own password: each student's
latest result per exercise, and the counts per exercise (``labapp progress``, ``ProgressGrid``).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

from labapp.engine import classroom_protocol
from labapp.i18n import _

PROGRESS_ENV = "LABAPP_PROGRESS"
OFF = ("off", "0", "false", "no")
LIST_KEY = classroom_protocol.PROGRESS_KEY
JOINED_FOLDER = "joined"  # beside the registry's cluster files (which are *.json in the folder itself)
MESSAGE_MAX = 600  # characters of a check's message that travel (a check says one sentence, some are long)
SEND_TIMEOUT = 1.0  # seconds: a check waits at most this long for the class broker
TRIM_EVERY = 60.0  # seconds between two trims of old records by a reader
READ_CHUNK = 5000  # records per LRANGE when a reader catches up
CLOCK_SLACK = 60.0  # seconds: a student's clock may be this much behind the class's start

_sent: list[dict] = []  # what this process sent, for sent()
_clients: dict[str, object] = {}  # one connection per class URL, reused by every check


# ------------------------------------------------------------------ the student's side
def enabled(environ=None) -> bool:
    """False when LABAPP_PROGRESS says off: nothing is sent, and `labapp join` notes no class."""
    environ = os.environ if environ is None else environ
    return environ.get(PROGRESS_ENV, "").strip().lower() not in OFF


def joined_folder(settings=None) -> Path:
    """Where `labapp join` notes the class it joined (one private file per joined name)."""
    from labapp.settings import Settings

    return (settings or Settings.from_env()).registry_path / JOINED_FOLDER


def remember_join(url: str, name: str, class_name: str, settings=None) -> Path | None:
    """Note that this process joined a class as name (a private file); None when progress is off."""
    from labapp.engine import processes, runtime_folder

    if not enabled():
        return None
    entry = {
        "url": url,
        "name": name,
        "class": class_name,
        "owner": processes.process_identity(os.getpid()),
        "joined_at": time.time(),
    }
    return runtime_folder.write_private_file(joined_folder(settings) / f"{name}.json", json.dumps(entry))


def forget_join(path: Path | None) -> None:
    """Remove the note remember_join wrote (the machine left the class)."""
    if path is not None:
        Path(path).unlink(missing_ok=True)


def joined(settings=None) -> dict | None:
    """The class this machine is in: the newest note of a `labapp join` that still runs, else None."""
    from labapp.engine import processes

    try:
        folder = joined_folder(settings)
    except ValueError:  # a bad LABAPP_* value: the check says nothing about the class
        return None
    if not folder.is_dir():
        return None
    live = []
    for path in folder.glob("*.json"):
        try:
            entry = json.loads(path.read_text())
            if processes.is_same_process(entry["owner"]):
                live.append(entry)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return max(live, key=lambda entry: entry.get("joined_at", 0), default=None)


def one_line(message: str) -> str:
    """A check's message as it travels: its first line, at most MESSAGE_MAX characters."""
    lines = str(message).strip().splitlines()
    first = lines[0].strip() if lines else ""
    return first if len(first) <= MESSAGE_MAX else first[: MESSAGE_MAX - 1] + "\u2026"


def progress_record(name: str, exercise: str, passed: bool, message: str, at: float | None = None) -> dict:
    """The one record a check sends: who, which exercise, passed or not, its message, when. Never code."""
    return {
        "name": name,
        "exercise": exercise,
        "passed": bool(passed),
        "message": one_line(message),
        "at": round(time.time() if at is None else at, 3),
    }


def _client(url: str):
    import redis

    if url not in _clients:
        _clients[url] = redis.Redis.from_url(
            url, socket_timeout=SEND_TIMEOUT, socket_connect_timeout=SEND_TIMEOUT, decode_responses=True
        )
    return _clients[url]


def send(url: str, entry: dict) -> None:
    """Append one record to the class's progress list (raises redis.RedisError when the class is out of reach)."""
    _client(url).rpush(LIST_KEY, json.dumps(entry))


def report(exercise: str, passed: bool, message: str) -> dict | None:
    """Send a check's outcome to the class this machine joined, and say so in one line; None when not sent.

    Never raises: a class out of reach costs the check one short line, never its verdict.
    """
    if not enabled():
        return None
    where = joined()
    if where is None:
        return None
    entry = progress_record(where["name"], exercise, passed, message)
    try:
        send(where["url"], entry)
    except Exception as exc:  # a broken class must not break the student's check
        _clients.pop(where["url"], None)
        print(_("(not sent to the class: {reason})").format(reason=one_line(str(exc) or type(exc).__name__)))
        return None
    _sent.append(entry)
    said = (
        _(
            "sent to the class as {name}: {exercise} passed, with the check's message; never your code "
            "({setting} to stop)"
        )
        if passed
        else _(
            "sent to the class as {name}: {exercise} not passed yet, with the check's message; never your code "
            "({setting} to stop)"
        )
    )
    print(said.format(name=entry["name"], exercise=exercise, setting=f"{PROGRESS_ENV}=off"))
    return entry


def sent() -> list[dict]:
    """Every record this kernel sent to the class, oldest first (what the instructor can see of you)."""
    return [dict(entry) for entry in _sent]


# ------------------------------------------------------------------ the instructor's side
class ClassProgress:
    """The class's progress read with the lab's own password: each student's latest result per exercise."""

    def __init__(self, client, exercises: list[str] | None = None, since: float | None = None, expires: float = 3600):
        self.client = client
        self.known_exercises = list(exercises or [])
        self.since = since  # the class's start (wall clock): older records belong to an earlier class
        self.expires = expires  # seconds a record is kept (the class's result_expires)
        self.read_count = 0  # records of the list already read
        self.latest: dict[tuple[str, str], dict] = {}  # (student, exercise) -> latest record
        self.attempts: Counter = Counter()  # (student, exercise) -> checks run
        self.last_seen: dict[str, float] = {}  # student -> time of their latest check
        self._trimmed_at = 0.0

    @classmethod
    def of_cluster(cls, cluster, exercises: list[str] | None = None) -> "ClassProgress":
        """The progress of a running classroom cluster (its own broker connection)."""
        from labapp.engine import classroom_protocol

        info = classroom_protocol.read(cluster.redis) or {}
        return cls(cluster.redis, exercises, since=info.get("started"), expires=cluster.settings.result_expires)

    def refresh(self) -> int:
        """Read the records added since the last refresh; return how many were new."""
        self._trim()
        total = self.client.llen(LIST_KEY)
        if total < self.read_count:  # the list was deleted (the class ended) or trimmed by someone else
            self._forget()
        new = 0
        while self.read_count < total:  # in chunks: one huge LRANGE would hold the broker up for every worker
            raw = self.client.lrange(LIST_KEY, self.read_count, min(total, self.read_count + READ_CHUNK) - 1)
            if not raw:
                break
            self.read_count += len(raw)
            new += len(raw)
            for text in raw:
                self._take(text)
        return new

    def _forget(self) -> None:
        self.read_count = 0
        self.latest.clear()
        self.attempts.clear()
        self.last_seen.clear()

    def _trim(self) -> None:
        """Drop, at most once a minute, the records at the head that are older than the class or its expiry."""
        now = time.time()
        if now - self._trimmed_at < TRIM_EVERY:
            return
        self._trimmed_at = now
        cutoff = max(now - self.expires, (self.since or 0) - CLOCK_SLACK)
        old = 0
        for text in self.client.lrange(LIST_KEY, 0, 999):
            entry = _parsed(text)
            if entry is not None and entry["at"] >= cutoff:
                break
            old += 1
        if old:
            self.client.ltrim(LIST_KEY, old, -1)
            self.read_count = max(0, self.read_count - old)

    def _take(self, text: str) -> None:
        entry = _parsed(text)
        if entry is None or (self.since and entry["at"] < self.since - CLOCK_SLACK):
            return
        entry["at"] = min(entry["at"], time.time())  # a clock ahead of ours must not look like the future
        key = (entry["name"], entry["exercise"])
        self.attempts[key] += 1
        if key not in self.latest or entry["at"] >= self.latest[key]["at"]:
            self.latest[key] = entry
        self.last_seen[entry["name"]] = max(self.last_seen.get(entry["name"], 0.0), entry["at"])

    def students(self) -> list[str]:
        """Everyone who reported a check or has workers in the class, sorted by name."""
        from labapp.engine import heartbeat

        joined_names = {_student_of(worker.get("name", "")) for worker in heartbeat.live_workers(self.client)}
        return sorted((joined_names - {None}) | set(self.last_seen))

    def exercises(self) -> list[str]:
        """The exercises to show: the known ones, and any other a student reported."""
        return sorted(set(self.known_exercises) | {exercise for _name, exercise in self.latest})

    def summary(self, exercise: str, students: list[str] | None = None) -> dict:
        """Counts for one exercise: passed, not passed yet, not tried, and the most common failure."""
        students = self.students() if students is None else students
        results = [self.latest.get((name, exercise)) for name in students]
        failures = Counter(entry["message"] for entry in results if entry is not None and not entry["passed"])
        common = failures.most_common(1)
        return {
            "passed": sum(1 for entry in results if entry is not None and entry["passed"]),
            "failed": sum(1 for entry in results if entry is not None and not entry["passed"]),
            "not_tried": sum(1 for entry in results if entry is None),
            "most_common_failure": common[0][0] if common else None,
            "most_common_failure_count": common[0][1] if common else 0,
        }

    def snapshot(self, now: float | None = None) -> dict:
        """Everything as plain data (what `labapp progress --json` prints)."""
        now = time.time() if now is None else now
        students, exercises = self.students(), self.exercises()
        return {
            "students": {
                name: {
                    "last_attempt_seconds_ago": (
                        round(now - self.last_seen[name], 1) if name in self.last_seen else None
                    ),
                    "exercises": {
                        exercise: {
                            "passed": entry["passed"],
                            "message": entry["message"],
                            "at": entry["at"],
                            "attempts": self.attempts[(name, exercise)],
                        }
                        for exercise in exercises
                        if (entry := self.latest.get((name, exercise))) is not None
                    },
                }
                for name in students
            },
            "exercises": {exercise: self.summary(exercise, students) for exercise in exercises},
        }


def _student_of(node: str) -> str | None:
    """The name a joined machine chose (``ana-w1@laptop`` → ana); None for the instructor's own ``w1@host``."""
    worker = node.split("@", 1)[0]
    return worker.rsplit("-", 1)[0] if "-" in worker else None


def _parsed(text: str) -> dict | None:
    """A record from the list, or None for anything that is not one (the list is writable by every student)."""
    try:
        entry = json.loads(text)
        if not (
            isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("exercise"), str)
        ):
            return None
        return {
            "name": entry["name"][:31],
            "exercise": entry["exercise"][:8],
            "passed": entry.get("passed") is True,
            "message": one_line(entry.get("message", "")),
            "at": float(entry.get("at", 0)),
        }
    except (ValueError, TypeError):
        return None


def ago(seconds: float | None) -> str:
    """A duration as a person reads it: 12 s, 3 min, 2 h."""
    if seconds is None:
        return "-"
    if seconds < 90:
        return _("{n} s ago").format(n=int(seconds))
    if seconds < 5400:
        return _("{n} min ago").format(n=int(seconds // 60))
    return _("{n} h ago").format(n=int(seconds // 3600))


def summary_line(exercise: str, counts: dict) -> str:
    """One exercise's counts in a sentence: "ex02: 18 ✓, 9 ✗, 3 not tried; most common failure: '...' × 6"."""
    if not counts["most_common_failure"]:
        return _("{exercise}: {passed} \u2713, {failed} \u2717, {not_tried} not tried").format(
            exercise=exercise, **counts
        )
    return _(
        "{exercise}: {passed} \u2713, {failed} \u2717, {not_tried} not tried; "
        "most common failure: {message} \u00d7 {count}"
    ).format(
        exercise=exercise,
        message=repr(counts["most_common_failure"]),
        count=counts["most_common_failure_count"],
        **{key: counts[key] for key in ("passed", "failed", "not_tried")},
    )


def table(snapshot: dict, width: int = 38) -> str:
    """The snapshot as text: one row per student, ✓/✗ per exercise, the latest message, time since their last check."""
    exercises = list(snapshot["exercises"])
    header = [_("student"), *exercises, _("last check"), _("latest message")]
    rows = []
    for name, student in snapshot["students"].items():
        done = student["exercises"]
        latest = max(done.values(), key=lambda entry: entry["at"], default=None)
        rows.append(
            [
                name,
                *(("\u2713" if done[ex]["passed"] else "\u2717") if ex in done else "\u00b7" for ex in exercises),
                ago(student["last_attempt_seconds_ago"]),
                "" if latest is None else _short(latest["message"], width),
            ]
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    lines.append("")
    lines += [summary_line(exercise, counts) for exercise, counts in snapshot["exercises"].items()]
    return "\n".join(lines)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def default_exercises(root: str | Path | None = None) -> list[str]:
    """The project's exercises (ex01, ex02...), from the notebooks in solutions/ or exercises/ under root."""
    base = Path(root or ".")
    names = set()
    for folder in ("solutions", "exercises"):
        names |= {path.name[:4] for path in (base / folder).glob("ex[0-9][0-9]_*.ipynb")}
    return sorted(names)
